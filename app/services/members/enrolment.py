"""Enrolment: a customer becomes a member, with the welcome points and the referral they came with.

It sits above the member lookups (app/services/members/service.py) and the capabilities an
enrolment sets off (welcome points from actions, the referral code and referral), so each of
those depends on the lookups and none on enrolment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.exceptions import IntegrityError

from app.db import fetch_one, in_transaction, utc_now
from app.domain.analytics import CUSTOMER_ENROLLED, ENROLMENTS, member_key, month_of
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date, month_day
from app.domain.ids import encode_id
from app.domain.referrals import Signals
from app.domain.validation import (
    EXTERNAL_ID_MAX,
    Checker,
)
from app.services.actions.service import award_on_enrolment
from app.services.analytics import rollups
from app.services.core.events import append_event
from app.services.core.idempotency import create_once_if_keyed, keyed_write
from app.services.members.profile import (
    CheckedProfile,
    ProfileChanges,
    card_number_taken,
    card_number_taken_error,
    check_profile,
    get_attribute_definitions,
    index_for_search,
)
from app.services.members.service import MEMBER_COLUMNS, MemberRecord, get_member, member_row
from app.services.orders.credit import credit_guest_orders
from app.services.programs.service import ProgramScope, require_program
from app.services.referrals.creation import on_member_enrolled
from app.services.referrals.fraud import check_signals
from app.services.referrals.service import resolve_code


@dataclass(frozen=True)
class EnrollMemberInput:
    program_slug: str
    customer_id: str
    # The profile fields sent with the enrolment (app/services/members/profile.py).
    profile: ProfileChanges = field(default_factory=ProfileChanges)
    # A referrer's code the customer came with, and what the store knows of their device.
    referral_code: str | None = None
    signals: Signals | None = None
    # A retry with the same key returns the member the first request enrolled.
    idempotency_key: str | None = None


async def enroll_member(data: EnrollMemberInput, scope: ProgramScope) -> MemberRecord:
    check = Checker()
    now = utc_now()
    customer_id = check.text(["input", "customerId"], data.customer_id, EXTERNAL_ID_MAX)
    changes = data.profile
    profile = check_profile(check, changes.without("attributes"), [], now)
    check_signals(check, data.signals, ["input", "signals"])
    key = check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    program = await require_program(data.program_slug, scope)
    if "attributes" in changes.given:
        definitions = await get_attribute_definitions(program.id)
        profile = CheckedProfile(
            {**profile.columns, **check_profile(check, changes, definitions, now).columns}
        )
        check.raise_if_any()
    referrer = (
        None
        if data.referral_code is None
        else await resolve_code(program, data.referral_code, ["input", "referralCode"])
    )
    columns = {
        "program_id": program.id,
        "customer_id": customer_id,
        "enrolled_at": now,
        # UTC: a later change of the program's zone moves no stored key (the anniversary job
        # widens its search by a day and checks the local date).
        "anniversary_month_day": month_day(local_date(now, "UTC")),
        **profile.columns,
    }
    names = sorted(columns)
    try:
        async with in_transaction() as conn:

            async def perform() -> MemberRecord:
                row = await fetch_one(
                    conn,
                    f"INSERT INTO members ({', '.join(names)}, points_available,"
                    " points_pending, lifetime_earned, lifetime_redeemed)"
                    f" VALUES ({', '.join('?' for _ in names)}, 0, 0, 0, 0)"
                    f" RETURNING {MEMBER_COLUMNS}",
                    tuple(columns[name] for name in names),
                )
                assert row is not None
                member = member_row(row)
                await index_for_search(conn, member.id)
                await append_event(
                    conn,
                    program_id=program.id,
                    member_id=member.id,
                    event_type="member.enrolled",
                    payload={"memberId": encode_id("Member", member.id), "customerId": customer_id},
                    now=now,
                )
                enrolled_on = local_date(now, program.time_zone)
                await rollups.add_rows(
                    conn,
                    program.id,
                    [
                        (enrolled_on, ENROLMENTS, "", 1),
                        (month_of(enrolled_on), CUSTOMER_ENROLLED, member_key(member.id), 1),
                    ],
                )
                awarded = await award_on_enrolment(conn, program.id, member.id, now) is not None
                # The customer's recent guest orders (app/services/orders/guests.py).
                if await credit_guest_orders(
                    conn, program, member_id=member.id, customer_id=member.customer_id, now=now
                ):
                    awarded = True
                # The member's referral code, and the referral they came with (services/referrals/).
                if await on_member_enrolled(
                    conn,
                    program=program,
                    member_id=member.id,
                    customer_id=member.customer_id,
                    email=member.email,
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
                **keyed_write(program.id, key, "enrollMember", data, now),
                create=perform,
                remember_id_as="memberId",
                read=lambda member_id: get_member(member_id, None, conn),
            )
    except IntegrityError as exc:
        if card_number_taken(exc):
            raise card_number_taken_error() from exc
        raise DomainError(
            ErrorCode.MEMBER_ALREADY_ENROLLED,
            f"customer {customer_id!r} is already a member of {program.slug!r}",
            ["input", "customerId"],
        ) from exc
    return member
