"""A ledger movement's balance guard and its journal writes are one hop on SQLite and one
statement on PostgreSQL (app/services/ledger/journal.py): when the guard refuses, nothing of
the journal is written, and when it passes, everything is."""

from __future__ import annotations

from typing import Any

import pytest

from app.db import fetch_all, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import Account, TransactionKind
from app.services.ledger.service import Movement, post_movement
from app.services.members.enrolment import EnrollMemberInput, enroll_member
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
