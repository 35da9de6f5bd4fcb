"""Imports: row errors with their lines, a killed import resumed, opening balances as lots,
dry runs that write nothing, and replayed history that sends no webhooks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import clock as app_clock
from app.clock import ManualClock
from app.db import as_optional_datetime, connection, fetch_all, fetch_one
from app.domain.expiry import ExpiryPolicy, LifetimeUnit
from app.domain.imports import FileFormat, ImportKind, RowError
from app.jobs.imports import ImportReport, run_import
from app.services.ledger.verify import verify_ledger
from app.services.programs.service import (
    CreateProgramInput,
    ExpiryInput,
    UpdateProgramSettingsInput,
    create_program,
    update_program_settings,
)
from app.services.webhooks import delivery
from app.services.webhooks.service import CreateEndpointInput, create_endpoint
from tests.jobs.test_import_replay import state

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
COUNTED = ("members", "orders", "ledger_transactions", "point_lots", "outbox_events")


async def program(slug: str, *, pending_days: int = 0, lifetime_days: int | None = 30) -> None:
    await create_program(
        CreateProgramInput(slug=slug, name=slug, currency="EUR", points_per_currency_unit=1)
    )
    await update_program_settings(
        UpdateProgramSettingsInput(
            program_slug=slug,
            pending_days=pending_days,
            expiry=(
                ExpiryInput(policy=ExpiryPolicy.NONE)
                if lifetime_days is None
                else ExpiryInput(
                    policy=ExpiryPolicy.LOT_LIFETIME, lifetime=lifetime_days, unit=LifetimeUnit.DAYS
                )
            ),
        )
    )


async def load(
    slug: str,
    kind: ImportKind,
    text: str,
    *,
    dry_run: bool = False,
    fmt: FileFormat = FileFormat.CSV,
) -> ImportReport:
    return await run_import(
        io.BytesIO(text.encode()), program_slug=slug, kind=kind, file_format=fmt, dry_run=dry_run
    )


async def counts() -> dict[str, int]:
    found = {}
    for table in COUNTED:
        row = await fetch_one(connection(), f"SELECT COUNT(*) AS n FROM {table}", ())
        assert row is not None
        found[table] = int(row["n"])
    return found


@pytest.fixture
def clock() -> Any:
    with app_clock.using(ManualClock(NOW)) as installed:
        yield installed


MEMBERS = """customer_id,email,name,enrolled_at
c1,c1@example.com,One,2025-01-01T00:00:00Z
c2,,Two,2025-01-02T00:00:00Z
"""


def orders_csv(count: int, customers: tuple[str, ...] = ("c1", "c2")) -> str:
    rows = ["order_id,customer_id,placed_at,currency,sku,quantity,unit_price_minor"]
    start = datetime(2025, 2, 1, tzinfo=UTC)
    for n in range(count):
        at = (start + timedelta(days=9 * n)).isoformat()
        rows.append(f"o{n},{customers[n % len(customers)]},{at},EUR,SKU,1,{1000 + 100 * n}")
    return "\n".join(rows) + "\n"


async def test_bad_rows_are_reported_with_their_line_field_and_code_and_the_rest_imported(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await load("shop", ImportKind.MEMBERS, MEMBERS)
    text = (
        "order_id,customer_id,placed_at,currency,sku,quantity,unit_price_minor\n"
        "o1,c1,2025-02-01T10:00:00Z,EUR,SKU,1,1000\n"
        "o2,c1,yesterday,EUR,SKU,1,1000\n"
        "o3,,2025-02-03T10:00:00Z,EUR,SKU,x,1000\n"
        "o4,c2,2025-02-04T10:00:00Z,EUR,SKU,1\n"
        "o5,c2,2025-01-05T10:00:00Z,EUR,SKU,1,1000\n"
        "o6,c2,2025-02-06T10:00:00Z,XXX,SKU,1,1000\n"
        "o7,c2,2024-12-06T10:00:00Z,EUR,SKU,1,1000\n"
        "o8,c2,2025-02-08T10:00:00Z,EUR,SKU,2,1500\n"
    )
    report = await load("shop", ImportKind.ORDERS, text)

    assert [(e.line, e.field, e.code) for e in report.errors] == [
        (3, "placed_at", "INVALID_VALUE"),
        (4, "quantity", "INVALID_VALUE"),
        (4, "customer_id", "REQUIRED"),
        (5, None, "MALFORMED_RECORD"),
        (6, "placed_at", "NOT_IN_TIME_ORDER"),
        (7, "currency", "UNKNOWN_CURRENCY"),
        (8, "placed_at", "NOT_IN_TIME_ORDER"),
    ]
    assert (report.imported, report.skipped, report.failed) == (2, 0, 6)
    assert report.points == 10 + 30
    orders = await fetch_all(connection(), "SELECT order_id FROM orders ORDER BY order_id", ())
    assert [row["order_id"] for row in orders] == ["o1", "o8"]


async def test_an_order_placed_before_its_customer_enrolled_is_refused(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await load("shop", ImportKind.MEMBERS, MEMBERS)
    report = await load(
        "shop",
        ImportKind.ORDERS,
        "order_id,customer_id,placed_at,currency,sku,quantity,unit_price_minor\n"
        "o1,c2,2025-01-01T12:00:00Z,EUR,SKU,1,1000\n",
    )
    assert report.errors == [
        RowError(
            2,
            "placed_at",
            "PLACED_BEFORE_ENROLMENT",
            "placed before customer 'c2' enrolled (2025-01-02T00:00:00+00:00)",
        )
    ]


class KilledError(Exception):
    pass


class DiesAfter(io.BytesIO):
    """A file whose reader is killed after `lines` lines."""

    def __init__(self, content: bytes, lines: int) -> None:
        super().__init__(content)
        self.left = lines

    def readline(self, size: int | None = -1) -> bytes:
        if self.left == 0:
            raise KilledError
        self.left -= 1
        return super().readline(size)


@pytest.mark.parametrize("killed_after", [2, 5, 9])
async def test_a_killed_import_resumes_where_it_stopped_and_ends_as_one_run_would(
    db: None, clock: ManualClock, killed_after: int
) -> None:
    for slug in ("once", "resumed"):
        await program(slug, pending_days=14, lifetime_days=40)
        await load(slug, ImportKind.MEMBERS, MEMBERS)
    text = orders_csv(10)
    await load("once", ImportKind.ORDERS, text)

    with pytest.raises(KilledError):
        await run_import(
            DiesAfter(text.encode(), killed_after),
            program_slug="resumed",
            kind=ImportKind.ORDERS,
            file_format=FileFormat.CSV,
        )
    report = await load("resumed", ImportKind.ORDERS, text)

    done_before = killed_after - 2  # the header, and the line being read when it died
    assert (report.imported, report.skipped, report.failed) == (10 - done_before, done_before, 0)
    assert await state("resumed") == await state("once")
    again = await load("resumed", ImportKind.ORDERS, text)
    assert (again.imported, again.skipped) == (0, 10)
    assert await state("resumed") == await state("once")
    assert await verify_ledger() == []


BALANCES = """customer_id,points,expires_at
c1,250,2026-12-31T23:59:59Z
c1,100,
c2,75,2027-06-30T00:00:00Z
c3,10,
c2,5,2020-01-01T00:00:00Z
"""


async def test_opening_balances_become_one_import_transaction_per_member_with_its_lots(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await load("shop", ImportKind.MEMBERS, MEMBERS)
    report = await load("shop", ImportKind.BALANCES, BALANCES)

    assert [(e.line, e.field, e.code) for e in report.errors] == [
        (5, "customer_id", "MEMBER_NOT_FOUND"),
        (6, "expires_at", "INVALID_VALUE"),
    ]
    assert (report.imported, report.points) == (2, 425)
    transactions = await fetch_all(
        connection(),
        "SELECT m.customer_id, t.id, t.kind, t.points FROM ledger_transactions t"
        " JOIN members m ON m.id = t.member_id ORDER BY m.customer_id",
        (),
    )
    assert [(t["customer_id"], t["kind"], int(t["points"])) for t in transactions] == [
        ("c1", "IMPORT", 350),
        ("c2", "IMPORT", 75),
    ]
    lots = await fetch_all(
        connection(),
        "SELECT transaction_id, points, remaining, expires_at FROM point_lots ORDER BY id",
        (),
    )
    assert [
        (int(lot["transaction_id"]), int(lot["points"]), as_optional_datetime(lot["expires_at"]))
        for lot in lots
    ] == [
        (int(transactions[0]["id"]), 250, datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (int(transactions[0]["id"]), 100, None),
        (int(transactions[1]["id"]), 75, datetime(2027, 6, 30, tzinfo=UTC)),
    ]
    members = await fetch_all(
        connection(),
        "SELECT customer_id, points_available FROM members ORDER BY customer_id",
        (),
    )
    assert [(m["customer_id"], int(m["points_available"])) for m in members] == [
        ("c1", 350),
        ("c2", 75),
    ]
    before = await counts()
    again = await load("shop", ImportKind.BALANCES, BALANCES)
    assert (again.imported, again.skipped) == (0, 2)
    assert await counts() == before
    assert await verify_ledger() == []


async def test_a_dry_run_counts_what_would_happen_and_writes_nothing(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await load("shop", ImportKind.MEMBERS, "customer_id,enrolled_at\nc1,2025-01-01T00:00:00Z\n")
    before = await counts()

    members = await load("shop", ImportKind.MEMBERS, MEMBERS, dry_run=True)
    orders = await load("shop", ImportKind.ORDERS, orders_csv(3, ("c1",)), dry_run=True)
    balances = await load("shop", ImportKind.BALANCES, BALANCES, dry_run=True)

    assert (members.imported, members.skipped, members.failed) == (1, 1, 0)
    assert (orders.imported, orders.failed) == (3, 0)
    assert (balances.imported, balances.points, balances.failed) == (1, 350, 3)
    assert await counts() == before


async def test_json_lines_orders_with_nested_lines_import_like_csv(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await load("shop", ImportKind.MEMBERS, MEMBERS)
    text = (
        '{"order_id": "j1", "customer_id": "c1", "placed_at": "2025-03-01T10:00:00Z",'
        ' "currency": "EUR", "shipping_minor": 500,'
        ' "lines": [{"sku": "A", "quantity": 2, "unit_price_minor": 1000},'
        ' {"sku": "B", "quantity": 1, "unit_price_minor": 550}]}\n'
        "not json\n"
        '{"order_id": "j2", "customer_id": "c2", "placed_at": "2025-03-02T10:00:00Z",'
        ' "currency": "EUR", "lines": []}\n'
    )
    report = await load("shop", ImportKind.ORDERS, text, fmt=FileFormat.JSONL)
    assert [(e.line, e.field, e.code) for e in report.errors] == [
        (2, None, "MALFORMED_RECORD"),
        (3, "lines", "INVALID_VALUE"),
    ]
    assert (report.imported, report.points) == (1, 25)


async def test_an_import_sends_no_webhook_for_the_history_it_replays(
    db: None, clock: ManualClock
) -> None:
    await program("shop")
    await create_endpoint(CreateEndpointInput(program_slug="shop", url="https://hooks.test/in"))
    await load("shop", ImportKind.MEMBERS, MEMBERS)
    await load("shop", ImportKind.ORDERS, orders_csv(4))

    while await delivery.fan_out(NOW):
        pass
    replayed = await fetch_one(
        connection(), "SELECT COUNT(*) AS n FROM outbox_events WHERE replayed = ?", (True,)
    )
    sent = await fetch_all(
        connection(),
        "SELECT e.type FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id",
        (),
    )
    assert replayed is not None and int(replayed["n"]) > 10
    # Only what the program's set-up sent at the endpoint's creation time; nothing imported.
    assert sorted(row["type"] for row in sent) == ["program.created", "program.updated"]


async def test_members_replayed_at_once_end_as_one_order_after_another(
    db: None, clock: ManualClock
) -> None:
    """Seven members' orders interleaved, their lots maturing and expiring between each other's
    orders: replayed member by member (several at once on PostgreSQL) they end as the replay of
    every order and every due job one after the other does."""
    customers = tuple(f"m{(n * n + 3 * n) % 7}" for n in range(40))
    members = "customer_id,enrolled_at\n" + "".join(
        f"m{n},2025-01-01T00:00:00Z\n" for n in range(7)
    )
    text = orders_csv(40, customers)
    for slug, by_member in (("apart", False), ("at-once", True)):
        await program(slug, pending_days=14, lifetime_days=40)
        await load(slug, ImportKind.MEMBERS, members)
        report = await run_import(
            io.BytesIO(text.encode()),
            program_slug=slug,
            kind=ImportKind.ORDERS,
            file_format=FileFormat.CSV,
            member_by_member=by_member,
        )
        assert (report.imported, report.failed) == (40, 0)
    assert await state("at-once") == await state("apart")
    assert await verify_ledger() == []
