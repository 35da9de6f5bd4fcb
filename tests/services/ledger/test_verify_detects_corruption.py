"""`verify_ledger` compares in SQL and returns only the rows that disagree: every kind of
corruption it checks for must still be found, named, and nothing else reported.

A small, consistent history (orders, a grant, a redemption and a cancelled one, store credit
issued, spent and partly refunded) is built through the API once; then each corruption is
made with raw SQL inside a transaction, verified there, and rolled back. The ledger tables
refuse UPDATE (triggers), so those triggers are dropped inside the same transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.db import connection, execute, in_transaction, is_postgres
from app.services.ledger.verify import ledger_problems, verify_ledger
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    record_order,
)
from tests.graphql.store_credit.test_store_credit import issue, refund, spend

CANCEL = """
mutation($input: CancelRedemptionInput!) {
  cancelRedemption(input: $input) { redemption { status } userErrors { code } }
}"""

GUARD_TRIGGERS = (
    ("trg_ledger_entries_append_only", "ledger_entries"),
    ("trg_ledger_transactions_append_only", "ledger_transactions"),
    ("trg_ledger_entries_append_only_update", "ledger_entries"),
    ("trg_ledger_transactions_append_only_update", "ledger_transactions"),
)

# A tampering statement and a fragment every one of its problems' lines must hold some of.
CORRUPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "cached available": (
        ["UPDATE members SET points_available = points_available + 7 WHERE customer_id = 'a'"],
        ["available is"],
    ),
    "cached pending": (
        ["UPDATE members SET points_pending = 3 WHERE customer_id = 'a'"],
        ["pending is 3, the entries say 0"],
    ),
    "cached lifetime earned": (
        ["UPDATE members SET lifetime_earned = lifetime_earned + 1 WHERE customer_id = 'a'"],
        ["lifetime earned is"],
    ),
    "cached lifetime redeemed": (
        ["UPDATE members SET lifetime_redeemed = lifetime_redeemed + 1 WHERE customer_id = 'a'"],
        ["lifetime redeemed is"],
    ),
    "cached debt": (
        ["UPDATE members SET points_debt = 4 WHERE customer_id = 'a'"],
        ["debt is 4, the entries say 0"],
    ),
    "cached store credit": (
        ["UPDATE members SET store_credit_minor = store_credit_minor + 1 WHERE customer_id = 'a'"],
        ["store credit is"],
    ),
    "available lots": (
        [
            "UPDATE point_lots SET remaining = remaining - 1 WHERE id ="
            " (SELECT MIN(id) FROM point_lots WHERE remaining > 0)"
        ],
        ["available point lots hold"],
    ),
    "pending lots": (
        [
            "UPDATE point_lots SET pending_until = created_at WHERE id ="
            " (SELECT MIN(id) FROM point_lots WHERE remaining > 0)"
        ],
        ["available point lots hold", "pending point lots hold"],
    ),
    "unbalanced transaction": (
        [
            "UPDATE ledger_entries SET amount = amount - 1 WHERE id ="
            " (SELECT MIN(id) FROM ledger_entries WHERE account = 'PROGRAM_ISSUED')"
        ],
        ["entries summing to -1", "the ledger as a whole sums to -1", "lifetime earned is"],
    ),
    "transaction points": (
        [
            "UPDATE ledger_transactions SET points = points + 1 WHERE id ="
            " (SELECT transaction_id FROM orders WHERE order_id = 'order-1')"
        ],
        ["but the transaction says", "says it earned"],
    ),
    "store credit in a points kind": (
        [
            "UPDATE ledger_transactions SET kind = 'ADJUST' WHERE id ="
            " (SELECT MIN(transaction_id) FROM store_credit_movements)"
        ],
        ["store-credit entries (a points kind)"],
    ),
    "store credit history": (
        [
            "UPDATE store_credit_movements SET amount_minor = amount_minor + 1 WHERE id ="
            " (SELECT MIN(id) FROM store_credit_movements)"
        ],
        ["its ledger entry says"],
    ),
    "store credit refunds": (
        [
            "UPDATE store_credit_movements SET refunded_minor = refunded_minor - 1"
            " WHERE kind = 'STORE_CREDIT_SPEND'"
        ],
        ["14 refunded, its refunds add up to 15"],
    ),
    "misplaced entry": (
        [
            "UPDATE ledger_entries SET member_id = (SELECT id FROM members WHERE customer_id = 'b')"
            " WHERE id = (SELECT MIN(e.id) FROM ledger_entries e JOIN members m"
            " ON m.id = e.member_id WHERE m.customer_id = 'a' AND e.account = 'PROGRAM_ISSUED')"
        ],
        ["its program or member differs", "lifetime earned is"],
    ),
    "order points": (
        ["UPDATE orders SET points_earned = points_earned + 1 WHERE order_id = 'order-1'"],
        ["order order-1: says it earned"],
    ),
    "redemption points": (
        [
            "UPDATE redemptions SET points_spent = points_spent + 1 WHERE id ="
            " (SELECT MIN(id) FROM redemptions)"
        ],
        [": spent", "its ledger transaction moved"],
    ),
    "reversal of a live redemption": (
        [
            "UPDATE redemptions SET status = 'ISSUED' WHERE reversal_transaction_id IS NOT NULL",
        ],
        ["(ISSUED)", "its reversal moved"],
    ),
    "cancelled without its reversal": (
        [
            "UPDATE redemptions SET status = 'CANCELLED' WHERE id ="
            " (SELECT MIN(id) FROM redemptions WHERE reversal_transaction_id IS NULL)"
        ],
        ["(CANCELLED)", "or is missing"],
    ),
}


@pytest.fixture
async def history(db: None, settings: Settings) -> AsyncIterator[None]:
    async with api_client(settings) as api:
        await build_history(api)
        yield


async def build_history(api: Api) -> None:
    await create_program(api)
    first = await enroll(api, customer_id="a")
    second = await enroll(api, customer_id="b")
    await record_order(api, customer_id="a")
    await record_order(api, customer_id="b", order_id="order-2")
    await grant_points(api, first["id"], 200)
    reward = await create_reward(api, cost_points=50)
    for key in ("kept", "cancelled"):
        data = await api.data(
            REDEEM,
            {"input": {"memberId": first["id"], "rewardId": reward["id"], "idempotencyKey": key}},
        )
        assert data["redeemReward"]["userErrors"] == []
    cancelled = data["redeemReward"]["redemption"]["id"]
    data = await api.data(CANCEL, {"input": {"id": cancelled}})
    assert data["cancelRedemption"]["userErrors"] == []
    assert (await issue(api, first["id"], 500, "fund"))["userErrors"] == []
    spent = await spend(api, first["id"], 100, "spend")
    assert spent["userErrors"] == []
    refunded = await refund(api, spent["movement"]["id"], "refund", amountMinor=15)
    assert refunded["userErrors"] == []
    await issue(api, second["id"], 300, "fund-b")
    assert await verify_ledger() == []


class RollBackError(Exception):
    """Ends a corruption's transaction, undoing it."""


async def tamper(statements: list[str]) -> None:
    conn = connection()
    for trigger, table in GUARD_TRIGGERS:
        drop = f"DROP TRIGGER IF EXISTS {trigger}"
        await execute(conn, f"{drop} ON {table}" if is_postgres(conn) else drop)
    for statement in statements:
        assert await execute(conn, statement) >= 1, statement


async def problems_after(statements: list[str]) -> list[str]:
    found: list[str] = []
    with contextlib.suppress(RollBackError):
        async with in_transaction():
            await tamper(statements)
            found = await verify_ledger()
            raise RollBackError
    return found


async def test_the_history_verifies_and_streams_nothing(history: None) -> None:
    assert [problem async for problem in ledger_problems()] == []


async def test_each_kind_of_corruption_is_found_and_only_it(history: None) -> None:
    missed: dict[str, list[str]] = {}
    for corruption, (statements, fragments) in CORRUPTIONS.items():
        problems = await problems_after(statements)
        named = all(any(fragment in problem for problem in problems) for fragment in fragments)
        only = all(any(fragment in problem for fragment in fragments) for problem in problems)
        if not (problems and named and only):
            missed[corruption] = problems

    assert missed == {}
    assert await verify_ledger() == []
