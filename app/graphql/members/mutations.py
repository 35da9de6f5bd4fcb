"""Member mutations: enrolment, point adjustments, opting out of earning."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.scalars import JSON

from app.domain.roles import check_points_adjustment
from app.graphql.core.admin_writes import scoped_write
from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.members.profile import changes_of
from app.graphql.members.types import Member, Referral
from app.graphql.referrals.types import ReferralSignalsInput, signals_of
from app.services.ledger import adjustments as points_service
from app.services.members import enrolment
from app.services.members import opt_out as opt_out_service
from app.services.referrals import service as referrals_service


@strawberry.input
class EnrollMemberInput:
    program_slug: str
    customer_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str | None = None
    name: str | None = None
    birthday: date | None = None
    phone: str | None = None
    locale: str | None = None
    marketing_consent: bool | None = None
    tags: list[str] | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="Values of the program's member attributes, by name."
    )
    card_number: str | None = None
    referral_code: str | None = strawberry.field(
        default=None,
        description="A referrer's code: the referral is recorded with the enrolment (fraud rules"
        " may reject or hold it; the enrolment stands). An unknown code refuses the enrolment.",
    )
    signals: ReferralSignalsInput | None = None
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.type
class EnrollMemberPayload:
    member: Member | None = None
    referral: Referral | None = strawberry.field(
        default=None, description="The referral the member came with, if any."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AdjustPointsInput:
    member_id: strawberry.ID
    points: int = strawberry.field(description="Positive to credit, negative to debit.")
    reason: str = strawberry.field(
        description="Staff's note on why: kept in the audit log and the points.adjusted event"
        " (admin keys only), never shown to the member."
    )
    idempotency_key: str
    description: str | None = strawberry.field(
        default=None,
        description="What the member reads in their activity; 'Points adjusted by the store'"
        " when left out.",
    )


@strawberry.type
class AdjustPointsPayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetMemberOptOutInput:
    member_id: strawberry.ID
    opted_out: bool = strawberry.field(
        description="True: the member earns nothing from now on (balances stay, redeeming"
        " works); false: the member earns again."
    )
    idempotency_key: str | None = None


@strawberry.type
class SetMemberOptOutPayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation()
async def enroll_member(info: Info, input: EnrollMemberInput) -> EnrollMemberPayload:
    record = await scoped_write(
        member_reader(info),
        input,
        enrolment.EnrollMemberInput,
        enrolment.enroll_member,
        signals=signals_of(input.signals),
        # Enrolment stores what is sent; a field left out or null is not stored.
        profile=changes_of(input, sent=lambda value: value is not None),
    )
    referral = None
    if input.referral_code is not None:
        referral = await referrals_service.referral_of_friend(record.id)
    return EnrollMemberPayload(
        member=Member.from_record(record),
        referral=None if referral is None else Referral.from_record(referral),
    )


@mutation(
    description="Admin only: credit or debit points with a reason. A support key adjusts at"
    " most its limit (POINTS_LIMIT_EXCEEDED above it)."
)
async def adjust_points(info: Info, input: AdjustPointsInput) -> AdjustPointsPayload:
    principal = admin(info)
    role = principal.staff_role
    if role is not None:
        # A support key adjusts within its limit; the owner without one.
        check_points_adjustment(role, principal.points_adjustment_limit, input.points)
    adjustment = await scoped_write(
        principal,
        input,
        points_service.AdjustPointsInput,
        points_service.adjust_points,
        ids={"member_id": "Member"},
    )
    return AdjustPointsPayload(member=Member.from_record(adjustment.member))


@mutation(description="Opt a member out of earning points, or back in.")
async def set_member_opt_out(info: Info, input: SetMemberOptOutInput) -> SetMemberOptOutPayload:
    record = await scoped_write(
        member_reader(info),
        input,
        opt_out_service.SetMemberOptOutInput,
        opt_out_service.set_member_opt_out,
        ids={"member_id": "Member"},
    )
    return SetMemberOptOutPayload(member=Member.from_record(record))
