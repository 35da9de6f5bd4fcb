"""Enrolment: a customer becomes a member, with the welcome points and the referral they came with.

It sits above the member lookups (app/services/members/service.py) and the capabilities an
enrolment sets off (welcome points from actions, the referral code and referral), so each of
those depends on the lookups and none on enrolment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from tortoise.exceptions import IntegrityError

from app.db import fetch_one, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date, month_day
from app.domain.ids import encode_id
from app.domain.referrals import Signals
from app.domain.validation import (
    EMAIL_MAX,
    EXTERNAL_ID_MAX,
    NAME_MAX,
    Checker,
)
from app.services.actions.service import award_on_enrolment
from app.services.core.events import append_event
from app.services.core.idempotency import create_once_if_keyed, input_payload
from app.services.members.service import MEMBER_COLUMNS, MemberRecord, get_member, member_row
from app.services.programs.service import ProgramScope, require_program
from app.services.referrals.creation import on_member_enrolled
from app.services.referrals.fraud import check_signals
from app.services.referrals.service import resolve_code

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


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
    # A retry with the same key returns the member the first request enrolled.
    idempotency_key: str | None = None


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
    key = check.idempotency_key(data.idempotency_key, required=False)
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

            async def perform() -> MemberRecord:
                row = await fetch_one(
                    conn,
                    "INSERT INTO members (program_id, customer_id, email, name, birthday,"
                    " enrolled_at, birthday_month_day, anniversary_month_day,"
                    " points_available, points_pending, lifetime_earned, lifetime_redeemed)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0) RETURNING {MEMBER_COLUMNS}",
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
                member = member_row(row)
                await append_event(
                    conn,
                    program_id=program.id,
                    member_id=member.id,
                    event_type="member.enrolled",
                    payload={"memberId": encode_id("Member", member.id), "customerId": customer_id},
                    now=now,
                )
                awarded = await award_on_enrolment(conn, program.id, member.id, now) is not None
                # The member's referral code, and the referral they came with (services/referrals/).
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
                    refreshed = await get_member(member.id, None, conn)
                    assert refreshed is not None
                    member = refreshed
                return member

            member = await create_once_if_keyed(
                conn,
                program_id=program.id,
                key=key,
                operation="enrollMember",
                payload=input_payload(data),
                now=now,
                create=perform,
                remember_id_as="memberId",
                read=lambda member_id: get_member(member_id, None, conn),
            )
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.MEMBER_ALREADY_ENROLLED,
            f"customer {customer_id!r} is already a member of {program.slug!r}",
            ["input", "customerId"],
        ) from exc
    return member
