"""Members: enrolment, lookups and the activity feed (the member-status hot path)."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_date,
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    quick_read,
    quick_read_values,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import STORE_CREDIT_KINDS
from app.domain.validation import is_lookup_text
from app.rows import Keyset
from app.services.programs.service import ProgramScope, in_scope

_NEWEST_FIRST = Keyset(newest_first=True, within="member_id")
# The activity feed is the member's points; store credit has its own history.
POINTS_ONLY = " AND kind NOT IN ({})".format(
    ", ".join(f"'{kind.value}'" for kind in sorted(STORE_CREDIT_KINDS))
)


@dataclass(frozen=True)
class MemberRecord:
    id: int
    program_id: int
    customer_id: str
    email: str | None
    name: str | None
    birthday: date | None
    enrolled_at: datetime
    points_available: int
    points_pending: int
    lifetime_earned: int
    lifetime_redeemed: int
    # Points refunds took back beyond what the member had (NEGATIVE_BALANCE policy).
    points_debt: int
    # Set while the member has opted out of earning.
    opted_out_at: datetime | None


@dataclass(frozen=True)
class ActivityRecord:
    id: int
    member_id: int
    kind: str
    points: int
    description: str
    order_ref: str | None
    created_at: datetime


MEMBER_COLUMNS = (
    "id, program_id, customer_id, email, name, birthday, enrolled_at, points_available,"
    " points_pending, lifetime_earned, lifetime_redeemed, points_debt, opted_out_at"
)


def member_row(row: dict[str, Any]) -> MemberRecord:
    """Written out rather than a RowMapper: member status reads a member on every request, and
    the generic mapper's loop costs about a third more per row here."""
    return MemberRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        customer_id=row["customer_id"],
        email=row["email"],
        name=row["name"],
        birthday=as_date(row["birthday"]),
        enrolled_at=as_datetime(row["enrolled_at"]),
        points_available=int(row["points_available"]),
        points_pending=int(row["points_pending"]),
        lifetime_earned=int(row["lifetime_earned"]),
        lifetime_redeemed=int(row["lifetime_redeemed"]),
        points_debt=int(row["points_debt"]),
        opted_out_at=as_optional_datetime(row["opted_out_at"]),
    )


ACTIVITY_COLUMNS = ("id", "member_id", "kind", "points", "description", "order_ref", "created_at")
_activity_row_values = operator.itemgetter(*ACTIVITY_COLUMNS)
# Ledger transactions are append-only (a trigger refuses UPDATE and DELETE on both databases):
# a row read again gives the record made before, so a page read again (a storefront shows a
# member's status on every visit) skips the conversion, and the API's edges kept per record
# are found again. Keyed by the row's values, not its id: a record is never taken for another
# database's row with the same id.
ACTIVITY_RECORD_CACHE_SIZE = 2048


def activity_row(row: dict[str, Any]) -> ActivityRecord:
    return _activity_of_values(_activity_row_values(row))


@functools.lru_cache(maxsize=ACTIVITY_RECORD_CACHE_SIZE)
def _activity_of_values(values: tuple[Any, ...]) -> ActivityRecord:
    transaction_id, member_id, kind, points, description, order_ref, created_at = values
    return ActivityRecord(
        id=int(transaction_id),
        member_id=int(member_id),
        kind=kind,
        points=int(points),
        description=description,
        order_ref=order_ref,
        created_at=as_datetime(created_at),
    )


def _member_in_scope(rows: list[dict[str, Any]], scope: ProgramScope) -> MemberRecord | None:
    if not rows or not in_scope(int(rows[0]["program_id"]), scope):
        return None
    return member_row(rows[0])


async def get_member(
    member_id: int, scope: ProgramScope, conn: BaseDBAsyncClient | None = None
) -> MemberRecord | None:
    rows = await fetch_all(
        conn or connection(), f"SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?", (member_id,)
    )
    return _member_in_scope(rows, scope)


async def read_member(member_id: int, scope: ProgramScope) -> MemberRecord | None:
    """`get_member` for answering queries: the last commit at once (`quick_read`). Services
    that go on to write use `get_member`, which on SQLite waits for a write in progress."""
    rows = await quick_read(f"SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?", (member_id,))
    return _member_in_scope(rows, scope)


async def require_member(
    member_id: int, scope: ProgramScope, field: list[str] | None = None
) -> MemberRecord:
    member = await get_member(member_id, scope)
    if member is None:
        raise DomainError(
            ErrorCode.MEMBER_NOT_FOUND, "no such member", field or ["input", "memberId"]
        )
    return member


async def get_member_by_customer_id(program_id: int, customer_id: str) -> MemberRecord | None:
    customer_id = customer_id.strip()
    if not is_lookup_text(customer_id):
        return None
    rows = await quick_read(
        f"SELECT {MEMBER_COLUMNS} FROM members WHERE program_id = ? AND customer_id = ?",
        (program_id, customer_id),
    )
    return member_row(rows[0]) if rows else None


async def list_activity(
    member_id: int, *, before_id: int | None, limit: int
) -> list[ActivityRecord]:
    """Newest first, by keyset on the transaction id: the cost does not grow with history.

    Written as a row comparison ordered by (member_id, id) so that PostgreSQL walks the
    (member_id, id) index even when its statistics say a member owns much of the ledger (it
    otherwise prefers scanning the primary key backwards and filtering).
    """
    rows = await quick_read_values(
        f"SELECT {', '.join(ACTIVITY_COLUMNS)}"
        f" FROM ledger_transactions WHERE member_id = ?{POINTS_ONLY}{_NEWEST_FIRST.clause}",
        (member_id, *_NEWEST_FIRST.params(before_id, limit, within=member_id)),
    )
    return [_activity_of_values(row) for row in rows]


async def get_activity(transaction_id: int, scope: ProgramScope) -> ActivityRecord | None:
    row = await fetch_one(
        connection(),
        "SELECT id, program_id, member_id, kind, points, description, order_ref, created_at"
        f" FROM ledger_transactions WHERE id = ? AND member_id IS NOT NULL{POINTS_ONLY}",
        (transaction_id,),
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return activity_row(row)
