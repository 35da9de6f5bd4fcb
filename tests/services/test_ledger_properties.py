"""Property: any sequence of ledger operations leaves the ledger consistent.

Hypothesis draws a program (earning configuration, `pending_days=7`), 2-3 members, a reward
and up to 25 operations, which the test drives through the services (not GraphQL):

- record an order: 1-3 lines of 1-3 units at 0-5000 minor units, a discount of at most the
  merchandise, optional shipping and tax, placed up to 30 days ago in a random UTC offset, the
  total consistent (an order totalling 0 must be refused);
- replay a recorded order: the same input again, which must write nothing;
- refund a recorded order: all that is left, or random lines and quantities (an unknown line,
  or more units than are left, must be refused), optionally as a cancellation;
- adjust a member's points up or down, or spend a share of them (refused when the balance
  would go negative);
- redeem the reward (refused for too few points, or when out of stock);
- mature pending points at now + 0..30 days;
- retry the last accepted refund, adjustment or redemption with its idempotency key, which
  must replay and write nothing.

A small model predicts every refusal with its error code and, for each accepted operation, the
exact points moved (refunds: what the stored breakdown says the units earned, pending points of
the order first, then available ones, the rest unrecovered). After every step the test asserts
that `verify_ledger()` finds nothing, that no balance is negative, and that no order has taken
back more than it earned, all of it (shipping and tax points included) once every unit is
refunded. A refused operation must change nothing: balances, lots, orders, stock and the row
counts of the ledger, event and idempotency tables are compared before and after.

How it runs. pytest-asyncio (1.x) runs an `async def` test decorated with `@given` itself:
each example is a coroutine run to completion on the session's event loop, in the test's
contextvars context. So there is no second event loop, and the TortoiseContext that the
`database_url` fixture entered is the one every example initialises and its teardown closes.

Each example gets its own copy of the test's fresh, migrated database (a file copy on SQLite,
`CREATE DATABASE ... TEMPLATE` on PostgreSQL) instead of sharing the one database of the `db`
fixture with a new program per example. Sharing would leak between examples (maturing and
`verify_ledger` are not per program), and once one example left an inconsistency every later
example would fail at its first check, so Hypothesis would "shrink" a bug to an unrelated,
trivial example. Hence the function-scoped-fixture health check is suppressed on purpose: the
fixture hands out databases, and each example uses a new one.

Cost: about 3 s on SQLite and 15 s on PostgreSQL for 40 examples. A failure shrinks in about
20 s on SQLite and a minute on PostgreSQL; Hypothesis's explain phase is left out, as it would
re-run the test hundreds of times more (minutes) only to annotate the report.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import db as app_db
from app.config import Settings
from app.db import as_datetime, connection, fetch_all, fetch_one, utc_now
from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.rewards import RewardKind
from app.jobs.maturing import mature_due_points
from app.services.members import EnrollMemberInput, enroll_member
from app.services.orders import OrderLineInput, RecordOrderInput, record_order
from app.services.points import AdjustPointsInput, adjust_points
from app.services.programs import CreateProgramInput, create_program
from app.services.refunds import RefundLine, RefundOrderInput, refund_order
from app.services.rewards import (
    CreateRewardInput,
    RedeemRewardInput,
    create_reward,
    redeem_reward,
)
from app.services.verify import verify_ledger
from tests.conftest import postgres_admin_url, with_database

PENDING_DAYS = 7
PENDING_MINUTES = PENDING_DAYS * 24 * 60
MAX_AGE_MINUTES = 30 * 24 * 60
MAX_OPERATIONS = 25
PROGRAM = "shop"
CURRENCY = "EUR"
# Every table a refused operation must leave alone, by row count.
COUNTED_TABLES = (
    "ledger_transactions",
    "ledger_entries",
    "point_lots",
    "orders",
    "redemptions",
    "outbox_events",
    "idempotency_records",
)


# --- One database per example -----------------------------------------------------------------


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ExampleDatabases:
    """Copies of the test's fresh, migrated database, one per Hypothesis example.

    The test's own database is never opened, so it stays a pristine template: on SQLite its
    file is copied, on PostgreSQL it is the TEMPLATE of `CREATE DATABASE` (which needs it to
    have no connection). A PostgreSQL copy is dropped in the background while the next examples
    run: one DROP DATABASE takes about half a second, mostly waiting for a checkpoint that
    concurrent drops share.
    """

    def __init__(self, backend: str, database_url: str, tmp_path: Path) -> None:
        self.backend = backend
        self.database_url = database_url
        self.tmp_path = tmp_path
        self._counter = itertools.count(1)
        self._admin: Any = None  # an asyncpg pool on the PostgreSQL admin database
        self._created: set[str] = set()
        self._drops: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"ExampleDatabases(backend={self.backend!r})"

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[None]:
        """Tortoise initialised on a new copy; closed and the copy removed afterwards."""
        url = await self._copy()
        try:
            await app_db.init_db(Settings(database_url=url))
            yield
        finally:
            try:
                await app_db.close_db()
            finally:
                self._discard(url)

    async def _copy(self) -> str:
        number = next(self._counter)
        if self.backend == "sqlite":
            path = self.tmp_path / f"example_{number}.sqlite3"
            shutil.copyfile(self.database_url.removeprefix("sqlite://"), path)
            return f"sqlite://{path}"
        template = urlsplit(self.database_url).path.lstrip("/")
        name = f"{template}_ex{number}"
        if self._admin is None:
            self._admin = await asyncpg.create_pool(postgres_admin_url(), min_size=1, max_size=4)
        await self._admin.execute(
            f"CREATE DATABASE {_quote_ident(name)} TEMPLATE {_quote_ident(template)}"
        )
        self._created.add(name)
        return with_database(self.database_url, name)

    def _discard(self, url: str) -> None:
        if self.backend == "sqlite":
            path = url.removeprefix("sqlite://")
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(path + suffix).unlink(missing_ok=True)
            return
        task = asyncio.create_task(self._drop(urlsplit(url).path.lstrip("/")))
        self._drops.add(task)
        task.add_done_callback(self._drops.discard)

    async def _drop(self, name: str) -> None:
        # FORCE: the copy is ours, and Tortoise's connections to it are closed already.
        await self._admin.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        self._created.discard(name)

    async def close(self) -> None:
        """Wait for the background drops; drop again whatever they failed to drop."""
        try:
            await asyncio.gather(*self._drops, return_exceptions=True)
            await asyncio.gather(*(self._drop(name) for name in sorted(self._created)))
        finally:
            if self._admin is not None:
                await self._admin.close()
                self._admin = None


@pytest.fixture
async def example_databases(
    backend: str, database_url: str, tmp_path: Path
) -> AsyncIterator[ExampleDatabases]:
    databases = ExampleDatabases(backend, database_url, tmp_path)
    try:
        yield databases
    finally:
        await databases.close()


# --- Operations and how Hypothesis draws them --------------------------------------------------


@dataclass(frozen=True)
class RecordOrder:
    member: int
    lines: tuple[tuple[int, int], ...]  # (quantity, unit price in minor units)
    discount_minor: int
    shipping_minor: int
    tax_minor: int
    age_minutes: int  # placed this long before now
    utc_offset_minutes: int  # the time zone placedAt is written in


@dataclass(frozen=True)
class ReplayOrder:
    order: int  # index into the orders recorded so far, modulo their number


@dataclass(frozen=True)
class RefundOrder:
    order: int  # index into the orders recorded so far, modulo their number
    lines: tuple[tuple[int, int], ...] | None  # (line index, quantity); None: all that is left
    cancel: bool


@dataclass(frozen=True)
class AdjustPoints:
    member: int
    points: int


@dataclass(frozen=True)
class Spend:
    """A negative adjustment of `percent` of the member's available points (at least 1)."""

    member: int
    percent: int


@dataclass(frozen=True)
class Redeem:
    member: int


@dataclass(frozen=True)
class Mature:
    minutes_ahead: int


@dataclass(frozen=True)
class Retry:
    """Send the last accepted refund, adjustment or redemption again, with its key."""


Operation = RecordOrder | ReplayOrder | RefundOrder | AdjustPoints | Spend | Redeem | Mature | Retry


@dataclass(frozen=True)
class Scenario:
    points_per_currency_unit: int
    rounding: Rounding
    count_shipping: bool
    count_tax: bool
    minimum_order_minor: int
    members: int
    reward_cost: int
    reward_stock: int | None
    operations: list[Operation]


optional_amounts = st.one_of(st.just(0), st.integers(1, 2000))


@st.composite
def record_orders(draw: st.DrawFn, members: int) -> RecordOrder:
    lines = draw(
        st.lists(st.tuples(st.integers(1, 3), st.integers(0, 5000)), min_size=1, max_size=3)
    )
    merchandise = sum(quantity * price for quantity, price in lines)
    return RecordOrder(
        member=draw(st.integers(0, members - 1)),
        lines=tuple(lines),
        discount_minor=draw(st.one_of(st.just(0), st.integers(0, merchandise))),
        shipping_minor=draw(optional_amounts),
        tax_minor=draw(optional_amounts),
        # Half still pending when recorded, half not (exactly 7 days old is not pending).
        age_minutes=draw(
            st.one_of(
                st.integers(0, PENDING_MINUTES - 1),
                st.integers(PENDING_MINUTES, MAX_AGE_MINUTES),
            )
        ),
        utc_offset_minutes=draw(st.integers(-12 * 60, 14 * 60)),
    )


def operations(members: int) -> st.SearchStrategy[Operation]:
    member = st.integers(0, members - 1)
    order = st.integers(0, MAX_OPERATIONS)
    refund_lines = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=3)
    spending = st.builds(Spend, member=member, percent=st.integers(1, 100))
    refunds = st.builds(
        RefundOrder,
        order=order,
        lines=st.one_of(st.none(), refund_lines.map(tuple)),
        cancel=st.booleans(),
    )
    # Orders and refunds are drawn more often than the rest: they are what the other
    # operations work on, and where points are taken back.
    return st.one_of(
        record_orders(members),
        record_orders(members),
        record_orders(members),
        refunds,
        refunds,
        refunds,
        st.builds(
            AdjustPoints,
            member=member,
            points=st.one_of(st.integers(1, 3000), st.integers(-3000, -1)),
        ),
        spending,
        spending,
        spending,
        st.builds(Redeem, member=member),
        st.builds(Mature, minutes_ahead=st.integers(0, MAX_AGE_MINUTES)),
        st.builds(ReplayOrder, order=order),
        st.just(Retry()),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    members = draw(st.integers(2, 3))
    # Drawn first: `st.lists` alone averages about 6 elements, too few for an order to earn,
    # be spent and then be refunded. Shrinking still shortens the list through `length`.
    length = draw(st.integers(1, MAX_OPERATIONS))
    return Scenario(
        points_per_currency_unit=draw(st.integers(1, 10)),
        rounding=draw(st.sampled_from(Rounding)),
        count_shipping=draw(st.booleans()),
        count_tax=draw(st.booleans()),
        minimum_order_minor=draw(st.one_of(st.just(0), st.integers(1, 5000))),
        members=members,
        reward_cost=draw(st.integers(1, 1500)),
        reward_stock=draw(st.one_of(st.none(), st.integers(0, 3))),
        operations=draw(st.lists(operations(members), min_size=length, max_size=length)),
    )


# --- Reading the database ---------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    lifetime_earned: int
    lifetime_redeemed: int


async def balance(member_id: int) -> Balance:
    row = await fetch_one(
        connection(),
        "SELECT points_available, points_pending, lifetime_earned, lifetime_redeemed"
        " FROM members WHERE id = ?",
        (member_id,),
    )
    assert row is not None
    return Balance(
        available=int(row["points_available"]),
        pending=int(row["points_pending"]),
        lifetime_earned=int(row["lifetime_earned"]),
        lifetime_redeemed=int(row["lifetime_redeemed"]),
    )


def decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def snapshot() -> dict[str, Any]:
    """What a refused operation must not change."""
    conn = connection()
    counts = {}
    for table in COUNTED_TABLES:
        row = await fetch_one(conn, f"SELECT COUNT(*) AS n FROM {table}")
        assert row is not None
        counts[table] = int(row["n"])
    return {
        "counts": counts,
        "members": await fetch_all(
            conn,
            "SELECT id, points_available, points_pending, lifetime_earned, lifetime_redeemed"
            " FROM members ORDER BY id",
        ),
        "lots": await fetch_all(
            conn, "SELECT id, remaining, pending_until FROM point_lots ORDER BY id"
        ),
        "orders": [
            {**row, "refunded_quantities": decoded(row["refunded_quantities"])}
            for row in await fetch_all(
                conn,
                "SELECT id, status, points_refunded, points_unrecovered, refunded_quantities"
                " FROM orders ORDER BY id",
            )
        ],
        "rewards": await fetch_all(conn, "SELECT id, stock FROM rewards ORDER BY id"),
    }


async def pending_lots() -> list[dict[str, Any]]:
    return await fetch_all(
        connection(),
        "SELECT id, member_id, remaining, pending_until FROM point_lots"
        " WHERE pending_until IS NOT NULL ORDER BY id",
    )


async def pending_lot_remaining(transaction_id: int | None) -> int:
    if transaction_id is None:
        return 0
    row = await fetch_one(
        connection(),
        "SELECT remaining FROM point_lots WHERE transaction_id = ? AND pending_until IS NOT NULL",
        (transaction_id,),
    )
    return 0 if row is None else int(row["remaining"])


class Replayable(Protocol):
    """What refunds, adjustments and redemptions return: whether the key replayed."""

    @property
    def replayed(self) -> bool: ...


# --- The model and the run --------------------------------------------------------------------


@dataclass
class OrderModel:
    order_id: str
    member_id: int
    data: RecordOrderInput
    transaction_id: int | None
    earning: dict[str, Any]
    quantities: list[int]
    refunded: list[int]
    taken_back: int = 0  # points refunded + unrecovered so far

    @property
    def points(self) -> int:
        return int(self.earning["points"])

    @property
    def fully_refunded(self) -> bool:
        return self.refunded == self.quantities

    def line_points(self, index: int) -> int:
        return int(self.earning["lines"][index]["points"])

    def component_points(self) -> int:
        return sum(int(component["points"]) for component in self.earning["orderComponents"])


def refund_share(points: int, quantity: int, before: int, refunding: int) -> int:
    """Rounded down at each cumulative step (app/domain/earning.py, stacking policy 8)."""
    return points * (before + refunding) // quantity - points * before // quantity


@dataclass
class LedgerRun:
    scenario: Scenario
    member_ids: list[int]
    reward_id: int
    reward_stock: int | None
    orders: list[OrderModel] = field(default_factory=list)
    keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # The last accepted request that has an idempotency key, to send again (`Retry`).
    last_keyed: Callable[[], Awaitable[Replayable]] | None = None

    def key(self, operation: str) -> str:
        return f"{operation}-{next(self.keys)}"

    async def refused(self, code: ErrorCode, call: Callable[[], Awaitable[object]]) -> None:
        """`call` must raise a DomainError with `code` and change nothing."""
        before = await snapshot()
        with pytest.raises(DomainError) as refusal:
            await call()
        assert refusal.value.code == code, refusal.value.message
        event(f"refused: {code}")
        assert await snapshot() == before

    async def step(self, operation: Operation) -> None:
        event(type(operation).__name__)
        match operation:
            case RecordOrder():
                await self.record(operation)
            case ReplayOrder():
                await self.replay(operation)
            case RefundOrder():
                await self.refund(operation)
            case AdjustPoints():
                await self.adjust(operation.member, operation.points)
            case Spend():
                available = (await balance(self.member_ids[operation.member])).available
                await self.adjust(
                    operation.member, -max(1, -(-available * operation.percent // 100))
                )
            case Redeem():
                await self.redeem(operation)
            case Mature():
                await self.mature(operation)
            case Retry():
                await self.retry()

    async def record(self, operation: RecordOrder) -> None:
        member_id = self.member_ids[operation.member]
        lines = [
            OrderLineInput(sku=f"sku-{index}", quantity=quantity, unit_price_minor=price)
            for index, (quantity, price) in enumerate(operation.lines)
        ]
        total = (
            sum(line.quantity * line.unit_price_minor for line in lines)
            + operation.shipping_minor
            + operation.tax_minor
            - operation.discount_minor
        )
        zone = timezone(timedelta(minutes=operation.utc_offset_minutes))
        placed_at = (utc_now() - timedelta(minutes=operation.age_minutes)).astimezone(zone)
        data = RecordOrderInput(
            program_slug=PROGRAM,
            customer_id=f"customer-{operation.member}",
            order_id=f"order-{len(self.orders) + 1}",
            currency=CURRENCY,
            total_minor=total,
            lines=lines,
            placed_at=placed_at,
            shipping_minor=operation.shipping_minor,
            tax_minor=operation.tax_minor,
            discount_minor=operation.discount_minor,
        )
        if total == 0:
            await self.refused(ErrorCode.INVALID_AMOUNT, lambda: record_order(data, None))
            return
        before = await balance(member_id)
        recorded = await record_order(data, None)
        order = recorded.order
        assert not recorded.already_recorded
        assert order.earning is not None
        points = int(order.earning["points"])
        assert order.points_earned == points
        assert (order.transaction_id is None) == (points == 0)
        assert [line["quantity"] for line in order.earning["lines"]] == [
            line.quantity for line in lines
        ]
        pending = points if operation.age_minutes < PENDING_MINUTES else 0
        if pending:
            lot = await fetch_one(
                connection(),
                "SELECT pending_until FROM point_lots WHERE transaction_id = ?",
                (order.transaction_id,),
            )
            assert lot is not None
            assert as_datetime(lot["pending_until"]) == placed_at + timedelta(days=PENDING_DAYS)
        event("order earns nothing" if not points else "order pending" if pending else "order")
        after = await balance(member_id)
        assert after == Balance(
            available=before.available + points - pending,
            pending=before.pending + pending,
            lifetime_earned=before.lifetime_earned + points,
            lifetime_redeemed=before.lifetime_redeemed,
        )
        self.orders.append(
            OrderModel(
                order_id=data.order_id,
                member_id=member_id,
                data=data,
                transaction_id=order.transaction_id,
                earning=order.earning,
                quantities=[line.quantity for line in lines],
                refunded=[0] * len(lines),
            )
        )

    async def replay(self, operation: ReplayOrder) -> None:
        if not self.orders:
            return
        model = self.orders[operation.order % len(self.orders)]
        before = await snapshot()
        replayed = await record_order(model.data, None)
        assert replayed.already_recorded
        assert replayed.order.order_id == model.order_id
        assert replayed.order.points_earned == model.points
        assert await snapshot() == before

    async def refund(self, operation: RefundOrder) -> None:
        lines = (
            None
            if operation.lines is None
            else [RefundLine(line_index=index, quantity=q) for index, q in operation.lines]
        )
        if not self.orders:
            data = RefundOrderInput(
                program_slug=PROGRAM,
                order_id="never-recorded",
                idempotency_key=self.key("refund"),
                lines=lines,
                cancel=operation.cancel,
            )
            await self.refused(ErrorCode.ORDER_NOT_FOUND, lambda: refund_order(data, None))
            return
        model = self.orders[operation.order % len(self.orders)]
        data = RefundOrderInput(
            program_slug=PROGRAM,
            order_id=model.order_id,
            idempotency_key=self.key("refund"),
            lines=lines,
            cancel=operation.cancel,
        )
        left = [q - r for q, r in zip(model.quantities, model.refunded, strict=True)]
        units: dict[int, int] = {}
        if operation.lines is None:
            units = {index: n for index, n in enumerate(left) if n > 0}
            if not units:
                await self.refused(
                    ErrorCode.ORDER_ALREADY_REFUNDED, lambda: refund_order(data, None)
                )
                return
        else:
            for index, quantity in operation.lines:
                units[index] = units.get(index, 0) + quantity
            if any(index >= len(left) for index in units):
                await self.refused(ErrorCode.LINE_NOT_IN_ORDER, lambda: refund_order(data, None))
                return
            if any(quantity > left[index] for index, quantity in units.items()):
                await self.refused(
                    ErrorCode.REFUND_EXCEEDS_QUANTITY, lambda: refund_order(data, None)
                )
                return

        back = 0
        refunded = list(model.refunded)
        for index, quantity in units.items():
            back += refund_share(
                model.line_points(index), model.quantities[index], refunded[index], quantity
            )
            refunded[index] += quantity
        fully = refunded == model.quantities
        if fully and any(units.values()):
            back += model.component_points()
        before = await balance(model.member_id)
        from_pending = min(back, await pending_lot_remaining(model.transaction_id))
        from_available = min(back - from_pending, before.available)
        unrecovered = back - from_pending - from_available

        result = await refund_order(data, None)
        assert not result.replayed
        self.last_keyed = lambda: refund_order(data, None)
        assert (result.points_reversed, result.points_unrecovered) == (
            back - unrecovered,
            unrecovered,
        ), f"expected {back} back: {from_pending} pending, {from_available} available"
        if operation.cancel:
            assert result.order.status == "CANCELLED"
        else:
            assert result.order.status == ("REFUNDED" if fully else "PARTIALLY_REFUNDED")
        after = await balance(model.member_id)
        assert after == Balance(
            available=before.available - from_available,
            pending=before.pending - from_pending,
            lifetime_earned=before.lifetime_earned - from_pending - from_available,
            lifetime_redeemed=before.lifetime_redeemed,
        )
        if unrecovered:
            event("refund leaves points unrecovered")
        if fully:
            event("order fully refunded")
        model.refunded = refunded
        model.taken_back += back

    async def adjust(self, member: int, points: int) -> None:
        member_id = self.member_ids[member]
        data = AdjustPointsInput(
            member_id=member_id,
            points=points,
            reason="property test",
            idempotency_key=self.key("adjust"),
        )
        before = await balance(member_id)
        if before.available + points < 0:
            await self.refused(
                ErrorCode.BALANCE_WOULD_BE_NEGATIVE, lambda: adjust_points(data, None)
            )
            return
        adjusted = await adjust_points(data, None)
        event("adjusted up" if points > 0 else "adjusted down")
        assert not adjusted.replayed
        self.last_keyed = lambda: adjust_points(data, None)
        assert await balance(member_id) == Balance(
            available=before.available + points,
            pending=before.pending,
            lifetime_earned=before.lifetime_earned,
            lifetime_redeemed=before.lifetime_redeemed,
        )

    async def redeem(self, operation: Redeem) -> None:
        member_id = self.member_ids[operation.member]
        data = RedeemRewardInput(
            member_id=member_id, reward_id=self.reward_id, idempotency_key=self.key("redeem")
        )
        cost = self.scenario.reward_cost
        before = await balance(member_id)
        if before.available < cost:
            await self.refused(ErrorCode.INSUFFICIENT_POINTS, lambda: redeem_reward(data, None))
            return
        if self.reward_stock == 0:
            await self.refused(ErrorCode.REWARD_OUT_OF_STOCK, lambda: redeem_reward(data, None))
            return
        redeemed = await redeem_reward(data, None)
        assert not redeemed.replayed
        self.last_keyed = lambda: redeem_reward(data, None)
        event("redeemed")
        assert redeemed.redemption.points_spent == cost
        if self.reward_stock is not None:
            self.reward_stock -= 1
        assert await balance(member_id) == Balance(
            available=before.available - cost,
            pending=before.pending,
            lifetime_earned=before.lifetime_earned,
            lifetime_redeemed=before.lifetime_redeemed + cost,
        )
        stock = await fetch_one(
            connection(), "SELECT stock FROM rewards WHERE id = ?", (self.reward_id,)
        )
        assert stock is not None
        assert stock["stock"] == self.reward_stock

    async def mature(self, operation: Mature) -> None:
        at = utc_now() + timedelta(minutes=operation.minutes_ahead)
        lots = await pending_lots()
        # Which lots are due is decided here on the instants, not with the job's SQL
        # comparison, so a time stored in a format that compares wrongly would show.
        due = [lot for lot in lots if as_datetime(lot["pending_until"]) <= at]
        before = {member_id: await balance(member_id) for member_id in self.member_ids}
        matured = await mature_due_points(at)
        event("maturing matures lots" if due else "maturing finds nothing due")
        assert matured == sum(1 for lot in due if int(lot["remaining"]) > 0)
        assert [lot["id"] for lot in await pending_lots()] == [
            lot["id"] for lot in lots if lot not in due
        ]
        for member_id, was in before.items():
            points = sum(int(lot["remaining"]) for lot in due if lot["member_id"] == member_id)
            assert await balance(member_id) == Balance(
                available=was.available + points,
                pending=was.pending - points,
                lifetime_earned=was.lifetime_earned,
                lifetime_redeemed=was.lifetime_redeemed,
            )

    async def retry(self) -> None:
        if self.last_keyed is None:
            return
        before = await snapshot()
        again = await self.last_keyed()
        assert again.replayed
        assert await snapshot() == before

    async def check_invariants(self) -> None:
        assert await verify_ledger() == []
        members = await fetch_all(
            connection(), "SELECT id, points_available, points_pending FROM members"
        )
        for member in members:
            assert int(member["points_available"]) >= 0, member
            assert int(member["points_pending"]) >= 0, member
        rows = await fetch_all(
            connection(),
            "SELECT order_id, points_earned, earning, refunded_quantities, points_refunded,"
            " points_unrecovered FROM orders",
        )
        assert len(rows) == len(self.orders)
        models = {model.order_id: model for model in self.orders}
        for row in rows:
            model = models[row["order_id"]]
            earning = decoded(row["earning"])
            earned = int(earning["points"])
            assert int(row["points_earned"]) == earned == model.points
            refunded, unrecovered = int(row["points_refunded"]), int(row["points_unrecovered"])
            assert refunded >= 0
            assert unrecovered >= 0
            assert refunded + unrecovered <= earned, row
            assert refunded + unrecovered == model.taken_back, row
            if model.fully_refunded:
                assert refunded + unrecovered == earned, row
            quantities = {
                int(index): int(quantity)
                for index, quantity in decoded(row["refunded_quantities"]).items()
                if quantity
            }
            assert quantities == {
                index: quantity for index, quantity in enumerate(model.refunded) if quantity
            }


async def start(scenario: Scenario) -> LedgerRun:
    await create_program(
        CreateProgramInput(
            slug=PROGRAM,
            name="Shop",
            currency=CURRENCY,
            points_per_currency_unit=scenario.points_per_currency_unit,
            rounding=scenario.rounding,
            count_shipping=scenario.count_shipping,
            count_tax=scenario.count_tax,
            minimum_order_minor=scenario.minimum_order_minor,
            pending_days=PENDING_DAYS,
        )
    )
    member_ids = [
        (await enroll_member(EnrollMemberInput(PROGRAM, f"customer-{n}"), None)).id
        for n in range(scenario.members)
    ]
    reward = await create_reward(
        CreateRewardInput(
            program_slug=PROGRAM,
            name="Voucher",
            kind=RewardKind.FIXED_DISCOUNT,
            cost_points=scenario.reward_cost,
            value_minor=500,
            stock=scenario.reward_stock,
        )
    )
    return LedgerRun(
        scenario=scenario,
        member_ids=member_ids,
        reward_id=reward.id,
        reward_stock=scenario.reward_stock,
    )


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_any_sequence_of_operations_keeps_the_ledger_consistent(
    example_databases: ExampleDatabases, scenario: Scenario
) -> None:
    async with example_databases.fresh():
        run = await start(scenario)
        await run.check_invariants()
        for operation in scenario.operations:
            await run.step(operation)
            await run.check_invariants()
