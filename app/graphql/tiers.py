"""Tiers in the API: types, the queries and mutations (merged into Query and Mutation)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.tiers import DowngradePolicy, TierChangeReason, TierMetric, TierPeriod
from app.graphql.context import Info, admin, principal_of
from app.graphql.errors import UserError, guarded
from app.graphql.ids import decode_id, encode_id
from app.graphql.types import Node, Reward, reward_for_reader
from app.services.programs import service as programs_service
from app.services.tiers import configuration as tier_configuration
from app.services.tiers import service as tiers_service
from app.services.tiers.repository import TierProgram as TierProgramRecord
from app.services.tiers.repository import TierRecord
from app.services.tiers.service import TierStatus as TierStatusRecord

TierMetricEnum = strawberry.enum(
    TierMetric,
    name="TierMetric",
    description="What qualifies: POINTS_EARNED (points credited by orders, actions and"
    " referrals; never the balance, adjustments or tier rewards), MONEY_SPENT (order totals"
    " less refunds, minor units of the program's currency), ORDERS (orders not fully refunded)"
    " or REFERRALS (referrals made that were rewarded).",
)
TierPeriodEnum = strawberry.enum(
    TierPeriod,
    name="TierPeriod",
    description="LIFETIME, CALENDAR_YEAR or ANNIVERSARY_YEAR (in the program's time zone), or"
    " ROLLING_12_MONTHS (the last twelve months, no period end).",
)
DowngradePolicyEnum = strawberry.enum(
    DowngradePolicy,
    name="TierDowngradePolicy",
    description="NEVER; PERIOD_END (a tier reached is kept through the next period);"
    " ONE_LEVEL (a period end lowers one level at most; not with ROLLING_12_MONTHS);"
    " GRACE_PERIOD (as PERIOD_END, graceDays later). A refund always undoes what it counted.",
)
TierChangeReasonEnum = strawberry.enum(
    TierChangeReason,
    name="TierChangeReason",
    description="ORDER, REFUND, REFERRAL (the activity that moved the tier); PERIOD_END (the"
    " tiers job: a period, grace, rolling window or membership floor ended); RECALCULATION (a"
    " configuration change); MEMBERSHIP (a paid membership started or ended); MANUAL (an"
    " admin assigned a tier or cleared an assignment; `note` says why); ASSIGNMENT_ENDED (the"
    " tiers job, when an assignment's lock or hold ended).",
)


@strawberry.type(description="One level of a program's tiers.")
class Tier(Node):
    name: str
    rank: int = strawberry.field(description="0 for the lowest tier.")
    threshold: int = strawberry.field(description="The metric's value that reaches the tier.")
    earn_multiplier: str | None = strawberry.field(
        description="Points from purchases, actions and referral rewards x this while in the"
        " tier (not compounded with rule or membership multipliers: the highest applies; never"
        " on adjustments, tier or membership rewards)."
    )
    reward_discount_percent: int = strawberry.field(
        description="Rewards cost this much less (rounded up, at least 1 point)."
    )
    entry_points: int = strawberry.field(description="Points given on first entering the tier.")
    perks: list[str] = strawberry.field(
        description="What storefronts show of the tier (free shipping, early access...), in"
        " the order configured."
    )
    entry_reward_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: TierRecord) -> Tier:
        return cls(
            id=strawberry.ID(encode_id("Tier", record.id)),
            name=record.name,
            rank=record.rank,
            threshold=record.threshold,
            earn_multiplier=None if record.earn_multiplier is None else str(record.earn_multiplier),
            reward_discount_percent=record.reward_discount_percent,
            entry_points=record.entry_points,
            perks=list(record.perks),
            entry_reward_pk=record.entry_reward_id,
        )

    @strawberry.field(description="A catalogue reward given on first entering the tier.")
    async def entry_reward(self, info: Info) -> Reward | None:
        return await reward_for_reader(info, self.entry_reward_pk)


@strawberry.type(description="A program's tier configuration.")
class TierProgram:
    metric: TierMetricEnum  # type: ignore[valid-type]
    period: TierPeriodEnum  # type: ignore[valid-type]
    downgrade: DowngradePolicyEnum  # type: ignore[valid-type]
    grace_days: int
    tiers: list[Tier]
    recalculation_pending: bool = strawberry.field(
        description="The configuration changed and not every member has been moved to it yet:"
        " `laurel jobs run tiers-recalculate` (or the server's job loop) does it, with progress."
        " Until then a member is re-evaluated under the new rules on their next activity."
    )
    updated_at: datetime

    @classmethod
    def from_record(cls, record: TierProgramRecord) -> TierProgram:
        return cls(
            metric=record.metric,
            period=record.period,
            downgrade=record.downgrade,
            grace_days=record.grace_days,
            tiers=[Tier.from_record(tier) for tier in record.tiers],
            recalculation_pending=record.recalculation_pending,
            updated_at=record.updated_at,
        )


@strawberry.type(description="A change of a member's tier.")
class TierChange:
    from_tier: str | None
    to_tier: str | None
    reason: TierChangeReasonEnum  # type: ignore[valid-type]
    at: datetime
    note: str | None = strawberry.field(
        default=None, description="MANUAL changes: the reason the admin gave."
    )


@strawberry.type(
    description="A tier set by an admin: a floor under the member's earned tier (they can"
    " still earn their way above it) until holdsUntil."
)
class TierAssignment:
    tier_name: str
    assigned_at: datetime
    locked_until: datetime | None = strawberry.field(
        description="The date the admin locked the tier until; null: not locked, and the"
        " assignment holds as long as the downgrade policy keeps a tier reached when assigned."
    )
    holds_until: datetime | None = strawberry.field(
        description="When it stops holding the member up (the tiers job re-evaluates them"
        " then); null: until an admin clears it."
    )
    reason: str


@strawberry.type(description="Where a member stands in the program's tiers, and what comes next.")
class TierStatus:
    tier: Tier | None = strawberry.field(description="Null: no tier yet.")
    since: datetime | None
    holds_until: datetime | None = strawberry.field(
        description="When the tier ends unless the member qualifies again; null: it does not"
        " end with time."
    )
    metric: TierMetricEnum  # type: ignore[valid-type]
    period: TierPeriodEnum  # type: ignore[valid-type]
    currency: str | None = strawberry.field(description="MONEY_SPENT: the unit of the values.")
    value: int = strawberry.field(description="What the current period counts so far.")
    period_start: datetime | None
    period_end: datetime | None
    next_tier: Tier | None
    needed_for_next: int | None = strawberry.field(
        description="How much more of the metric reaches the next tier, in the metric's unit."
    )
    needed_to_keep: int | None = strawberry.field(
        description="How much more must be counted, by neededToKeepBy, to keep the tier: for a"
        " yearly period, what this period must still count to hold the tier through the next"
        " one; for ROLLING_12_MONTHS, what must be counted before the next old contribution"
        " leaves the window and takes the value below the tier (it then counts for twelve"
        " months). 0: secured. Null: no tier, or time never takes it (NEVER, LIFETIME)."
    )
    needed_to_keep_by: datetime | None = strawberry.field(
        description="The deadline of neededToKeep: the period's end, or the instant the"
        " rolling value would fall below the tier."
    )
    assignment: TierAssignment | None = strawberry.field(
        description="The admin's assignment in force, if any."
    )
    perks: list[str] = strawberry.field(
        description="The member's perks now: their tier's, then their active paid"
        " memberships' (no repeats)."
    )
    history: list[TierChange] = strawberry.field(description="Newest first, 50 at most.")

    @classmethod
    def from_record(cls, record: TierStatusRecord) -> TierStatus:
        return cls(
            tier=None if record.tier is None else Tier.from_record(record.tier),
            since=record.since,
            holds_until=record.holds_until,
            metric=record.program.metric,
            period=record.program.period,
            currency=record.program.currency
            if record.program.metric is TierMetric.MONEY_SPENT
            else None,
            value=record.value,
            period_start=record.period_start,
            period_end=record.period_end,
            next_tier=None if record.next_tier is None else Tier.from_record(record.next_tier),
            needed_for_next=record.needed_for_next,
            needed_to_keep=record.needed_to_keep,
            needed_to_keep_by=record.needed_to_keep_by,
            assignment=None
            if record.assignment is None
            else TierAssignment(
                tier_name=record.assignment.tier_name,
                assigned_at=record.assignment.assigned_at,
                locked_until=record.assignment.locked_until,
                holds_until=record.assignment.holds_until,
                reason=record.assignment.reason,
            ),
            perks=list(record.perks),
            history=[
                TierChange(
                    from_tier=c.from_tier, to_tier=c.to_tier, reason=c.reason, at=c.at, note=c.note
                )
                for c in record.history
            ],
        )


async def tier_status_of(program_id: int, member_id: int) -> TierStatus | None:
    record = await tiers_service.tier_status(program_id, member_id)
    return None if record is None else TierStatus.from_record(record)


# --- inputs and payloads ----------------------------------------------------------------------


@strawberry.input
class TierDefinition:
    name: str
    threshold: int
    earn_multiplier: str | None = strawberry.field(
        default=None, description="Above 1, at most 10, 2 decimals at most."
    )
    reward_discount_percent: int = strawberry.field(default=0, description="0 to 90.")
    entry_points: int = 0
    entry_reward_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Reward of the program given on first entry."
    )
    perks: list[str] = strawberry.field(
        default_factory=list, description="Texts for storefronts, 20 at most, 200 chars each."
    )
    renamed_from: str | None = strawberry.field(
        default=None,
        description="The tier's current name, to rename it: its holders, history and the"
        " rewards that require it follow. A tier left out of the list is retired (refused with"
        " TIER_IN_USE while a reward requires it).",
    )


@strawberry.input(description="The whole configuration; tiers lowest first, matched by name.")
class ConfigureTiersInput:
    program_slug: str
    metric: TierMetricEnum  # type: ignore[valid-type]
    period: TierPeriodEnum  # type: ignore[valid-type]
    downgrade: DowngradePolicyEnum  # type: ignore[valid-type]
    tiers: list[TierDefinition]
    grace_days: int = strawberry.field(default=0, description="GRACE_PERIOD only.")


@strawberry.type
class ConfigureTiersPayload:
    tier_program: TierProgram | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Set a member's tier by hand: a floor (they can still earn their way above it)"
    " until lockedUntil, or without it as long as the downgrade policy keeps a tier reached"
    " now. Refused below what the member already holds (TIER_BELOW_EARNED)."
)
class AssignMemberTierInput:
    member_id: strawberry.ID
    tier_name: str
    reason: str = strawberry.field(description="Kept in the member's tier history.")
    idempotency_key: str
    locked_until: datetime | None = None


@strawberry.input
class ClearMemberTierAssignmentInput:
    member_id: strawberry.ID
    reason: str
    idempotency_key: str


@strawberry.type
class TierAssignmentPayload:
    assignment: TierAssignment | None = None
    tier_status: TierStatus | None = strawberry.field(
        default=None, description="The member's standing after the change."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _assignment_payload(result: tiers_service.AssignmentResult) -> TierAssignmentPayload:
    status = await tier_status_of(result.program_id, result.member_id)
    record = result.assignment
    holds_until = (
        None if status is None or status.assignment is None else status.assignment.holds_until
    )
    return TierAssignmentPayload(
        assignment=TierAssignment(
            tier_name=record.tier_name,
            assigned_at=record.assigned_at,
            locked_until=record.locked_until,
            holds_until=record.cleared_at if record.cleared_at is not None else holds_until,
            reason=record.reason,
        ),
        tier_status=status,
    )


# --- queries and mutations --------------------------------------------------------------------


@strawberry.type
class TierQueries:
    @strawberry.field(
        description="A program's tiers, for any key of the program (storefronts show them);"
        " null when it has none."
    )
    async def tier_program(self, info: Info, program_slug: str) -> TierProgram | None:
        principal = principal_of(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return None
        record = await tiers_service.tier_program_of(program.id)
        return None if record is None else TierProgram.from_record(record)


@strawberry.type
class TierMutations:
    @strawberry.mutation(
        description="Admin only: set a program's tiers. Members are moved to the new rules by"
        " the tiers-recalculate job (tierProgram.recalculationPending says it is due)."
    )
    async def configure_tiers(
        self, info: Info, input: ConfigureTiersInput
    ) -> ConfigureTiersPayload:
        async def work() -> ConfigureTiersPayload:
            admin(info)
            record = await tier_configuration.configure_tiers(
                tier_configuration.ConfigureTiersInput(
                    program_slug=input.program_slug,
                    metric=input.metric,
                    period=input.period,
                    downgrade=input.downgrade,
                    grace_days=input.grace_days,
                    tiers=tuple(
                        tier_configuration.TierInput(
                            name=tier.name,
                            threshold=tier.threshold,
                            earn_multiplier=tier.earn_multiplier,
                            reward_discount_percent=tier.reward_discount_percent,
                            entry_points=tier.entry_points,
                            perks=tuple(tier.perks),
                            renamed_from=tier.renamed_from,
                            entry_reward_id=None
                            if tier.entry_reward_id is None
                            else decode_id(
                                tier.entry_reward_id,
                                "Reward",
                                ["input", "tiers", str(index), "entryRewardId"],
                            ),
                        )
                        for index, tier in enumerate(input.tiers)
                    ),
                )
            )
            return ConfigureTiersPayload(tier_program=TierProgram.from_record(record))

        return await guarded(lambda errors: ConfigureTiersPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: set a member's tier by hand (see AssignMemberTierInput); the"
        " change is in the member's tier history with reason MANUAL and a tier.changed event."
    )
    async def assign_member_tier(
        self, info: Info, input: AssignMemberTierInput
    ) -> TierAssignmentPayload:
        async def work() -> TierAssignmentPayload:
            principal = admin(info)
            member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
            result = await tiers_service.assign_member_tier(
                tiers_service.AssignTierInput(
                    member_id=member_id,
                    tier_name=input.tier_name,
                    reason=input.reason,
                    idempotency_key=input.idempotency_key,
                    locked_until=input.locked_until,
                ),
                principal.program_scope,
            )
            return await _assignment_payload(result)

        return await guarded(lambda errors: TierAssignmentPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: end a member's tier assignment now; they hold at once what"
        " their history earns (reason MANUAL)."
    )
    async def clear_member_tier_assignment(
        self, info: Info, input: ClearMemberTierAssignmentInput
    ) -> TierAssignmentPayload:
        async def work() -> TierAssignmentPayload:
            principal = admin(info)
            member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
            result = await tiers_service.clear_member_tier_assignment(
                tiers_service.ClearAssignmentInput(
                    member_id=member_id,
                    reason=input.reason,
                    idempotency_key=input.idempotency_key,
                ),
                principal.program_scope,
            )
            return await _assignment_payload(result)

        return await guarded(lambda errors: TierAssignmentPayload(user_errors=errors), work)
