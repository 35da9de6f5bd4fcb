"""Reward queries: the catalogue, a member's options and redemptions, code checks."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry

from app.graphql.compiled import SPENDS_ON_READ
from app.graphql.core.connection import (
    Connection,
    Edges,
    keyset_page,
    page_size,
)
from app.graphql.core.context import Info, acting_for_member, admin, member_reader
from app.graphql.core.errors import UserErrorCode, as_query_errors
from app.graphql.core.ids import decode_id
from app.graphql.core.programs import program_keyset_page, readable_program_list
from app.graphql.core.query_checks import admin_in_query
from app.graphql.members.types import Redemption
from app.graphql.rewards.types import (
    CharityDonationTotal,
    RedemptionSettings,
    RedemptionStatusEnum,
    Reward,
    RewardKindEnum,
    RewardOption,
    spend_code_check,
)
from app.services.rewards import codes as codes_service
from app.services.rewards import service as rewards_service
from app.services.rewards.repository import RedemptionRecord


@strawberry.type(description="What a checkout learns from a code.")
class RedemptionCodeCheck:
    code: str
    usable: bool = strawberry.field(description="True when the checkout may honour it now.")
    reason: UserErrorCode | None = strawberry.field(  # type: ignore[valid-type]
        description="Why not: REDEMPTION_CODE_NOT_FOUND (also for another program's code),"
        " REDEMPTION_ALREADY_USED, REDEMPTION_EXPIRED or REDEMPTION_CANCELLED."
    )
    redemption: Redemption | None = strawberry.field(
        description="The redemption: its value, member, reward and state; null when unknown."
    )


@strawberry.field(
    description="Admin only: the program's rewards by id, filtered (retired ones on request)."
)
async def reward_catalogue(
    info: Info,
    program_slug: str,
    kinds: list[RewardKindEnum] | None = None,  # type: ignore[valid-type]
    include_retired: bool = False,
    include_inactive: bool = True,
    first: int = 50,
    after: str | None = None,
) -> Connection[Reward] | None:
    admin_in_query(info)
    page_size(first)
    catalogue = rewards_service.RewardFilter(
        kinds=frozenset(kinds or ()),
        include_retired=include_retired,
        include_inactive=include_inactive,
    )
    return await program_keyset_page(
        program_slug,
        None,
        # The service reads one row past `first` itself.
        lambda program_id, position, limit: rewards_service.search_rewards(
            program_id, catalogue, first=limit - 1, after=position
        ),
        first=first,
        after=after,
        edges=Edges("Reward", Reward.from_record),
    )


@strawberry.field(
    description="The program's active rewards for one member, cheapest first: what they"
    " would pay and, when they cannot redeem one now, why (secret or admin key, or the"
    " member's own token)."
)
async def member_rewards(info: Info, member_id: strawberry.ID) -> list[RewardOption]:
    with as_query_errors():
        pk = decode_id(member_id, "Member", ["memberId"])
        principal = acting_for_member(info, pk)
        options = await rewards_service.reward_options(pk, principal.program_scope)
    return [
        RewardOption(
            reward=Reward.from_record(option.reward),
            cost_points=option.cost_points,
            redeemable=option.refusal is None,
            reason=None if option.refusal is None else option.refusal[0],
            message=None if option.refusal is None else option.refusal[1],
        )
        for option in options
    ]


@strawberry.field(
    description="A member's redemptions and their codes, newest first, optionally of one"
    " status (secret or admin key, or the member's own token)."
)
async def member_redemptions(
    info: Info,
    member_id: strawberry.ID,
    status: RedemptionStatusEnum | None = None,  # type: ignore[valid-type]
    first: int = 20,
    after: str | None = None,
) -> Connection[Redemption] | None:
    async def fetch(position: int | None, limit: int) -> list[RedemptionRecord]:
        with as_query_errors():
            pk = decode_id(member_id, "Member", ["memberId"])
            principal = acting_for_member(info, pk)
            # The service reads one row past `first` itself.
            return await rewards_service.member_redemptions(
                pk, principal.program_scope, status=status, first=limit - 1, before=position
            )

    return await keyset_page(
        fetch, first=first, after=after, edges=Edges("Redemption", Redemption.from_record)
    )


@strawberry.field(
    description="For the store's checkout (secret or admin key): what a code is worth, for"
    " which member, and whether it can be used. Rate-limited per key (README).",
    metadata={SPENDS_ON_READ: True},
)
async def validate_redemption_code(info: Info, program_slug: str, code: str) -> RedemptionCodeCheck:
    with as_query_errors():
        principal = spend_code_check(info)
        checked = await codes_service.validate_code(program_slug, code, principal.program_scope)
    return RedemptionCodeCheck(
        code=checked.code,
        usable=checked.problem is None,
        reason=checked.problem,
        redemption=None
        if checked.redemption is None
        else Redemption.from_record(checked.redemption),
    )


@strawberry.field(description="A program's redemption settings (secret or admin key).")
async def redemption_settings(info: Info, program_slug: str) -> RedemptionSettings:
    with as_query_errors():
        principal = member_reader(info)
        record = await codes_service.redemption_settings(program_slug, principal.program_scope)
    return RedemptionSettings.from_record(record)


@strawberry.field(
    description="Admin only: charity donations made in members' names in [from, to), per"
    " charity and currency (cancelled redemptions excluded)."
)
async def charity_donations(
    info: Info,
    program_slug: str,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
) -> list[CharityDonationTotal]:
    with as_query_errors():
        admin(info)
        totals = await codes_service.charity_totals(program_slug, from_, to, None)
    return [
        CharityDonationTotal(
            charity_name=total.charity_name,
            currency=total.currency,
            total_minor=total.total_minor,
            donations=total.donations,
        )
        for total in totals
    ]


@strawberry.field(description="Rewards of a program, cheapest first.")
async def rewards(info: Info, program_slug: str, include_inactive: bool = False) -> list[Reward]:
    load = partial(rewards_service.list_rewards, include_inactive=include_inactive)
    return await readable_program_list(
        info, program_slug, load, Reward.from_record, members_only=include_inactive
    )
