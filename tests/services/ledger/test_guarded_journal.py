"""A ledger movement's balance guard and its journal writes (with a credit's lot and an order's
link to its transaction) are one hop on SQLite and one statement on PostgreSQL
(app/services/ledger/journal.py): when the guard refuses, nothing of the journal is written,
and when it passes, everything is."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from app.db import execute, fetch_all, from_json, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_BALANCE
from app.services.core import outbox
from app.services.ledger.service import Movement, post_movement
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

WRITTEN = (
    "SELECT (SELECT COUNT(*) FROM ledger_transactions) AS transactions,"
    " (SELECT COUNT(*) FROM ledger_entries) AS entries,"
    " (SELECT COALESCE(SUM(value), 0) FROM analytics_days) AS rollup_total,"
    " (SELECT points_available FROM members WHERE id = ?) AS available"
)


async def _member() -> tuple[int, int]:
    program = await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    member = await enroll_member(EnrollMemberInput("shop", "customer-1"), None)
    return program.id, member.id


def _adjustment(program_id: int, member_id: int, points: int) -> Movement:
    return Movement(
        program_id=program_id,
        member_id=member_id,
        kind=TransactionKind.ADJUST,
        points=points,
        counter_account=Account.PROGRAM_ADJUSTED,
        description="test adjustment",
    )


async def _written(member_id: int) -> dict[str, Any]:
    async with in_transaction() as conn:
        rows = await fetch_all(conn, WRITTEN, (member_id,))
    return {key: int(value) for key, value in rows[0].items()}


async def test_a_refused_debit_writes_no_journal_row_and_no_rollup(db: None, backend: str) -> None:
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        posted = await post_movement(conn, _adjustment(program_id, member_id, 10), utc_now())
    assert posted.available_after == 10
    before = await _written(member_id)
    assert before["transactions"] == 1
    assert before["entries"] == 2
    assert before["available"] == 10

    # A savepoint of its own, so the outer transaction goes on and commits after the refusal:
    # whatever the refused movement left behind would be committed with it.
    async with in_transaction() as conn:
        with pytest.raises(DomainError) as refusal:
            async with in_transaction() as nested:
                await post_movement(nested, _adjustment(program_id, member_id, -11), utc_now())
        posted = await post_movement(conn, _adjustment(program_id, member_id, -4), utc_now())
    assert refusal.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert posted.available_after == 6
    after = await _written(member_id)
    assert after["transactions"] == before["transactions"] + 1
    assert after["entries"] == before["entries"] + 2
    assert after["available"] == 6


async def test_a_refusal_outside_any_savepoint_leaves_nothing_either(
    db: None, backend: str
) -> None:
    """The guard refuses inside the statement (PostgreSQL) or hop (SQLite) itself: even a
    caller that catches the refusal and commits keeps no journal row of it."""
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        await post_movement(conn, _adjustment(program_id, member_id, 5), utc_now())
    before = await _written(member_id)
    async with in_transaction() as conn:
        with pytest.raises(DomainError):
            await post_movement(conn, _adjustment(program_id, member_id, -6), utc_now())
    assert await _written(member_id) == before


async def test_only_a_movement_that_is_written_wakes_the_outbox_readers(
    db: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The movement's events are written by its own statement: the readers' wake-up at commit
    is asked for once that statement has passed its guard, so a refusal asks for none."""
    program_id, member_id = await _member()
    wake_ups: list[object] = []
    monkeypatch.setattr(outbox, "after_commit", wake_ups.append)
    async with in_transaction() as conn:
        with pytest.raises(DomainError):
            await post_movement(conn, _adjustment(program_id, member_id, -1), utc_now())
        assert wake_ups == []
        await post_movement(conn, _adjustment(program_id, member_id, 3), utc_now())
        assert len(wake_ups) == 1


async def _lots(member_id: int) -> list[dict[str, Any]]:
    async with in_transaction() as conn:
        return await fetch_all(
            conn,
            "SELECT transaction_id, points, remaining FROM point_lots WHERE member_id = ?"
            " ORDER BY id",
            (member_id,),
        )


async def test_a_credit_opens_its_lot_with_its_transaction_and_a_refused_one_opens_none(
    db: None, backend: str
) -> None:
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        posted = await post_movement(conn, _adjustment(program_id, member_id, 10), utc_now())
    lots = await _lots(member_id)
    assert [
        (int(lot["transaction_id"]), int(lot["points"]), int(lot["remaining"])) for lot in lots
    ] == [(posted.transaction_id, 10, 10)]

    # The balance one point short of its bound: a credit of two is refused by the guard.
    async with in_transaction() as conn:
        await execute(
            conn,
            "UPDATE members SET points_available = ?, lifetime_earned = ? WHERE id = ?",
            (MAX_BALANCE - 1, MAX_BALANCE - 1, member_id),
        )
    before = await _written(member_id)
    async with in_transaction() as conn:
        with pytest.raises(DomainError) as refusal:
            await post_movement(conn, _adjustment(program_id, member_id, 2), utc_now())
    assert refusal.value.code is ErrorCode.POINTS_LIMIT_EXCEEDED
    assert await _written(member_id) == before
    assert len(await _lots(member_id)) == 1


async def test_an_order_points_at_the_transaction_of_its_points_and_its_lot(
    db: None, backend: str
) -> None:
    _, member_id = await _member()
    order = RecordOrderInput(
        program_slug="shop",
        customer_id="customer-1",
        order_id="order-1",
        currency="EUR",
        total_minor=2000,
        lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000)],
        placed_at=utc_now() - timedelta(hours=1),
    )
    recorded = await record_order(order, None)
    assert recorded.order.points_earned == 20
    async with in_transaction() as conn:
        rows = await fetch_all(
            conn,
            "SELECT o.transaction_id, t.id AS earned_by, t.points FROM orders o"
            " JOIN ledger_transactions t ON t.order_ref = o.order_id WHERE o.order_id = ?",
            ("order-1",),
        )
    assert len(rows) == 1
    assert int(rows[0]["transaction_id"]) == int(rows[0]["earned_by"])
    assert recorded.order.transaction_id == int(rows[0]["earned_by"])
    assert [(int(lot["transaction_id"]), int(lot["points"])) for lot in await _lots(member_id)] == [
        (int(rows[0]["earned_by"]), 20)
    ]
    # Reported again, the order is replayed: no second transaction, lot or link.
    again = await record_order(replace(order), None)
    assert again.already_recorded
    assert len(await _lots(member_id)) == 1


async def _events() -> list[dict[str, Any]]:
    async with in_transaction() as conn:
        return await fetch_all(
            conn, "SELECT id, type, payload, replayed FROM outbox_events ORDER BY id", ()
        )


async def test_a_movements_event_is_written_by_its_statement_as_it_was_on_its_own(
    db: None, backend: str
) -> None:
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        posted = await post_movement(conn, _adjustment(program_id, member_id, 30), utc_now())
        spent = await post_movement(conn, _adjustment(program_id, member_id, -12), utc_now())
    events = [row for row in await _events() if row["type"] == "points.adjusted"]
    expected = [
        {
            "activityId": encode_id("Activity", transaction_id),
            "memberId": encode_id("Member", member_id),
            "kind": "ADJUST",
            "points": points,
            "availableAfter": available,
            "pendingAfter": 0,
            "description": "test adjustment",
        }
        for transaction_id, points, available in (
            (posted.transaction_id, 30, 30),
            (spent.transaction_id, -12, 18),
        )
    ]
    assert [from_json(row["payload"]) for row in events] == expected
    assert not any(row["replayed"] for row in events)
    if backend == "sqlite":
        # The text is the one `append_event` wrote: the same keys in the same order.
        assert [row["payload"] for row in events] == [
            json.dumps(payload, separators=(",", ":")) for payload in expected
        ]


async def test_an_order_to_a_member_in_debt_is_announced_after_the_debts_recovery(
    db: None, backend: str
) -> None:
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        await post_movement(
            conn,
            Movement(
                program_id=program_id,
                member_id=member_id,
                kind=TransactionKind.REFUND,
                points=-5,
                counter_account=Account.PROGRAM_ISSUED,
                member_account=Account.MEMBER_DEBT,
                description="owed",
            ),
            utc_now(),
        )
    order = RecordOrderInput(
        program_slug="shop",
        customer_id="customer-1",
        order_id="order-1",
        currency="EUR",
        total_minor=2000,
        lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000)],
        placed_at=utc_now() - timedelta(hours=1),
        idempotency_key="key-1",
    )
    recorded = await record_order(order, None)
    assert [row["type"] for row in await _events()][-3:] == [
        "points.earned",
        "points.debt_recovered",
        "order.recorded",
    ]
    # And without debt the order's event comes right after its points' (one statement).
    second = await record_order(replace(order, order_id="order-2", idempotency_key="key-2"), None)
    assert [row["type"] for row in await _events()][-2:] == ["points.earned", "order.recorded"]
    # Each key remembers its order, whichever statement wrote the response.
    async with in_transaction() as conn:
        responses = await fetch_all(
            conn, "SELECT key, response FROM idempotency_records ORDER BY key", ()
        )
    assert [(row["key"], from_json(row["response"])) for row in responses] == [
        ("key-1", {"orderPk": recorded.order.id}),
        ("key-2", {"orderPk": second.order.id}),
    ]
    replayed = await record_order(order, None)
    assert replayed.already_recorded
    assert replayed.order.id == recorded.order.id


async def test_a_spend_takes_from_lots_in_order_in_one_go_and_refuses_lots_that_fall_short(
    db: None, backend: str
) -> None:
    program_id, member_id = await _member()
    async with in_transaction() as conn:
        for _ in range(3):
            await post_movement(conn, _adjustment(program_id, member_id, 10), utc_now())
        spent = await post_movement(conn, _adjustment(program_id, member_id, -25), utc_now())
    assert spent.available_after == 5
    assert spent.spent_lots_expire_at is None
    assert [int(lot["remaining"]) for lot in await _lots(member_id)] == [0, 0, 5]
    # The lots hold less than the cached balance says: the spend is refused, nothing taken.
    async with in_transaction() as conn:
        await execute(conn, "UPDATE point_lots SET remaining = 1 WHERE remaining = 5", ())
    with pytest.raises(RuntimeError, match="short by 2 points"):
        async with in_transaction() as conn:
            await post_movement(conn, _adjustment(program_id, member_id, -3), utc_now())
    assert [int(lot["remaining"]) for lot in await _lots(member_id)] == [0, 0, 1]
