"""Backtest results: two runs over the same orders, side by side, now or as a job; a member's
what-if."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.ids import decode_id
from app.graphql.core.jobs import Job, job_fields, share_done
from app.graphql.core.records import from_record
from app.graphql.orders.types import RuleKindEnum
from app.graphql.tiers.types import TierMetricEnum
from app.services.backtests import service as backtests
from app.services.backtests.jobs import BacktestJobRecord


@strawberry.input(description="A purchase rule or campaign of a proposal.")
class BacktestRuleInput:
    name: str
    kind: RuleKindEnum  # type: ignore[valid-type]
    multiplier: str | None = None
    points: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    include_skus: list[str] | None = None
    include_categories: list[str] | None = None
    minimum_order_minor: int = 0


@strawberry.input(
    description="One of the program's own purchase rules or campaigns at another rate;"
    " everything else about it stays."
)
class BacktestRuleChangeInput:
    rule_id: strawberry.ID = strawberry.field(description="The EarningRule's id.")
    multiplier: str | None = strawberry.field(
        default=None, description="A MULTIPLIER rule's new multiplier, e.g. 3."
    )
    points: int | None = strawberry.field(
        default=None, description="A BONUS_PER_UNIT or BONUS_PER_ORDER rule's new points."
    )


@strawberry.input
class BacktestTierInput:
    name: str
    threshold: int
    earn_multiplier: str | None = None


@strawberry.input(description="What the proposal changes; a field left out keeps the program's.")
class BacktestProposalInput:
    points_per_currency_unit: int | None = None
    rules: list[BacktestRuleInput] | None = strawberry.field(
        default=None,
        description="Instead of the program's purchase rules and campaigns ([]: none).",
    )
    tier_metric: TierMetricEnum | None = None  # type: ignore[valid-type]
    tiers: list[BacktestTierInput] | None = strawberry.field(
        default=None, description="Instead of the program's tiers, lowest first ([]: none)."
    )
    expiry_days: int | None = strawberry.field(
        default=None,
        description="Lots expire this many days after they become available (0: never).",
    )
    rule_changes: list[BacktestRuleChangeInput] | None = strawberry.field(
        default=None,
        description="The program's own rules, each at another rate (not with rules).",
    )

    def to_service(self) -> backtests.Proposal:
        return backtests.Proposal(
            points_per_currency_unit=self.points_per_currency_unit,
            rules=None
            if self.rules is None
            else tuple(
                backtests.ProposedRule(
                    name=rule.name,
                    kind=rule.kind,
                    multiplier=rule.multiplier,
                    points=rule.points,
                    starts_at=rule.starts_at,
                    ends_at=rule.ends_at,
                    include_skus=tuple(rule.include_skus or ()),
                    include_categories=tuple(rule.include_categories or ()),
                    minimum_order_minor=rule.minimum_order_minor,
                )
                for rule in self.rules
            ),
            tier_metric=self.tier_metric,
            tiers=None
            if self.tiers is None
            else tuple(
                backtests.ProposedTier(
                    name=tier.name, threshold=tier.threshold, earn_multiplier=tier.earn_multiplier
                )
                for tier in self.tiers
            ),
            expiry_days=self.expiry_days,
            rule_changes=tuple(
                backtests.RuleChange(
                    rule_id=decode_id(
                        change.rule_id,
                        "EarningRule",
                        ["input", "proposal", "ruleChanges", str(index), "ruleId"],
                    ),
                    multiplier=change.multiplier,
                    points=change.points,
                )
                for index, change in enumerate(self.rule_changes or ())
            ),
        )


@strawberry.input
class BacktestProgramInput:
    program_slug: str
    from_: datetime = strawberry.field(name="from")
    to: datetime
    proposal: BacktestProposalInput | None = None

    def to_service(self) -> backtests.BacktestInput:
        return backtests.BacktestInput(
            program_slug=self.program_slug,
            start=self.from_,
            end=self.to,
            proposal=backtests.Proposal() if self.proposal is None else self.proposal.to_service(),
        )


@strawberry.type
class BacktestTierCount:
    name: str = strawberry.field(description="The tier's name; empty: below every tier.")
    members: int


@strawberry.type(description="One run's figures (the model: docs/capabilities/import.md).")
class BacktestFigures:
    points_issued: int
    expected_redemptions: int = strawberry.field(
        description="Points issued x the redemption rate observed in the period."
    )
    points_expired: int = strawberry.field(
        description="Points of lots expiring before `to`, less their expected redemptions."
    )
    liability_points: int = strawberry.field(
        description="Outstanding at `to`: issued - expected redemptions - expired."
    )
    members_per_tier: list[BacktestTierCount]
    points_per_order: float = strawberry.field(
        description="The program's cost per order, in points."
    )
    liability_minor: int | None = strawberry.field(
        description="liabilityPoints x the program's cost per point (minor units, rounded half to"
        " even), as programInsights values its liability; null until a cost per point is"
        " configured."
    )

    @classmethod
    def of(cls, figures: backtests.RunFigures) -> BacktestFigures:
        return from_record(
            cls,
            figures,
            members_per_tier=[
                BacktestTierCount(name=count.name, members=count.members)
                for count in figures.members_per_tier
            ],
        )


@strawberry.type(
    description="A proposal played over the period's real orders beside the program as it is"
    " (`current`), and what the orders actually recorded. Nothing is written."
)
class BacktestResult:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    orders: int = strawberry.field(description="Member orders placed in the period.")
    members: int = strawberry.field(description="Members who placed them.")
    recorded_points_issued: int = strawberry.field(
        description="What those orders earned when they were recorded."
    )
    redemption_rate: float = strawberry.field(
        description="Points spent on rewards / points issued in the period (ledger)."
    )
    current: BacktestFigures
    proposed: BacktestFigures

    @classmethod
    def of(cls, result: backtests.BacktestResult) -> BacktestResult:
        return from_record(
            cls,
            result,
            from_=result.start,
            to=result.end,
            current=BacktestFigures.of(result.current),
            proposed=BacktestFigures.of(result.proposed),
        )


@strawberry.input
class WhatIfLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None


@strawberry.input
class WhatIfOrderInput:
    placed_at: datetime
    currency: str
    lines: list[WhatIfLineInput]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0


@strawberry.type
class MemberWhatIfStep:
    placed_at: datetime
    points: int
    tier: str | None = strawberry.field(description="The member's tier after this order.")
    balance_after: int = strawberry.field(
        description="Available and pending points now, plus what the orders so far earn, less"
        " what has expired by this order."
    )
    points_expired: int = strawberry.field(
        description="Points of the member's lots (held now, or earned by the orders before)"
        " expiring after the previous order and by this one."
    )


@strawberry.type
class MemberWhatIf:
    points: int
    steps: list[MemberWhatIfStep]


@strawberry.type(
    description="A backtest run in the background (startBacktest): its progress, and both runs'"
    " figures when DONE (docs/capabilities/backtests.md)."
)
class BacktestJob(Job):
    status: str = strawberry.field(description="QUEUED, RUNNING, DONE or FAILED.")
    program_slug: str
    from_: datetime = strawberry.field(name="from")
    to: datetime
    orders_total: int = strawberry.field(
        description="Member orders in the period, counted when the job started (0 before)."
    )
    orders_done: int = strawberry.field(description="Orders played so far.")
    progress: float = strawberry.field(description="The share of the orders played, 0 to 1.")
    result: BacktestResult | None = strawberry.field(description="Set once DONE.")
    failure: str | None = strawberry.field(description="Why the backtest stopped (FAILED).")

    @classmethod
    def from_record(cls, record: BacktestJobRecord) -> BacktestJob:
        # The orders are counted when the job starts: until then it has played none of them.
        if record.status == "DONE":
            progress = 1.0
        elif record.orders_total == 0:
            progress = 0.0
        else:
            progress = share_done(record.orders_done, record.orders_total)
        return cls(
            **job_fields("BacktestJob", record, progress),
            status=record.status,
            program_slug=record.input.program_slug,
            from_=record.input.start,
            to=record.input.end,
            orders_total=record.orders_total,
            orders_done=record.orders_done,
            result=None if record.result is None else BacktestResult.of(record.result),
        )
