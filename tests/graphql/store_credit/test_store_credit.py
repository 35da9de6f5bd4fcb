"""Store credit: issue, spend at the checkout, refund a spend; the ledger stays exact."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app.auth.api_keys import KeyKind
from app.db import connection, execute, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.services.ledger.verify import verify_ledger
from app.services.store_credit.service import credit_store_credit
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    everything,
    grant_points,
    member_status,
    member_token,
    post_as,
    program_key,
)
from tests.graphql.helpers import codes, global_id, pk_of, rows, top_level_codes

PAYLOAD = """
    movement { id kind amountMinor currency balanceAfterMinor reason orderId refundedMinor
               spend { id } }
    member { id storeCredit { balanceMinor currency } points { available } }
    replayed
    userErrors { field message code }
"""
ISSUE = f"""
mutation($input: IssueStoreCreditInput!) {{ issueStoreCredit(input: $input) {{ {PAYLOAD} }} }}"""
SPEND = f"""
mutation($input: SpendStoreCreditInput!) {{ spendStoreCredit(input: $input) {{ {PAYLOAD} }} }}"""
REFUND = f"""
mutation($input: RefundStoreCreditInput!) {{ refundStoreCredit(input: $input) {{ {PAYLOAD} }} }}"""
CREDIT = """
query($id: ID!, $first: Int!, $after: String) {
  member(id: $id) {
    storeCredit { balanceMinor currency }
    storeCreditHistory(first: $first, after: $after) {
      edges { cursor node { id kind amountMinor balanceAfterMinor orderId reason } }
      pageInfo { hasNextPage endCursor }
    }
    activity(first: 10) { edges { node { kind } } }
  }
}"""


async def issue(api: Api, member_id: str, amount: int, key: str, **fields: Any) -> dict[str, Any]:
    values = {
        "memberId": member_id,
        "amountMinor": amount,
        "currency": "EUR",
        "reason": "Late delivery",
        "idempotencyKey": key,
        **fields,
    }
    payload: dict[str, Any] = (await api.data(ISSUE, {"input": values}))["issueStoreCredit"]
    return payload


async def spend(
    api: Api, member_id: str, amount: int, key: str, *, api_key: str | None = None, **fields: Any
) -> dict[str, Any]:
    values = {
        "memberId": member_id,
        "amountMinor": amount,
        "currency": "EUR",
        "orderId": "order-1",
        "idempotencyKey": key,
        **fields,
    }
    data = await api.data(SPEND, {"input": values}, key=api_key)
    payload: dict[str, Any] = data["spendStoreCredit"]
    return payload


async def refund(api: Api, spend_id: str, key: str, **fields: Any) -> dict[str, Any]:
    values = {"spendId": spend_id, "idempotencyKey": key, **fields}
    payload: dict[str, Any] = (await api.data(REFUND, {"input": values}))["refundStoreCredit"]
    return payload


async def credit_of(api: Api, member_id: str, first: int = 10, after: str | None = None) -> Any:
    data = await api.data(CREDIT, {"id": member_id, "first": first, "after": after})
    return data["member"]


async def ledger_store_credit(member_pk: int) -> tuple[int, int]:
    """(cached balance, sum of the member's MEMBER_STORE_CREDIT entries)."""
    cached = await rows(f"SELECT store_credit_minor FROM members WHERE id = {member_pk}")
    entries = await rows(
        "SELECT COALESCE(SUM(amount), 0) AS total FROM ledger_entries"
        f" WHERE member_id = {member_pk} AND account = 'MEMBER_STORE_CREDIT'"
    )
    return int(cached[0]["store_credit_minor"]), int(entries[0]["total"])


async def state() -> dict[str, Any]:
    """Everything a request could write, store-credit balances included; the audit log left
    out (an admin key's refused write is logged, by design)."""
    written = await everything()
    written["all_counts"].pop("audit_log")
    balances = await rows("SELECT id, store_credit_minor FROM members ORDER BY id")
    written["store_credit"] = [(int(r["id"]), int(r["store_credit_minor"])) for r in balances]
    return written


async def funded_member(api: Api, amount: int = 5000) -> dict[str, Any]:
    await create_program(api)
    member = await enroll(api)
    await issue(api, member["id"], amount, "fund")
    return member


async def test_issue_spend_and_refund_keep_the_balance_equal_to_its_entries(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 70)

    issued = await issue(api, member["id"], 5000, "goodwill-1")
    spent = await spend(api, member["id"], 1200, "checkout-1", orderId="order-9")
    refunded = await refund(api, spent["movement"]["id"], "refund-1", amountMinor=200)

    assert issued["userErrors"] == [] and spent["userErrors"] == []
    assert refunded["userErrors"] == []
    assert issued["movement"]["kind"] == "ISSUE"
    assert issued["movement"]["reason"] == "Late delivery"
    assert spent["movement"]["amountMinor"] == -1200
    assert spent["movement"]["orderId"] == "order-9"
    assert refunded["movement"]["kind"] == "REFUND"
    assert refunded["movement"]["spend"] == {"id": spent["movement"]["id"]}
    assert refunded["movement"]["orderId"] == "order-9"
    assert refunded["member"]["storeCredit"] == {"balanceMinor": 4000, "currency": "EUR"}
    # Points and store credit are apart: the points balance did not move.
    assert refunded["member"]["points"]["available"] == 70
    assert await ledger_store_credit(pk_of(member["id"])) == (4000, 4000)
    assert await verify_ledger() == []
    # Each store-credit transaction is on store-credit accounts only and sums to zero.
    legs = await rows(
        "SELECT t.id, t.points, e.account, e.amount FROM ledger_transactions t"
        " JOIN ledger_entries e ON e.transaction_id = t.id"
        " WHERE t.kind LIKE 'STORE_CREDIT_%' ORDER BY t.id, e.id"
    )
    assert [(row["account"], int(row["amount"])) for row in legs] == [
        ("MEMBER_STORE_CREDIT", 5000),
        ("PROGRAM_STORE_CREDIT", -5000),
        ("MEMBER_STORE_CREDIT", -1200),
        ("PROGRAM_STORE_CREDIT", 1200),
        ("MEMBER_STORE_CREDIT", 200),
        ("PROGRAM_STORE_CREDIT", -200),
    ]
    assert {int(row["points"]) for row in legs} == {0}


async def test_history_pages_newest_first_and_the_points_feed_leaves_it_out(api: Api) -> None:
    member = await funded_member(api)
    for n in range(3):
        await spend(api, member["id"], 100, f"checkout-{n}", orderId=f"order-{n}")

    first_page = await credit_of(api, member["id"], first=2)
    second_page = await credit_of(
        api, member["id"], first=2, after=first_page["storeCreditHistory"]["pageInfo"]["endCursor"]
    )

    history = first_page["storeCreditHistory"]
    assert [e["node"]["orderId"] for e in history["edges"]] == ["order-2", "order-1"]
    assert [e["node"]["balanceAfterMinor"] for e in history["edges"]] == [4700, 4800]
    assert history["pageInfo"]["hasNextPage"] is True
    rest = second_page["storeCreditHistory"]
    assert [e["node"]["kind"] for e in rest["edges"]] == ["SPEND", "ISSUE"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert first_page["activity"]["edges"] == []


async def test_history_refuses_a_page_over_100(api: Api) -> None:
    member = await funded_member(api)

    body = await api.gql(CREDIT, {"id": member["id"], "first": 101})

    assert top_level_codes(body) == ["INVALID_VALUE"]


async def test_spending_more_than_the_balance_is_refused_and_writes_nothing(api: Api) -> None:
    member = await funded_member(api, 500)
    before = await state()

    payload = await spend(api, member["id"], 501, "checkout-1")

    assert payload["movement"] is None
    assert codes(payload["userErrors"]) == ["INSUFFICIENT_STORE_CREDIT"]
    assert payload["userErrors"][0]["field"] == ["input", "amountMinor"]
    assert await state() == before
    # The same key works once the input is fixed: the refusal claimed nothing.
    assert (await spend(api, member["id"], 500, "checkout-1"))["userErrors"] == []


@pytest.mark.parametrize("mutation", ["issue", "spend"])
async def test_another_currency_is_refused_and_writes_nothing(api: Api, mutation: str) -> None:
    member = await funded_member(api, 500)
    before = await state()

    if mutation == "issue":
        payload = await issue(api, member["id"], 100, "other", currency="USD")
    else:
        payload = await spend(api, member["id"], 100, "other", currency="USD")

    assert codes(payload["userErrors"]) == ["CURRENCY_MISMATCH"]
    assert payload["userErrors"][0]["field"] == ["input", "currency"]
    assert await state() == before


async def test_bad_amounts_and_missing_reason_are_refused_together(api: Api) -> None:
    member = await funded_member(api, 500)
    before = await state()

    issued = await issue(api, member["id"], 0, "bad", reason=" ")
    spent = await spend(api, member["id"], -5, "bad-spend")

    assert sorted(codes(issued["userErrors"])) == ["INVALID_AMOUNT", "REQUIRED"]
    assert codes(spent["userErrors"]) == ["INVALID_AMOUNT"]
    assert await state() == before


async def test_a_replayed_key_returns_the_first_result_and_other_input_is_refused(
    api: Api,
) -> None:
    member = await funded_member(api, 1000)
    first = await spend(api, member["id"], 300, "checkout-1")

    again = await spend(api, member["id"], 300, "checkout-1")
    other = await spend(api, member["id"], 400, "checkout-1")

    assert again["replayed"] is True
    assert again["movement"]["id"] == first["movement"]["id"]
    assert again["member"]["storeCredit"]["balanceMinor"] == 700
    assert codes(other["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    issued_again = await issue(api, member["id"], 1000, "fund")
    assert issued_again["replayed"] is True
    assert (await credit_of(api, member["id"]))["storeCredit"]["balanceMinor"] == 700
    assert await verify_ledger() == []


async def test_refunds_of_a_spend_never_give_back_more_than_it_spent(api: Api) -> None:
    member = await funded_member(api, 1000)
    spent = await spend(api, member["id"], 600, "checkout-1")
    spend_id = spent["movement"]["id"]
    partial = await refund(api, spend_id, "refund-1", amountMinor=250)
    before = await state()

    over = await refund(api, spend_id, "refund-2", amountMinor=351)

    assert codes(over["userErrors"]) == ["REFUND_EXCEEDS_SPEND"]
    assert await state() == before
    rest = await refund(api, spend_id, "refund-3")
    assert rest["movement"]["amountMinor"] == 350
    assert rest["member"]["storeCredit"]["balanceMinor"] == 1000
    replayed = await refund(api, spend_id, "refund-1", amountMinor=250)
    assert replayed["replayed"] is True
    assert replayed["movement"]["id"] == partial["movement"]["id"]
    nothing_left = await refund(api, spend_id, "refund-4")
    assert codes(nothing_left["userErrors"]) == ["REFUND_EXCEEDS_SPEND"]
    spend_row = await rows(
        f"SELECT refunded_minor FROM store_credit_movements WHERE id = {pk_of(spend_id)}"
    )
    assert int(spend_row[0]["refunded_minor"]) == 600
    assert await verify_ledger() == []


async def test_only_spends_can_be_refunded(api: Api) -> None:
    member = await funded_member(api, 1000)
    issued = (await credit_of(api, member["id"]))["storeCreditHistory"]["edges"][0]["node"]

    payload = await refund(api, issued["id"], "refund-1")
    unknown = await refund(api, global_id("StoreCreditMovement", 999), "refund-2")

    assert codes(payload["userErrors"]) == ["STORE_CREDIT_SPEND_NOT_FOUND"]
    assert codes(unknown["userErrors"]) == ["STORE_CREDIT_SPEND_NOT_FOUND"]


async def test_many_concurrent_spends_take_exactly_what_the_balance_allows(api: Api) -> None:
    member = await funded_member(api, 1000)

    responses = await asyncio.gather(
        *(
            api.post(
                SPEND,
                {
                    "input": {
                        "memberId": member["id"],
                        "amountMinor": 30,
                        "currency": "EUR",
                        "orderId": f"order-{n}",
                        "idempotencyKey": f"checkout-{n}",
                    }
                },
            )
            for n in range(60)
        )
    )

    assert {r.status_code for r in responses} == {200}
    payloads = [r.json()["data"]["spendStoreCredit"] for r in responses]
    succeeded = [p for p in payloads if p["movement"] is not None]
    refused = [code for p in payloads for code in codes(p["userErrors"])]
    assert len(succeeded) == 33
    assert refused == ["INSUFFICIENT_STORE_CREDIT"] * 27
    assert sorted(p["movement"]["balanceAfterMinor"] for p in succeeded) == list(
        range(10, 1000, 30)
    )
    assert await ledger_store_credit(pk_of(member["id"])) == (10, 10)
    assert await verify_ledger() == []


async def test_concurrent_refunds_of_one_spend_give_back_at_most_the_spend(api: Api) -> None:
    member = await funded_member(api, 1000)
    spent = await spend(api, member["id"], 100, "checkout-1")

    responses = await asyncio.gather(
        *(
            api.post(
                REFUND,
                {
                    "input": {
                        "spendId": spent["movement"]["id"],
                        "amountMinor": 15,
                        "idempotencyKey": f"refund-{n}",
                    }
                },
            )
            for n in range(20)
        )
    )

    payloads = [r.json()["data"]["refundStoreCredit"] for r in responses]
    assert len([p for p in payloads if p["movement"] is not None]) == 6
    assert [c for p in payloads for c in codes(p["userErrors"])] == ["REFUND_EXCEEDS_SPEND"] * 14
    assert await ledger_store_credit(pk_of(member["id"])) == (990, 990)
    assert await verify_ledger() == []


async def test_verify_ledger_finds_a_tampered_balance(api: Api) -> None:
    member = await funded_member(api, 1000)

    await execute(
        connection(),
        "UPDATE members SET store_credit_minor = 1500 WHERE id = ?",
        (pk_of(member["id"]),),
    )

    problems = await verify_ledger()
    assert len(problems) == 1
    assert "store credit is 1500, the entries say 1000" in problems[0]


async def test_the_database_refuses_a_negative_balance(api: Api) -> None:
    member = await funded_member(api, 1000)

    with pytest.raises(Exception, match="ck_members_store_credit_in_range"):
        await execute(
            connection(),
            "UPDATE members SET store_credit_minor = -1 WHERE id = ?",
            (pk_of(member["id"]),),
        )


async def test_credit_store_credit_runs_in_the_callers_transaction(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    member_pk = pk_of(member["id"])
    program_pk = int((await rows("SELECT id FROM programs"))[0]["id"])

    async with in_transaction() as conn:
        balance = await credit_store_credit(
            conn,
            program_id=program_pk,
            member_id=member_pk,
            amount_minor=750,
            currency="eur",
            reason="Points turned into credit",
            source_ref="redemption:1",
            now=utc_now(),
        )
    with pytest.raises(DomainError) as refused:
        async with in_transaction() as conn:
            await credit_store_credit(
                conn,
                program_id=program_pk,
                member_id=member_pk,
                amount_minor=100,
                currency="USD",
                reason="Points turned into credit",
                source_ref="redemption:2",
                now=utc_now(),
            )

    assert balance == 750
    assert refused.value.code is ErrorCode.CURRENCY_MISMATCH
    history = (await credit_of(api, member["id"]))["storeCreditHistory"]["edges"]
    assert [(e["node"]["kind"], e["node"]["amountMinor"]) for e in history] == [("ISSUE", 750)]
    source = await rows("SELECT source_ref FROM store_credit_movements")
    assert [row["source_ref"] for row in source] == ["redemption:1"]
    assert await verify_ledger() == []


async def test_a_member_reads_its_own_credit_and_cannot_spend_it_with_a_token(api: Api) -> None:
    member = await funded_member(api, 800)
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    token = await member_token(api, "cust-1")

    read = await post_as(
        api,
        "query { me { storeCredit { balanceMinor currency }"
        " storeCreditHistory(first: 5) { edges { node { kind amountMinor } } } } }",
        key=publishable,
        token=token,
    )
    spent = await post_as(
        api,
        SPEND,
        {
            "input": {
                "memberId": member["id"],
                "amountMinor": 100,
                "currency": "EUR",
                "orderId": "order-1",
                "idempotencyKey": "checkout-1",
            }
        },
        key=publishable,
        token=token,
    )

    me = read.json()["data"]["me"]
    assert me["storeCredit"] == {"balanceMinor": 800, "currency": "EUR"}
    assert me["storeCreditHistory"]["edges"] == [{"node": {"kind": "ISSUE", "amountMinor": 800}}]
    assert codes(spent.json()["data"]["spendStoreCredit"]["userErrors"]) == ["FORBIDDEN"]
    assert (await member_status(api, member["id"]))["points"]["available"] == 0
    assert (await credit_of(api, member["id"]))["storeCredit"]["balanceMinor"] == 800


async def test_issuing_needs_an_admin_key_and_spending_a_secret_key(api: Api) -> None:
    member = await funded_member(api, 800)
    secret = await program_key("shop", KeyKind.SECRET)

    issued = await api.data(
        ISSUE,
        {
            "input": {
                "memberId": member["id"],
                "amountMinor": 100,
                "currency": "EUR",
                "reason": "Sorry",
                "idempotencyKey": "goodwill-2",
            }
        },
        key=secret,
    )
    spent = await spend(api, member["id"], 100, "checkout-1", api_key=secret)

    assert codes(issued["issueStoreCredit"]["userErrors"]) == ["FORBIDDEN"]
    assert spent["userErrors"] == []
    assert spent["member"]["storeCredit"]["balanceMinor"] == 700
