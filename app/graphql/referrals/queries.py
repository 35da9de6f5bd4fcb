"""Referral queries: settings, the referrals, the numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.validation import check_period
from app.graphql.core.connection import Connection
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.programs import program_one, program_page
from app.graphql.core.query_checks import admin_in_query, member_reader_in_query
from app.graphql.members.types import Member, Referral, referral_connection
from app.graphql.referrals.types import ReferralSettings, ReferralStateEnum
from app.services.programs import service as programs_service
from app.services.referrals import service as referrals_service


@strawberry.type
class ReferralReasonCount:
    reason: str
    count: int


@strawberry.type
class ReferralAdvocate:
    qualified_referrals: int
    points_earned: int = strawberry.field(description="Referral points earned in the period.")
    member_pk: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: Info) -> Member:
        record = await info.context.loaders.member.load(self.member_pk)
        assert record is not None
        return Member.from_record(record)


@strawberry.type(description="A program's referral numbers for a period [from, to).")
class ReferralStats:
    invitations: int = strawberry.field(description="Referrals made (not refused at once).")
    sign_ups: int
    qualified: int
    conversion_rate: float = strawberry.field(
        description="The share of the period's invitations that have qualified by now."
    )
    points_paid: int = strawberry.field(description="Referral points given and final.")
    points_pending: int = strawberry.field(description="Referral points still pending.")
    points_cancelled: int = strawberry.field(description="Referral points cancelled by refunds.")
    money_paid_minor: int = strawberry.field(
        description="The face value (valueMinor when given) of the catalogue rewards given, in"
        " minor units of `currency`."
    )
    currency: str = strawberry.field(description="The program's currency.")
    catalogue_rewards: list[ReferralReasonCount] = strawberry.field(
        description="Catalogue rewards by ReferralCatalogueRewardStatus (in `reason`)."
    )
    held_by_reason: list[ReferralReasonCount]
    rejected_by_reason: list[ReferralReasonCount]
    top_advocates: list[ReferralAdvocate]


def _counts(by_reason: dict[str, int]) -> list[ReferralReasonCount]:
    return [ReferralReasonCount(reason=k, count=v) for k, v in sorted(by_reason.items())]


@strawberry.field(description="A program's referral settings (secret or admin key).")
async def referral_settings(info: Info, program_slug: str) -> ReferralSettings | None:
    principal = member_reader_in_query(info)
    record = await program_one(program_slug, principal.program_scope, referrals_service.settings_of)
    return None if record is None else ReferralSettings.from_record(record)


@strawberry.field(description="A program's referrals, newest first; optionally in one state.")
async def referrals(
    info: Info,
    program_slug: str,
    state: ReferralStateEnum | None = None,  # type: ignore[valid-type]
    first: int = 20,
    after: str | None = None,
) -> Connection[Referral] | None:
    principal = member_reader_in_query(info)
    return await program_page(
        program_slug,
        principal.program_scope,
        lambda program_id: referral_connection(
            program_id, referrer_id=None, state=state, first=first, after=after
        ),
    )


@strawberry.field(description="Admin only: a program's referral numbers for [from, to).")
async def referral_stats(
    info: Info,
    program_slug: str,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
) -> ReferralStats | None:
    admin_in_query(info)
    with as_query_errors():
        check_period(from_, to)
    program = await programs_service.get_program_by_slug(program_slug, None)
    if program is None:
        return None
    stats = await referrals_service.referral_stats(program.id, from_, to)
    return ReferralStats(
        invitations=stats.invitations,
        sign_ups=stats.sign_ups,
        qualified=stats.qualified,
        conversion_rate=stats.conversion_rate,
        points_paid=stats.points_paid,
        points_pending=stats.points_pending,
        points_cancelled=stats.points_cancelled,
        money_paid_minor=stats.money_paid_minor,
        currency=program.currency,
        catalogue_rewards=_counts(stats.catalogue_rewards),
        held_by_reason=_counts(stats.held_by_reason),
        rejected_by_reason=_counts(stats.rejected_by_reason),
        top_advocates=[
            ReferralAdvocate(
                qualified_referrals=advocate.qualified,
                points_earned=advocate.points,
                member_pk=advocate.member_id,
            )
            for advocate in stats.top_advocates
        ],
    )
