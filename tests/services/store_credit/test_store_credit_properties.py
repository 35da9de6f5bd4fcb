"""Property: any sequence of store-credit operations keeps the ledger consistent.

A sibling of test_ledger_properties.py (whose one-database-per-example fixture it reuses).
Hypothesis draws 1-3 members and up to 25 operations, driven through the services:

- issue credit to a member (sometimes in another currency: CURRENCY_MISMATCH);
- spend credit at the checkout: a share of the balance, all of it, or more than it
  (INSUFFICIENT_STORE_CREDIT), sometimes in another currency;
- refund a spend: part of what is left, all of it (no amount), or more than is left
  (REFUND_EXCEEDS_SPEND, also for a spend already refunded in full);
- adjust the member's points, which store credit must never touch;
- retry the last accepted operation with its idempotency key, which must replay it.

A model predicts every refusal with its code and every balance. After every step:
`verify_ledger()` finds nothing, each cached balance equals the model and the sum of the
member's MEMBER_STORE_CREDIT entries, no balance is negative, every spend's refunds add up to its
`refunded_minor` and never pass what it spent, and the points balances are what the adjustments
made them. A refused or replayed operation changes no row count and no balance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.db import connection, fetch_all, fetch_one
from app.domain.errors import DomainError, ErrorCode
from app.services.ledger.adjustments import AdjustPointsInput, adjust_points
from app.services.ledger.verify import verify_ledger
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.programs.service import CreateProgramInput, create_program
from app.services.store_credit.service import (
    IssueStoreCreditInput,
    RefundStoreCreditInput,
    SpendStoreCreditInput,
    StoreCreditResult,
    issue_store_credit,
    refund_store_credit,
    spend_store_credit,
)
from tests.services.ledger.test_ledger_properties import (
    EXAMPLES,
    ExampleDatabases,
    example_databases,
)

__all__ = ["example_databases"]

COUNTED_TABLES = (
    "ledger_transactions",
    "ledger_entries",
    "store_credit_movements",
    "outbox_events",
    "idempotency_records",
)


@dataclass(frozen=True)
class Issue:
    member: int
    amount: int
    other_currency: bool = False


@dataclass(frozen=True)
class Spend:
    member: int
    # Per mille of the balance; over 1000 asks for more than the balance.
    permille: int
    other_currency: bool = False


@dataclass(frozen=True)
class Refund:
    # Which spend (index into the accepted spends, wrapping), and per mille of what is left;
    # None refunds all that is left; over 1000 asks for more.
    spend: int
    permille: int | None


@dataclass(frozen=True)
class Adjust:
    member: int
    points: int


@dataclass(frozen=True)
class Retry:
    pass


Operation = Issue | Spend | Refund | Adjust | Retry


def operations(members: int) -> st.SearchStrategy[Operation]:
    member = st.integers(0, members - 1)
    return st.one_of(
        st.builds(
            Issue, member, st.integers(1, 5000), st.sampled_from([False, False, False, True])
        ),
        st.builds(
            Spend,
            member,
            st.sampled_from([100, 333, 500, 1000, 1001, 1500]),
            st.sampled_from([False, False, False, True]),
        ),
        st.builds(Refund, st.integers(0, 10), st.sampled_from([None, 250, 500, 1000, 1200])),
        st.builds(Adjust, member, st.integers(1, 300)),
        st.just(Retry()),
    )


@dataclass(frozen=True)
class Scenario:
    members: int
    operations: list[Operation]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    members = draw(st.integers(1, 3))
    return Scenario(members, draw(st.lists(operations(members), max_size=25)))


@dataclass
class SpendModel:
    member: int
    movement_id: int
    amount: int
    refunded: int = 0


@dataclass
class Model:
    member_ids: list[int]
    credit: list[int]
    points: list[int]
    spends: list[SpendModel] = field(default_factory=list)
    keys: int = 0
    # The last accepted operation, to retry: (call, movement id it made).
    last: tuple[Callable[[], Awaitable[StoreCreditResult]], int] | None = None

    def key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"


async def row_counts() -> dict[str, int]:
    counts = {}
    for table in COUNTED_TABLES:
        row = await fetch_one(connection(), f"SELECT COUNT(*) AS n FROM {table}")
        assert row is not None
        counts[table] = int(row["n"])
    return counts


async def balances() -> list[tuple[int, int, int]]:
    rows = await fetch_all(
        connection(), "SELECT id, store_credit_minor, points_available FROM members ORDER BY id"
    )
    return [(int(r["id"]), int(r["store_credit_minor"]), int(r["points_available"])) for r in rows]


async def refused(call: Callable[[], Awaitable[Any]], code: ErrorCode) -> None:
    before = (await row_counts(), await balances())
    try:
        await call()
    except DomainError as exc:
        assert exc.code is code, (exc.code, code)
    else:
        raise AssertionError(f"expected {code}")
    assert (await row_counts(), await balances()) == before


async def step(model: Model, operation: Operation) -> None:
    if isinstance(operation, Issue):
        member_id = model.member_ids[operation.member]
        data = IssueStoreCreditInput(
            member_id=member_id,
            amount_minor=operation.amount,
            currency="USD" if operation.other_currency else "eur",
            reason="Goodwill",
            idempotency_key=model.key(),
        )
        if operation.other_currency:
            await refused(lambda: issue_store_credit(data, None), ErrorCode.CURRENCY_MISMATCH)
            return
        result = await issue_store_credit(data, None)
        model.credit[operation.member] += operation.amount
        assert result.movement.balance_after_minor == model.credit[operation.member]
        model.last = (lambda: issue_store_credit(data, None), result.movement.id)
    elif isinstance(operation, Spend):
        member_id = model.member_ids[operation.member]
        balance = model.credit[operation.member]
        amount = max(balance * operation.permille // 1000, 1)
        if operation.permille > 1000:
            amount = balance + 1
        spend_data = SpendStoreCreditInput(
            member_id=member_id,
            amount_minor=amount,
            currency="USD" if operation.other_currency else "EUR",
            order_id=f"order-{model.keys}",
            idempotency_key=model.key(),
        )
        if operation.other_currency:
            await refused(lambda: spend_store_credit(spend_data, None), ErrorCode.CURRENCY_MISMATCH)
            return
        if amount > balance:
            await refused(
                lambda: spend_store_credit(spend_data, None), ErrorCode.INSUFFICIENT_STORE_CREDIT
            )
            return
        result = await spend_store_credit(spend_data, None)
        model.credit[operation.member] -= amount
        assert result.movement.amount_minor == -amount
        model.spends.append(SpendModel(operation.member, result.movement.id, amount))
        model.last = (lambda: spend_store_credit(spend_data, None), result.movement.id)
    elif isinstance(operation, Refund):
        if not model.spends:
            return
        spend = model.spends[operation.spend % len(model.spends)]
        left = spend.amount - spend.refunded
        if operation.permille is None:
            amount = left
        elif operation.permille > 1000:
            amount = left + 1
        else:
            amount = max(left * operation.permille // 1000, 1)
        refund_data = RefundStoreCreditInput(
            spend_id=spend.movement_id,
            idempotency_key=model.key(),
            amount_minor=None if operation.permille is None else amount,
        )
        if amount > left or amount == 0:
            await refused(
                lambda: refund_store_credit(refund_data, None), ErrorCode.REFUND_EXCEEDS_SPEND
            )
            return
        result = await refund_store_credit(refund_data, None)
        assert result.movement.amount_minor == amount
        spend.refunded += amount
        model.credit[spend.member] += amount
        model.last = (lambda: refund_store_credit(refund_data, None), result.movement.id)
    elif isinstance(operation, Adjust):
        await adjust_points(
            AdjustPointsInput(
                member_id=model.member_ids[operation.member],
                points=operation.points,
                reason="Points beside the credit",
                idempotency_key=model.key(),
            ),
            None,
        )
        model.points[operation.member] += operation.points
    elif model.last is not None:
        call, movement_id = model.last
        before = (await row_counts(), await balances())
        replayed = await call()
        assert replayed.replayed and replayed.movement.id == movement_id
        assert (await row_counts(), await balances()) == before


async def check(model: Model) -> None:
    assert await verify_ledger() == []
    expected = [
        (member_id, model.credit[n], model.points[n])
        for n, member_id in enumerate(model.member_ids)
    ]
    assert await balances() == expected
    entries = await fetch_all(
        connection(),
        "SELECT member_id, SUM(amount) AS total FROM ledger_entries"
        " WHERE account = 'MEMBER_STORE_CREDIT' GROUP BY member_id ORDER BY member_id",
    )
    by_member = {int(r["member_id"]): int(r["total"]) for r in entries}
    assert [by_member.get(member_id, 0) for member_id in model.member_ids] == model.credit
    assert all(credit >= 0 for credit in model.credit)
    spends = await fetch_all(
        connection(),
        "SELECT id, amount_minor, refunded_minor FROM store_credit_movements"
        " WHERE kind = 'STORE_CREDIT_SPEND' ORDER BY id",
    )
    assert [(int(r["id"]), -int(r["amount_minor"]), int(r["refunded_minor"])) for r in spends] == [
        (s.movement_id, s.amount, s.refunded) for s in model.spends
    ]


REFUNDS_TO_THE_LIMIT = Scenario(
    members=2,
    operations=[
        Issue(0, 1000),
        Spend(0, 600),  # 600
        Refund(0, 500),  # 300 back
        Retry(),
        Refund(0, 1200),  # 301 of 300 left: refused
        Refund(0, None),  # the last 300
        Refund(0, None),  # nothing left: refused
        Spend(0, 1001),  # over the balance: refused
        Spend(1, 500, other_currency=True),
        Adjust(1, 40),
        Issue(1, 70),
        Spend(1, 1000),
        Retry(),
    ],
)


@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
@example(scenario=REFUNDS_TO_THE_LIMIT)
async def test_any_sequence_of_store_credit_operations_keeps_the_ledger_consistent(
    example_databases: ExampleDatabases, scenario: Scenario
) -> None:
    async with example_databases.fresh():
        await create_program(
            CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
        )
        member_ids = [
            (await enroll_member(EnrollMemberInput("shop", f"customer-{n}"), None)).id
            for n in range(scenario.members)
        ]
        model = Model(
            member_ids=member_ids, credit=[0] * scenario.members, points=[0] * scenario.members
        )
        await check(model)
        for operation in scenario.operations:
            await step(model, operation)
            await check(model)
