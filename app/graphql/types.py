"""Object types. Each is built from a service record; lazy fields call services again."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry
from strawberry.scalars import JSON

from app.domain.actions import ActionKind, Frequency
from app.domain.earning import Rounding, RuleKind
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import ExpiryPolicy, LifetimeUnit, RoundTo
from app.domain.ledger import TransactionKind
from app.domain.rewards import (
    CodeSource,
    LimitPeriod,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
)
from app.graphql.compiled import shared_and_unchanging
from app.graphql.context import Info, member_reader, principal_of
from app.graphql.errors import query_error
from app.graphql.ids import decode_cursor, encode_cursor, encode_id
from app.services.actions.service import ActionRuleRecord
from app.services.core.events import EventRecord
from app.services.lifecycle import expiries as expiries_service
from app.services.members import service as members_service
from app.services.members.service import ActivityRecord, MemberRecord
from app.services.orders.earning_rules import EarningRuleRecord
from app.services.orders.service import OrderRecord
from app.services.programs.service import ProgramRecord, RefundShortfallPolicy
from app.services.referrals import service as referrals_service
from app.services.rewards import service as rewards_service
from app.services.rewards.service import RedemptionRecord, RewardRecord

if TYPE_CHECKING:
    from app.graphql.memberships import Membership
    from app.graphql.punch_cards import MemberPunchCard
    from app.graphql.referrals import Referral, ReferralConnection
    from app.graphql.store_credit import StoreCredit, StoreCreditMovementConnection
    from app.graphql.tiers import TierStatus

MAX_PAGE_SIZE = 100

ActivityKind = strawberry.enum(TransactionKind, name="ActivityKind")
RewardKindEnum = strawberry.enum(RewardKind, name="RewardKind")
RedemptionStatusEnum = strawberry.enum(RedemptionStatus, name="RedemptionStatus")
RedemptionSourceEnum = strawberry.enum(
    RedemptionSource,
    name="RedemptionSource",
    description="PURCHASE: bought with the member's points. GIFT: given by the program.",
)
RewardLimitPeriodEnum = strawberry.enum(
    LimitPeriod,
    name="RewardLimitPeriod",
    description="A per-member limit counts over all time (EVER) or per calendar day, ISO week,"
    " month or year in the program's time zone.",
)
CodeSourceEnum = strawberry.enum(
    CodeSource,
    name="RewardCodeSource",
    description="GENERATED: Laurel makes a random code. POOL: the next code the store uploaded.",
)
RoundingEnum = strawberry.enum(Rounding, name="Rounding")
ExpiryPolicyEnum = strawberry.enum(
    ExpiryPolicy, name="ExpiryPolicy", description="How a program's points expire."
)
LifetimeUnitEnum = strawberry.enum(LifetimeUnit, name="LifetimeUnit")
RoundToEnum = strawberry.enum(
    RoundTo, name="ExpiryRoundTo", description="Whether lot expiry is pushed to a period's end."
)
RefundShortfallPolicyEnum = strawberry.enum(
    RefundShortfallPolicy,
    name="RefundShortfallPolicy",
    description="WRITE_OFF forgives refunded points the member already spent; NEGATIVE_BALANCE"
    " keeps them as a debt that later earnings repay first.",
)


@strawberry.type(description="When the program's points expire (see the README's Expiry section).")
class ExpirySettings:
    policy: ExpiryPolicyEnum  # type: ignore[valid-type]
    lifetime: int = strawberry.field(description="LOT_LIFETIME: how long a lot lasts.")
    lifetime_unit: LifetimeUnitEnum  # type: ignore[valid-type]
    round_to: RoundToEnum  # type: ignore[valid-type]
    inactivity_months: int = strawberry.field(
        description="INACTIVITY: months without earning or spending before points expire."
    )
    since: datetime | None = strawberry.field(
        description="When expiry was turned on: points and idleness before count from here."
    )
    warning_days: int = strawberry.field(
        description="Days before an expiry that a `points.expiring` event goes out; 0: none."
    )


@strawberry.type
class ExchangeRate:
    currency: str
    rate: str = strawberry.field(description="Program-currency units per unit of `currency`.")


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise query_error(
            DomainError(ErrorCode.INVALID_VALUE, f"first must be between 1 and {MAX_PAGE_SIZE}")
        )
    return first


def cursor_position(after: str | None) -> int | None:
    try:
        return decode_cursor(after, ["after"])
    except DomainError as exc:
        raise query_error(exc) from exc


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


class _Edge(Protocol):
    @property
    def cursor(self) -> str: ...


def next_page_info(fetched: int, limit: int, edges: Sequence[_Edge]) -> PageInfo:
    """The page info of `edges`, the first `limit` of `fetched` rows: the resolvers fetch one
    row more than the page, so a next page exists when that extra row came back."""
    return PageInfo(has_next_page=fetched > limit, end_cursor=edges[-1].cursor if edges else None)


@strawberry.type(description="A store's loyalty program.")
class Program(Node):
    slug: str
    name: str
    currency: str = strawberry.field(description="ISO 4217 code all orders must use.")
    points_per_currency_unit: int
    rounding: RoundingEnum = strawberry.field(  # type: ignore[valid-type]
        description="How the order's base points are rounded."
    )
    count_shipping: bool
    count_tax: bool
    minimum_order_minor: int = strawberry.field(
        description="Orders whose earning base is below this earn nothing."
    )
    excluded_skus: list[str] = strawberry.field(description="SKUs that never earn points.")
    excluded_categories: list[str]
    pending_days: int = strawberry.field(
        description="Days purchase points stay pending (the return window) before use."
    )
    time_zone: str = strawberry.field(
        description="IANA zone of the program's calendar: birthdays, anniversaries, expiry."
    )
    expiry: ExpirySettings
    refund_shortfall_policy: RefundShortfallPolicyEnum  # type: ignore[valid-type]
    exchange_rates: list[ExchangeRate] = strawberry.field(
        description="Rates used for orders in other currencies that bring no rate of their own."
    )
    earn_on_points_payments: bool = strawberry.field(
        description="Whether money paid with points or store credit earns points."
    )
    cors_origins: list[str] = strawberry.field(
        description="Origins browsers may call the API from with this program's keys."
    )
    member_token_max_seconds: int = strawberry.field(
        description="The longest a member token may live."
    )
    active: bool
    created_at: datetime

    @classmethod
    def from_record(cls, record: ProgramRecord) -> Program:
        return cls(
            id=strawberry.ID(encode_id("Program", record.id)),
            slug=record.slug,
            name=record.name,
            currency=record.currency,
            points_per_currency_unit=record.points_per_currency_unit,
            rounding=record.rounding,
            count_shipping=record.count_shipping,
            count_tax=record.count_tax,
            minimum_order_minor=record.minimum_order_minor,
            excluded_skus=sorted(record.excluded_skus),
            excluded_categories=sorted(record.excluded_categories),
            pending_days=record.pending_days,
            time_zone=record.time_zone,
            expiry=ExpirySettings(
                policy=record.expiry.policy,
                lifetime=record.expiry.lifetime,
                lifetime_unit=record.expiry.unit,
                round_to=record.expiry.round_to,
                inactivity_months=record.expiry.inactivity_months,
                since=record.expiry.since,
                warning_days=record.expiry.warning_days,
            ),
            refund_shortfall_policy=record.refund_shortfall_policy,
            exchange_rates=[
                ExchangeRate(currency=currency, rate=rate)
                for currency, rate in sorted(record.exchange_rates.items())
            ],
            earn_on_points_payments=record.earn_on_points_payments,
            cors_origins=sorted(record.cors_origins),
            member_token_max_seconds=record.member_token_max_seconds,
            active=record.active,
            created_at=record.created_at,
        )


@strawberry.type
class Points:
    available: int = strawberry.field(
        description="Spendable points: what the member can redeem now (0 while debt is owed)."
    )
    pending: int = strawberry.field(description="Points earned but not yet spendable.")
    lifetime_earned: int
    lifetime_redeemed: int
    debt: int = strawberry.field(
        description="Points refunds took back beyond what the member had (NEGATIVE_BALANCE"
        " policy): new points repay it before they become available, and no reward can be"
        " redeemed while it is above 0. The balance net of debt is available - debt."
    )


@shared_and_unchanging
@strawberry.type(description="One movement of the member's points.")
class Activity(Node):
    kind: ActivityKind  # type: ignore[valid-type]
    points: int = strawberry.field(description="Signed change of the member's points.")
    description: str
    order_id: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, record: ActivityRecord) -> Activity:
        return cls(
            id=strawberry.ID(encode_id("Activity", record.id)),
            kind=TransactionKind(record.kind),
            points=record.points,
            description=record.description,
            order_id=record.order_ref,
            created_at=record.created_at,
        )


@shared_and_unchanging
@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


# Ledger transactions are append-only (a trigger refuses UPDATE and DELETE on both databases):
# the edge of one is made once and shared by the requests that list it, with the answers plans
# keep on it. Keyed by the whole record, not its id, so a record is never taken for another
# database's transaction with the same id.
ACTIVITY_EDGE_CACHE_SIZE = 2048


@functools.lru_cache(maxsize=ACTIVITY_EDGE_CACHE_SIZE)
def _activity_edge(record: ActivityRecord) -> ActivityEdge:
    return ActivityEdge(cursor=encode_cursor(record.id), node=Activity.from_record(record))


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo


@strawberry.type(description="Points that will expire on one day unless they are spent.")
class PointsExpiry:
    points: int
    expires_at: datetime = strawberry.field(description="The first moment of the day they go.")
    expires_on: date = strawberry.field(description="The day, in the program's time zone.")


@strawberry.type(description="A customer enrolled in a program.")
class Member(Node):
    customer_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str | None
    name: str | None
    birthday: date | None
    enrolled_at: datetime
    points: Points
    opted_out: bool = strawberry.field(
        description="The member opted out of earning: orders earn 0, actions are refused."
        " Balances stay and redeeming still works."
    )
    opted_out_at: datetime | None = strawberry.field(description="When the member opted out.")
    member_pk: strawberry.Private[int]
    program_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: MemberRecord) -> Member:
        return cls(
            id=strawberry.ID(encode_id("Member", record.id)),
            customer_id=record.customer_id,
            email=record.email,
            name=record.name,
            birthday=record.birthday,
            enrolled_at=record.enrolled_at,
            points=Points(
                available=record.points_available,
                pending=record.points_pending,
                lifetime_earned=record.lifetime_earned,
                lifetime_redeemed=record.lifetime_redeemed,
                debt=record.points_debt,
            ),
            opted_out=record.opted_out_at is not None,
            opted_out_at=record.opted_out_at,
            member_pk=record.id,
            program_pk=record.program_id,
        )

    @strawberry.field(description="Ledger movements, newest first.")
    async def activity(self, first: int = 10, after: str | None = None) -> ActivityConnection:
        limit = page_size(first)
        rows = await members_service.list_activity(
            self.member_pk, before_id=cursor_position(after), limit=limit + 1
        )
        edges = [_activity_edge(row) for row in rows[:limit]]
        return ActivityConnection(
            edges=edges,
            page_info=next_page_info(len(rows), limit, edges),
        )

    @strawberry.field(
        description="Active rewards of the program the member can redeem now, cheapest first:"
        " in stock, within their limits and tier restrictions, and affordable at the member's"
        " own price (their tier's discount; memberRewards shows the price and every refusal)."
        " None while points are owed."
    )
    async def available_rewards(self) -> list[Reward]:
        options = await rewards_service.reward_options(self.member_pk, self.program_pk)
        return [Reward.from_record(option.reward) for option in options if option.refusal is None]

    @strawberry.field(
        description="The next dates the member's available points expire, soonest first,"
        " with how many; empty when the program's points do not expire."
    )
    async def next_expiries(self, first: int = 5) -> list[PointsExpiry]:
        rows = await expiries_service.next_expiries(
            self.member_pk, self.program_pk, page_size(first)
        )
        return [
            PointsExpiry(points=row.points, expires_at=row.expires_at, expires_on=row.expires_on)
            for row in rows
        ]

    @strawberry.field
    async def program(self, info: Info) -> Program:
        record = await info.context.loaders.program.load(self.program_pk)
        assert record is not None
        return Program.from_record(record)

    @strawberry.field(
        description="The member's referral code: stable, unique in the program, made on first"
        " read while the program's referrals are on."
    )
    async def referral_code(self) -> str | None:
        return (await referrals_service.member_code(self.member_pk, self.program_pk)).code

    @strawberry.field(description="The program's link template with the member's code.")
    async def referral_link(self) -> str | None:
        return (await referrals_service.member_code(self.member_pk, self.program_pk)).link

    @strawberry.field(description="The referrals this member made, newest first.")
    async def referrals(
        self, first: int = 10, after: str | None = None
    ) -> Annotated[ReferralConnection, strawberry.lazy("app.graphql.referrals")]:
        from app.graphql.referrals import referral_connection

        return await referral_connection(
            self.program_pk, referrer_id=self.member_pk, state=None, first=first, after=after
        )

    @strawberry.field(description="The member's store credit: money the store's checkout spends.")
    async def store_credit(
        self,
    ) -> Annotated[StoreCredit, strawberry.lazy("app.graphql.store_credit")]:
        from app.graphql.store_credit import store_credit_of

        return await store_credit_of(self.member_pk)

    @strawberry.field(description="Movements of the member's store credit, newest first.")
    async def store_credit_history(
        self, first: int = 10, after: str | None = None
    ) -> Annotated[StoreCreditMovementConnection, strawberry.lazy("app.graphql.store_credit")]:
        from app.graphql.store_credit import store_credit_history

        return await store_credit_history(self.member_pk, first=first, after=after)

    @strawberry.field(
        description="The member's punch cards: the program's active cards, and retired ones the"
        " member has punches or rewards on."
    )
    async def punch_cards(
        self,
    ) -> list[Annotated[MemberPunchCard, strawberry.lazy("app.graphql.punch_cards")]]:
        from app.graphql.punch_cards import member_punch_cards

        return await member_punch_cards(self.member_pk, self.program_pk)

    @strawberry.field(description="The referral that brought this member, if any.")
    async def referred_by(
        self, info: Info
    ) -> Annotated[Referral, strawberry.lazy("app.graphql.referrals")] | None:
        from app.graphql.referrals import referred_by

        return await referred_by(info, self.member_pk)

    @strawberry.field(
        description="The member's tier, what the next one needs and what keeping this one needs,"
        " and the history of changes; null when the program has no tiers."
    )
    async def tier_status(
        self,
    ) -> Annotated[TierStatus, strawberry.lazy("app.graphql.tiers")] | None:
        from app.graphql.tiers import tier_status_of

        return await tier_status_of(self.program_pk, self.member_pk)

    @strawberry.field(description="The member's paid memberships, newest first, ended ones too.")
    async def memberships(
        self, info: Info
    ) -> list[Annotated[Membership, strawberry.lazy("app.graphql.memberships")]]:
        from app.graphql.memberships import memberships_of

        return await memberships_of(info, self.member_pk)


@strawberry.type(description="Something members can buy with points.")
class Reward(Node):
    name: str
    description: str
    kind: RewardKindEnum  # type: ignore[valid-type]
    cost_points: int = strawberry.field(
        description="PAY_WITH_POINTS: the smallest spend (pointsMin)."
    )
    value_minor: int | None = strawberry.field(
        description="Face value in minor units of `currency`: FIXED_DISCOUNT, STORE_CREDIT,"
        " CHARITY."
    )
    stock: int | None = strawberry.field(description="Units left; null means unlimited.")
    active: bool
    created_at: datetime
    currency: str | None = strawberry.field(description="For kinds worth money.")
    minimum_order_minor: int | None = strawberry.field(
        description="FIXED_DISCOUNT: the order must reach this."
    )
    percent_off: int | None = strawberry.field(description="PERCENT_DISCOUNT: 1 to 100.")
    max_value_minor: int | None = strawberry.field(
        description="PERCENT_DISCOUNT: the cap; FREE_SHIPPING: shipping free up to this."
    )
    skus: list[str] = strawberry.field(
        description="FREE_PRODUCT: any one of these; PERCENT_DISCOUNT: only on these."
    )
    categories: list[str] = strawberry.field(description="PERCENT_DISCOUNT: only on these.")
    charity_name: str | None = strawberry.field(description="CHARITY: who receives it.")
    points_min: int | None = strawberry.field(description="PAY_WITH_POINTS.")
    points_max: int | None = strawberry.field(description="PAY_WITH_POINTS.")
    points_step: int | None = strawberry.field(
        description="PAY_WITH_POINTS: spends are multiples of it."
    )
    per_member_limit: int | None = strawberry.field(
        description="Redemptions one member may buy per limitPeriod; null: no limit."
    )
    limit_period: RewardLimitPeriodEnum  # type: ignore[valid-type]
    starts_at: datetime | None
    ends_at: datetime | None
    retired_at: datetime | None = strawberry.field(
        description="Retired rewards stay for history; nobody can redeem them."
    )
    code_source: CodeSourceEnum  # type: ignore[valid-type]
    code_valid_days: int | None = strawberry.field(
        description="Codes expire this many days after they are issued; null: never."
    )
    image_urls: list[str]
    required_tiers: list[str] = strawberry.field(
        description="Tiers that may redeem it (empty: everyone)."
    )
    required_segments: list[str] = strawberry.field(
        description="Segments that may redeem it (empty: everyone)."
    )

    @classmethod
    def from_record(cls, record: RewardRecord) -> Reward:
        return cls(
            id=strawberry.ID(encode_id("Reward", record.id)),
            name=record.name,
            description=record.description,
            kind=record.kind,
            cost_points=record.cost_points,
            value_minor=record.value_minor,
            stock=record.stock,
            active=record.active,
            created_at=record.created_at,
            currency=record.currency,
            minimum_order_minor=record.minimum_order_minor,
            percent_off=record.percent_off,
            max_value_minor=record.max_value_minor,
            skus=list(record.skus),
            categories=list(record.categories),
            charity_name=record.charity_name,
            points_min=record.points_min,
            points_max=record.points_max,
            points_step=record.points_step,
            per_member_limit=record.per_member_limit,
            limit_period=record.limit_period,
            starts_at=record.starts_at,
            ends_at=record.ends_at,
            retired_at=record.retired_at,
            code_source=record.code_source,
            code_valid_days=record.code_valid_days,
            image_urls=list(record.image_urls),
            required_tiers=list(record.required_tiers),
            required_segments=list(record.required_segments),
        )


async def reward_for_reader(info: Info, reward_id: int | None) -> Reward | None:
    """A catalogue reward as this reader may see it: a storefront (publishable key) sees only
    what `rewards` lists, never an inactive or retired reward; admin and secret keys see all.
    Every field that leads to a configured reward (node, PunchCard.reward,
    MembershipPlan.welcomeReward, Tier.entryReward...) answers through this one rule."""
    if reward_id is None:
        return None
    record = await info.context.loaders.reward.load(reward_id)
    if record is None:
        return None
    offered = record.active and record.retired_at is None
    if not (offered or principal_of(info).can_read_members):
        return None
    return Reward.from_record(record)


async def _member_for(info: Info, member_id: int) -> Member:
    record = await info.context.loaders.member.load(member_id)
    assert record is not None
    return Member.from_record(record)


@strawberry.type(
    description="A reward bought with points (or given); `code` is what the checkout honours."
)
class Redemption(Node):
    code: str
    points_spent: int
    status: RedemptionStatusEnum  # type: ignore[valid-type]
    created_at: datetime
    source: RedemptionSourceEnum  # type: ignore[valid-type]
    value_minor: int | None = strawberry.field(
        description="What the code is worth in `currency`, when the reward has a value."
    )
    currency: str | None
    charity_name: str | None = strawberry.field(description="CHARITY: the donation's receiver.")
    expires_at: datetime | None
    used_at: datetime | None
    order_id: str | None = strawberry.field(description="The order that used the code.")
    cancelled_at: datetime | None
    expired_at: datetime | None
    member_pk: strawberry.Private[int]
    reward_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: RedemptionRecord) -> Redemption:
        return cls(
            id=strawberry.ID(encode_id("Redemption", record.id)),
            code=record.code,
            points_spent=record.points_spent,
            status=record.status,
            created_at=record.created_at,
            source=record.source,
            value_minor=record.value_minor,
            currency=record.currency,
            charity_name=record.charity_name,
            expires_at=record.expires_at,
            used_at=record.used_at,
            order_id=record.used_order_id,
            cancelled_at=record.cancelled_at,
            expired_at=record.expired_at,
            member_pk=record.member_id,
            reward_pk=record.reward_id,
        )

    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await _member_for(info, self.member_pk)

    @strawberry.field
    async def reward(self, info: Info) -> Reward:
        record = await info.context.loaders.reward.load(self.reward_pk)
        assert record is not None
        return Reward.from_record(record)


@strawberry.type(description="One reason a line (or the order's shipping or tax) earned points.")
class EarningComponent:
    source: str = strawberry.field(
        description="BASE, SHIPPING, TAX, RULE or TIER (the member's tier multiplier)."
    )
    rule_id: strawberry.ID | None = strawberry.field(description="The EarningRule, for RULE.")
    base_minor: int
    multiplier: str | None
    points: int


@strawberry.type
class LineEarning:
    index: int
    sku: str
    category: str | None
    quantity: int
    base_minor: int = strawberry.field(
        description="The line amount after its shares of the discount and of what was paid with"
        " points or store credit (when those do not earn)."
    )
    points: int
    components: list[EarningComponent]


@strawberry.type(description="Why an order earns what it does, line by line.")
class OrderEarning:
    points: int
    base_minor: int
    lines: list[LineEarning]
    order_components: list[EarningComponent]
    unearned_payment_minor: int = strawberry.field(
        description="Money paid with points or store credit, taken off the line bases."
    )
    no_points_reason: str | None = strawberry.field(
        description="Why the order earned nothing whatever its cart: MEMBER_OPTED_OUT."
    )

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> OrderEarning:
        def component(c: dict[str, Any]) -> EarningComponent:
            rule_id = c["ruleId"]
            return EarningComponent(
                source=c["source"],
                rule_id=None
                if rule_id is None
                else strawberry.ID(encode_id("EarningRule", rule_id)),
                base_minor=c["baseMinor"],
                multiplier=c["multiplier"],
                points=c["points"],
            )

        return cls(
            points=stored["points"],
            base_minor=stored["baseMinor"],
            lines=[
                LineEarning(
                    index=line["index"],
                    sku=line["sku"],
                    category=line["category"],
                    quantity=line["quantity"],
                    base_minor=line["baseMinor"],
                    points=line["points"],
                    components=[component(c) for c in line["components"]],
                )
                for line in stored["lines"]
            ],
            order_components=[component(c) for c in stored["orderComponents"]],
            unearned_payment_minor=stored.get("unearnedPaymentMinor", 0),
            no_points_reason=stored.get("noPointsReason"),
        )


@strawberry.type(description="An order the store reported, and what it earned.")
class Order(Node):
    order_id: str = strawberry.field(description="The store's own order id.")
    currency: str
    total_minor: int
    points_earned: int
    placed_at: datetime
    created_at: datetime
    status: str = strawberry.field(description="PLACED, PARTIALLY_REFUNDED, REFUNDED or CANCELLED.")
    exchange_rate: str | None = strawberry.field(
        description="Program-currency units per order-currency unit, for a foreign order."
    )
    paid_at: datetime | None
    fulfilled_at: datetime | None = strawberry.field(
        description="Delivery: the return window (pendingDays) runs from here."
    )
    points_refunded: int = strawberry.field(description="Points taken back by refunds so far.")
    refunded_minor: int = strawberry.field(
        description="Money refunded so far, in the order's currency: amount refunds add to it,"
        " a refund of every unit makes it totalMinor."
    )
    points_unrecovered: int = strawberry.field(
        description="Points refunds could not take back because the member had spent them"
        " (WRITE_OFF policy; under NEGATIVE_BALANCE they become the member's debt)."
    )
    earning: OrderEarning | None = strawberry.field(
        description="The breakdown stored when the order earned; refunds take back from it."
    )
    member_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return cls(
            id=strawberry.ID(encode_id("Order", record.id)),
            order_id=record.order_id,
            currency=record.currency,
            total_minor=record.total_minor,
            points_earned=record.points_earned,
            placed_at=record.placed_at,
            created_at=record.created_at,
            status=record.status,
            exchange_rate=record.exchange_rate,
            paid_at=record.paid_at,
            fulfilled_at=record.fulfilled_at,
            points_refunded=record.points_refunded,
            refunded_minor=record.refunded_minor,
            points_unrecovered=record.points_unrecovered,
            earning=None if record.earning is None else OrderEarning.from_json(record.earning),
            member_pk=record.member_id,
        )

    @strawberry.field
    async def member(self, info: Info) -> Member:
        member_reader(info)
        return await _member_for(info, self.member_pk)


RuleKindEnum = strawberry.enum(RuleKind, name="EarningRuleKind")


@strawberry.type(description="A purchase rule or campaign: how orders earn beyond the base rate.")
class EarningRule(Node):
    name: str
    kind: RuleKindEnum  # type: ignore[valid-type]
    multiplier: str | None = strawberry.field(description='MULTIPLIER rules, e.g. "2".')
    points: int | None = strawberry.field(description="BONUS_PER_UNIT and BONUS_PER_ORDER.")
    priority: int
    exclusive: bool
    minimum_order_minor: int
    include_skus: list[str]
    include_categories: list[str]
    exclude_skus: list[str]
    exclude_categories: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    eligible_tiers: list[str] = strawberry.field(
        description="Only members in one of these tiers earn it; empty means everyone."
    )
    eligible_segments: list[str] = strawberry.field(
        description="Only members in one of these segments earn it; empty means everyone."
    )
    paused: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: EarningRuleRecord) -> EarningRule:
        rule = record.rule
        return cls(
            id=strawberry.ID(encode_id("EarningRule", record.id)),
            name=record.name,
            kind=rule.kind,
            multiplier=None if rule.multiplier is None else str(rule.multiplier),
            points=rule.points,
            priority=rule.priority,
            exclusive=rule.exclusive,
            minimum_order_minor=rule.minimum_order_minor,
            include_skus=sorted(rule.filter.include_skus),
            include_categories=sorted(rule.filter.include_categories),
            exclude_skus=sorted(rule.filter.exclude_skus),
            exclude_categories=sorted(rule.filter.exclude_categories),
            starts_at=rule.starts_at,
            ends_at=rule.ends_at,
            eligible_tiers=sorted(rule.eligible_tiers),
            eligible_segments=sorted(rule.eligible_segments),
            paused=record.paused,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


ActionKindEnum = strawberry.enum(ActionKind, name="ActionKind")
FrequencyEnum = strawberry.enum(Frequency, name="ActionFrequency")


@strawberry.type(description="Points for an action: a review, a sign-up, a follow, a custom event.")
class ActionRule(Node):
    name: str
    action: ActionKindEnum  # type: ignore[valid-type]
    qualifier: str = strawberry.field(
        description="The network of a follow or share, the name of a custom event; else empty."
    )
    points: int
    frequency: FrequencyEnum  # type: ignore[valid-type]
    frequency_limit: int = strawberry.field(description="Awards allowed per period.")
    cap_points: int | None = strawberry.field(
        description="Most points one member earns from this rule, ever."
    )
    self_service: bool = strawberry.field(
        description="Members may report it themselves with a member token."
    )
    paused: bool
    created_at: datetime

    @classmethod
    def from_record(cls, record: ActionRuleRecord) -> ActionRule:
        return cls(
            id=strawberry.ID(encode_id("ActionRule", record.id)),
            name=record.name,
            action=record.action,
            qualifier=record.qualifier,
            points=record.points,
            frequency=record.frequency,
            frequency_limit=record.frequency_limit,
            cap_points=record.cap_points,
            self_service=record.self_service,
            paused=record.paused,
            created_at=record.created_at,
        )


@strawberry.type(description="A domain event from the outbox, in the order it happened.")
class Event(Node):
    type: str
    member_id: strawberry.ID | None
    payload: JSON
    created_at: datetime

    @classmethod
    def from_record(cls, record: EventRecord) -> Event:
        payload: Any = record.payload
        return cls(
            id=strawberry.ID(encode_id("Event", record.id)),
            type=record.type,
            member_id=(
                None
                if record.member_id is None
                else strawberry.ID(encode_id("Member", record.member_id))
            ),
            payload=payload,
            created_at=record.created_at,
        )


@strawberry.type
class EventEdge:
    cursor: str
    node: Event


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.type(description="One write made with an admin key.")
class AuditEntry:
    id: strawberry.ID
    api_key_id: int = strawberry.field(description="The key that made it (laurel list-api-keys).")
    operation: str = strawberry.field(description="The mutation.")
    target_type: str | None
    target_id: str | None = strawberry.field(description="Its global id, or the program slug.")
    input: JSON = strawberry.field(description="The arguments, secrets redacted.")
    before: JSON | None
    after: JSON | None
    succeeded: bool = strawberry.field(description="False when it ended in userErrors or errors.")
    request_id: str
    created_at: datetime


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo
