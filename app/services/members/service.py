"""Members: enrolment, lookups and the activity feed (the member-status hot path)."""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from app.db import (
    as_date,
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    in_transaction,
    quick_read,
    quick_read_values,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date, month_day
from app.domain.ids import encode_id
from app.domain.ledger import STORE_CREDIT_KINDS
from app.domain.referrals import Signals
from app.domain.validation import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX, Checker, is_lookup_text
from app.services.core.events import append_event
from app.services.programs.service import ProgramScope, in_scope, require_program
from app.services.referrals.creation import on_member_enrolled
from app.services.referrals.fraud import check_signals
from app.services.referrals.service import resolve_code

_COLUMNS = (
    "id, program_id, customer_id, email, name, birthday, enrolled_at, points_available,"
    " points_pending, lifetime_earned, lifetime_redeemed, points_debt, opted_out_at"
)
_NO_CURSOR = 2**63 - 1
# The activity feed is the member's points; store credit has its own history.
_POINTS_ONLY = " AND kind NOT IN ({})".format(
    ", ".join(f"'{kind.value}'" for kind in sorted(STORE_CREDIT_KINDS))
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


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


@dataclass(frozen=True)
class EnrollMemberInput:
    program_slug: str
    customer_id: str
    email: str | None = None
    name: str | None = None
    birthday: date | None = None
    # A referrer's code the customer came with, and what the store knows of their device.
    referral_code: str | None = None
    signals: Signals | None = None


def _record(row: dict[str, Any]) -> MemberRecord:
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


_ACTIVITY_COLUMNS = ("id", "member_id", "kind", "points", "description", "order_ref", "created_at")
_activity_row_values = operator.itemgetter(*_ACTIVITY_COLUMNS)
# Ledger transactions are append-only (a trigger refuses UPDATE and DELETE on both databases):
# a row read again gives the record made before, so a page read again (a storefront shows a
# member's status on every visit) skips the conversion, and the API's edges kept per record
# are found again. Keyed by the row's values, not its id: a record is never taken for another
# database's row with the same id.
ACTIVITY_RECORD_CACHE_SIZE = 2048


def _activity(row: dict[str, Any]) -> ActivityRecord:
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
    return _record(rows[0])


async def get_member(member_id: int, scope: ProgramScope) -> MemberRecord | None:
    rows = await fetch_all(
        connection(), f"SELECT {_COLUMNS} FROM members WHERE id = ?", (member_id,)
    )
    return _member_in_scope(rows, scope)


async def read_member(member_id: int, scope: ProgramScope) -> MemberRecord | None:
    """`get_member` for answering queries: the last commit at once (`quick_read`). Services
    that go on to write use `get_member`, which on SQLite waits for a write in progress."""
    rows = await quick_read(f"SELECT {_COLUMNS} FROM members WHERE id = ?", (member_id,))
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
        f"SELECT {_COLUMNS} FROM members WHERE program_id = ? AND customer_id = ?",
        (program_id, customer_id),
    )
    return _record(rows[0]) if rows else None


async def list_activity(
    member_id: int, *, before_id: int | None, limit: int
) -> list[ActivityRecord]:
    """Newest first, by keyset on the transaction id: the cost does not grow with history.

    Written as a row comparison ordered by (member_id, id) so that PostgreSQL walks the
    (member_id, id) index even when its statistics say a member owns much of the ledger (it
    otherwise prefers scanning the primary key backwards and filtering).
    """
    rows = await quick_read_values(
        f"SELECT {', '.join(_ACTIVITY_COLUMNS)}"
        " FROM ledger_transactions WHERE member_id = ? AND (member_id, id) < (?, ?)"
        f"{_POINTS_ONLY} ORDER BY member_id DESC, id DESC LIMIT ?",
        (member_id, member_id, before_id if before_id is not None else _NO_CURSOR, limit),
    )
    return [_activity_of_values(row) for row in rows]


async def enroll_member(data: EnrollMemberInput, scope: ProgramScope) -> MemberRecord:
    check = Checker()
    customer_id = check.text(["input", "customerId"], data.customer_id, EXTERNAL_ID_MAX)
    email = check.text(["input", "email"], data.email, EMAIL_MAX, required=False)
    if email is not None and not _EMAIL.match(email):
        check.add(ErrorCode.INVALID_VALUE, "email is not an email address", ["input", "email"])
    name = check.text(["input", "name"], data.name, NAME_MAX, required=False)
    if data.birthday is not None and data.birthday > utc_now().date():
        check.add(ErrorCode.INVALID_VALUE, "birthday is in the future", ["input", "birthday"])
    check_signals(check, data.signals, ["input", "signals"])
    check.raise_if_any()
    program = await require_program(data.program_slug, scope)
    referrer = (
        None
        if data.referral_code is None
        else await resolve_code(program, data.referral_code, ["input", "referralCode"])
    )
    now = utc_now()
    try:
        async with in_transaction() as conn:
            row = await fetch_one(
                conn,
                "INSERT INTO members (program_id, customer_id, email, name, birthday, enrolled_at,"
                " birthday_month_day, anniversary_month_day,"
                " points_available, points_pending, lifetime_earned, lifetime_redeemed)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0) RETURNING {_COLUMNS}",
                (
                    program.id,
                    customer_id,
                    email,
                    name,
                    data.birthday,
                    now,
                    None if data.birthday is None else month_day(data.birthday),
                    # UTC: a later change of the program's zone moves no stored key (the
                    # anniversary job widens its search by a day and checks the local date).
                    month_day(local_date(now, "UTC")),
                ),
            )
            assert row is not None
            member = _record(row)
            await append_event(
                conn,
                program_id=program.id,
                member_id=member.id,
                event_type="member.enrolled",
                payload={"memberId": encode_id("Member", member.id), "customerId": customer_id},
                now=now,
            )
            # Imported here: actions needs members' lookups, and enrolment needs its welcome award.
            from app.services.actions.service import award_on_enrolment

            awarded = await award_on_enrolment(conn, program.id, member.id, now) is not None
            # The member's referral code, and the referral they came with (services/referrals.py).
            if await on_member_enrolled(
                conn,
                program=program,
                member_id=member.id,
                customer_id=member.customer_id,
                email=email,
                referrer=referrer,
                signals=data.signals,
                now=now,
            ):
                awarded = True
            if awarded:
                refreshed = await fetch_one(
                    conn, f"SELECT {_COLUMNS} FROM members WHERE id = ?", (member.id,)
                )
                assert refreshed is not None
                member = _record(refreshed)
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.MEMBER_ALREADY_ENROLLED,
            f"customer {customer_id!r} is already a member of {program.slug!r}",
            ["input", "customerId"],
        ) from exc
    return member


async def get_activity(transaction_id: int, scope: ProgramScope) -> ActivityRecord | None:
    row = await fetch_one(
        connection(),
        "SELECT id, program_id, member_id, kind, points, description, order_ref, created_at"
        f" FROM ledger_transactions WHERE id = ? AND member_id IS NOT NULL{_POINTS_ONLY}",
        (transaction_id,),
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _activity(row)
