"""Tiers in the API: the levels, a program's configuration, a member's status."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.locales import TranslatableField, TranslatableKind
from app.domain.tiers import DowngradePolicy, TierChangeReason, TierMetric, TierPeriod
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.rewards.types import Reward, reward_for_reader
from app.graphql.translations.types import Locale, TranslatedName, localized_lines, messages_of
from app.services.messages.texts import keep_requirement, reach_requirement
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
class Tier(TranslatedName, Node):
    translatable = TranslatableKind.TIER
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
    perks_value: strawberry.Private[list[str]]
    entry_reward_pk: strawberry.Private[int | None]

    @strawberry.field(
        description="What storefronts show of the tier (free shipping, early access...), in"
        " the order configured; in the locale asked for (see `locale`)."
    )
    async def perks(self, info: Info, locale: Locale = None) -> list[str]:
        return await localized_lines(
            info,
            TranslatableKind.TIER,
            self.pk,
            self.program_pk,
            TranslatableField.PERKS,
            self.perks_value,
            locale,
        )

    @classmethod
    def from_record(cls, record: TierRecord) -> Tier:
        return from_record(
            cls,
            record,
            earn_multiplier=None if record.earn_multiplier is None else str(record.earn_multiplier),
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
        return from_record(cls, record, tiers=[Tier.from_record(tier) for tier in record.tiers])


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

    @strawberry.field(
        description="What the member still needs to reach the next tier, said in the reader's"
        ' language ("Spend 120,00 € more to reach Gold"); null: no next tier.'
    )
    async def next_tier_requirement(self, info: Info, locale: Locale = None) -> str | None:
        if self.next_tier is None or self.needed_for_next is None:
            return None
        name = await self.next_tier.translated_name(info, locale)
        return reach_requirement(
            messages_of(info, locale), self.metric, self.needed_for_next, self.currency, name
        )

    @strawberry.field(
        description="What the member still needs, and by when, to keep their tier, said in the"
        " reader's language; null when time never takes the tier or there is none."
    )
    async def keep_tier_requirement(self, info: Info, locale: Locale = None) -> str | None:
        if self.tier is None or self.needed_to_keep is None:
            return None
        name = await self.tier.translated_name(info, locale)
        return keep_requirement(
            messages_of(info, locale),
            self.metric,
            self.needed_to_keep,
            self.currency,
            name,
            self.needed_to_keep_by,
        )

    @classmethod
    def from_record(cls, record: TierStatusRecord) -> TierStatus:
        return from_record(
            cls,
            record,
            tier=None if record.tier is None else Tier.from_record(record.tier),
            metric=record.program.metric,
            period=record.program.period,
            currency=record.program.currency
            if record.program.metric is TierMetric.MONEY_SPENT
            else None,
            next_tier=None if record.next_tier is None else Tier.from_record(record.next_tier),
            assignment=None
            if record.assignment is None
            else from_record(TierAssignment, record.assignment),
            history=[from_record(TierChange, change) for change in record.history],
        )


async def tier_status_of(program_id: int, member_id: int) -> TierStatus | None:
    record = await tiers_service.tier_status(program_id, member_id)
    return None if record is None else TierStatus.from_record(record)
