"""Mutations: one `input`, one payload with `userErrors`; expected failures are data."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import LifetimeUnit, RoundTo
from app.graphql.catalogue import CatalogueMutations
from app.graphql.context import Info, acting_for_member, admin, member_reader
from app.graphql.errors import UserError, guarded
from app.graphql.ids import decode_id
from app.graphql.memberships import MembershipMutations
from app.graphql.punch_cards import PunchCardMutations
from app.graphql.referrals import Referral, ReferralMutations, ReferralSignalsInput, signals_of
from app.graphql.store_credit import StoreCreditMutations
from app.graphql.tiers import TierMutations
from app.graphql.types import (
    ActionKindEnum,
    ActionRule,
    EarningRule,
    ExpiryPolicyEnum,
    FrequencyEnum,
    LifetimeUnitEnum,
    Member,
    Order,
    Program,
    Redemption,
    RefundShortfallPolicyEnum,
    RoundingEnum,
    RoundToEnum,
    RuleKindEnum,
)
from app.services.access import member_tokens as member_tokens_service
from app.services.actions import service as actions_service
from app.services.ledger import adjustments as points_service
from app.services.members import enrolment
from app.services.members import opt_out as opt_out_service
from app.services.members import service as members_service
from app.services.orders import earning_rules as earning_rules_service
from app.services.orders import refunds as refunds_service
from app.services.orders import service as orders_service
from app.services.programs import service as programs_service
from app.services.referrals import service as referrals_service
from app.services.rewards import service as rewards_service

_OUTSIDE_RULE = frozenset({"programSlug", "id"})


def _in_rule(errors: list[UserError]) -> list[UserError]:
    """Rule definitions are nested under `input.rule`: point the fields there."""
    for error in errors:
        field = error.field
        if field and len(field) >= 2 and field[0] == "input" and field[1] not in _OUTSIDE_RULE:
            error.field = ["input", "rule", *field[1:]]
    return errors


@strawberry.input
class CreateProgramInput:
    slug: str = strawberry.field(description="Lowercase letters, digits and dashes.")
    name: str
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")
    points_per_currency_unit: int = strawberry.field(
        description="Points per whole unit of currency in the order's earning base."
    )
    rounding: RoundingEnum = Rounding.FLOOR  # type: ignore[valid-type]
    count_shipping: bool = False
    count_tax: bool = False
    minimum_order_minor: int = 0
    excluded_skus: list[str] = strawberry.field(default_factory=list)
    excluded_categories: list[str] = strawberry.field(default_factory=list)
    pending_days: int = 0
    time_zone: str = strawberry.field(
        default="UTC", description="IANA zone of the program's calendar, e.g. Europe/Stockholm."
    )


@strawberry.type
class CreateProgramPayload:
    program: Program | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Expiry of a program's points; see the README's Expiry section.")
class ExpiryInput:
    policy: ExpiryPolicyEnum  # type: ignore[valid-type]
    lifetime: int = strawberry.field(
        default=0, description="LOT_LIFETIME: how long each lot lasts after it became available."
    )
    lifetime_unit: LifetimeUnitEnum = LifetimeUnit.MONTHS  # type: ignore[valid-type]
    round_to: RoundToEnum = RoundTo.NONE  # type: ignore[valid-type]
    inactivity_months: int = strawberry.field(
        default=0, description="INACTIVITY: idle months before everything unspent expires."
    )


@strawberry.input
class ExchangeRateInput:
    currency: str
    rate: str = strawberry.field(description='Program-currency units per unit, e.g. "1.0842".')


@strawberry.input(description="Leave a field out to keep its current value.")
class UpdateProgramSettingsInput:
    program_slug: str
    name: str | None = None
    time_zone: str | None = None
    pending_days: int | None = None
    expiry: ExpiryInput | None = strawberry.field(
        default=None,
        description="Turning expiry on never reaches back: earlier points count from now.",
    )
    expiry_warning_days: int | None = None
    refund_shortfall_policy: RefundShortfallPolicyEnum | None = None  # type: ignore[valid-type]
    exchange_rates: list[ExchangeRateInput] | None = strawberry.field(
        default=None, description="Replaces the whole list."
    )
    earn_on_points_payments: bool | None = None
    cors_origins: list[str] | None = strawberry.field(
        default=None,
        description="Storefront origins (scheme://host[:port]) browsers may call the API from"
        " with this program's keys; replaces the whole list.",
    )
    member_token_max_seconds: int | None = strawberry.field(
        default=None, description="The longest a member token may live (60 to 86400)."
    )


@strawberry.type
class UpdateProgramSettingsPayload:
    program: Program | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RotateTokenSigningSecretInput:
    program_slug: str
    overlap_seconds: int = strawberry.field(
        default=3600,
        description="How long the secrets in use now stay valid next to the new one.",
    )


@strawberry.type
class RotateTokenSigningSecretPayload:
    key_id: str | None = strawberry.field(default=None, description="The `kid` to sign with.")
    secret: str | None = strawberry.field(
        default=None, description="Shown this once; Laurel cannot show it again."
    )
    previous_retire_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateMemberTokenInput:
    program_slug: str
    customer_id: str = strawberry.field(description="The store's id for the customer.")
    lifetime_seconds: int | None = strawberry.field(
        default=None, description="At most the program's memberTokenMaxSeconds (the default)."
    )


@strawberry.type
class CreateMemberTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="Send it as the X-Member-Token header with the publishable key."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EnrollMemberInput:
    program_slug: str
    customer_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str | None = None
    name: str | None = None
    birthday: date | None = None
    referral_code: str | None = strawberry.field(
        default=None,
        description="A referrer's code: the referral is recorded with the enrolment (fraud rules"
        " may reject or hold it; the enrolment stands). An unknown code refuses the enrolment.",
    )
    signals: ReferralSignalsInput | None = None


@strawberry.type
class EnrollMemberPayload:
    member: Member | None = None
    referral: Referral | None = strawberry.field(
        default=None, description="The referral the member came with, if any."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None

    def to_service(self) -> orders_service.OrderLineInput:
        return orders_service.OrderLineInput(
            sku=self.sku,
            quantity=self.quantity,
            unit_price_minor=self.unit_price_minor,
            category=self.category,
        )


@strawberry.input
class RecordOrderInput:
    program_slug: str
    customer_id: str
    order_id: str = strawberry.field(
        description="The store's order id: reporting it again never earns twice."
    )
    currency: str
    total_minor: int = strawberry.field(
        description="Must equal lines + shipping + tax - discount, in minor units."
    )
    lines: list[OrderLineInput]
    placed_at: datetime
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    idempotency_key: str | None = None
    exchange_rate: str | None = strawberry.field(
        default=None,
        description="For an order in another currency: program-currency units per order-currency"
        ' unit, e.g. "0.0921" for SEK in a EUR program. Points are earned on the converted cart.'
        " Omit to use the rate the program configures for the currency; this one wins.",
    )
    paid_with_points_minor: int = strawberry.field(
        default=0,
        description="Money of the order paid with points (0 to totalMinor). Unless the program"
        " earns on such payments, it is taken off the line bases in proportion.",
    )
    paid_with_store_credit_minor: int = strawberry.field(
        default=0,
        description="Money of the order paid with store credit; treated like paidWithPointsMinor.",
    )


@strawberry.type
class RecordOrderPayload:
    order: Order | None = None
    already_recorded: bool = strawberry.field(
        default=False, description="True when this order was recorded before; nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RedeemRewardInput:
    member_id: strawberry.ID
    reward_id: strawberry.ID
    idempotency_key: str
    points: int | None = strawberry.field(
        default=None, description="PAY_WITH_POINTS only: the points to spend (min, max, step)."
    )


@strawberry.type
class RedeemRewardPayload:
    redemption: Redemption | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AdjustPointsInput:
    member_id: strawberry.ID
    points: int = strawberry.field(description="Positive to credit, negative to debit.")
    reason: str
    idempotency_key: str


@strawberry.type
class AdjustPointsPayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EarningRuleDefinition:
    name: str
    kind: RuleKindEnum  # type: ignore[valid-type]
    multiplier: str | None = strawberry.field(
        default=None, description="MULTIPLIER rules: above 1, at most 100, 2 decimals at most."
    )
    points: int | None = strawberry.field(
        default=None, description="BONUS_PER_UNIT (per unit) and BONUS_PER_ORDER (once)."
    )
    priority: int = 0
    exclusive: bool = False
    minimum_order_minor: int = 0
    include_skus: list[str] = strawberry.field(default_factory=list)
    include_categories: list[str] = strawberry.field(default_factory=list)
    exclude_skus: list[str] = strawberry.field(default_factory=list)
    exclude_categories: list[str] = strawberry.field(default_factory=list)
    starts_at: datetime | None = strawberry.field(
        default=None, description="A campaign starts here (inclusive)."
    )
    ends_at: datetime | None = strawberry.field(
        default=None, description="A campaign ends here (exclusive)."
    )
    eligible_tiers: list[str] = strawberry.field(
        default_factory=list,
        description="Restrict to members of these tiers (by name; see configureTiers).",
    )
    eligible_segments: list[str] = strawberry.field(
        default_factory=list,
        description="Restrict to members of these segments (segments are not assigned yet).",
    )

    def to_service(self) -> earning_rules_service.RuleInput:
        return earning_rules_service.RuleInput(
            name=self.name,
            kind=self.kind,
            multiplier=self.multiplier,
            points=self.points,
            priority=self.priority,
            exclusive=self.exclusive,
            minimum_order_minor=self.minimum_order_minor,
            include_skus=tuple(self.include_skus),
            include_categories=tuple(self.include_categories),
            exclude_skus=tuple(self.exclude_skus),
            exclude_categories=tuple(self.exclude_categories),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            eligible_tiers=tuple(self.eligible_tiers),
            eligible_segments=tuple(self.eligible_segments),
        )


@strawberry.input
class CreateEarningRuleInput:
    program_slug: str
    rule: EarningRuleDefinition


@strawberry.input
class UpdateEarningRuleInput:
    id: strawberry.ID
    rule: EarningRuleDefinition


@strawberry.input
class SetEarningRulePausedInput:
    id: strawberry.ID
    paused: bool


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RefundLineInput:
    line_index: int = strawberry.field(description="The line's position in recordOrder's lines.")
    quantity: int


@strawberry.input
class RefundOrderInput:
    program_slug: str
    order_id: str
    idempotency_key: str
    lines: list[RefundLineInput] | None = strawberry.field(
        default=None,
        description="Omit (with amountMinor) to refund everything not refunded yet.",
    )
    amount_minor: int | None = strawberry.field(
        default=None,
        description="Money refunded, in the order's currency, instead of lines: takes back"
        " floor(pointsEarned x refunded money / totalMinor) cumulatively, at most what is left;"
        " refunding the rest of the total takes back the rest of the points.",
    )
    cancel: bool = strawberry.field(
        default=False, description="The order was cancelled rather than refunded."
    )
    reason: str | None = None


@strawberry.type
class RefundOrderPayload:
    order: Order | None = None
    points_reversed: int = 0
    points_unrecovered: int = strawberry.field(
        default=0,
        description="Points the member had already spent, written off (WRITE_OFF policy); under"
        " NEGATIVE_BALANCE they are taken back as a debt and counted in pointsReversed.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ActionRuleDefinition:
    name: str
    action: ActionKindEnum  # type: ignore[valid-type]
    points: int
    frequency: FrequencyEnum  # type: ignore[valid-type]
    frequency_limit: int = 1
    qualifier: str | None = strawberry.field(
        default=None,
        description="The network of SOCIAL_FOLLOW / SOCIAL_SHARE; the name of a CUSTOM event.",
    )
    cap_points: int | None = None
    self_service: bool = strawberry.field(
        default=False,
        description="Members may report it themselves with a member token (e.g. a sign-up).",
    )

    def to_service(self) -> actions_service.ActionRuleInput:
        return actions_service.ActionRuleInput(
            name=self.name,
            action=self.action,
            points=self.points,
            frequency=self.frequency,
            frequency_limit=self.frequency_limit,
            qualifier=self.qualifier,
            cap_points=self.cap_points,
            self_service=self.self_service,
        )


@strawberry.input
class CreateActionRuleInput:
    program_slug: str
    rule: ActionRuleDefinition


@strawberry.input
class UpdateActionRuleInput:
    id: strawberry.ID
    rule: ActionRuleDefinition


@strawberry.input
class SetActionRulePausedInput:
    id: strawberry.ID
    paused: bool


@strawberry.type
class ActionRulePayload:
    rule: ActionRule | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RecordActionInput:
    member_id: strawberry.ID
    action: ActionKindEnum  # type: ignore[valid-type]
    idempotency_key: str
    qualifier: str | None = None
    reference: str | None = strawberry.field(
        default=None, description="The store's id of what was done (a review id): earns once."
    )
    occurred_at: datetime | None = None


@strawberry.type
class RecordActionPayload:
    points_earned: int = 0
    already_recorded: bool = False
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReportOrderProgressInput:
    program_slug: str
    order_id: str
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = strawberry.field(
        default=None, description="Delivery; pending points then mature pendingDays after it."
    )


@strawberry.type
class ReportOrderProgressPayload:
    order: Order | None = None
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


@strawberry.type
class Mutation(
    ReferralMutations,
    StoreCreditMutations,
    PunchCardMutations,
    TierMutations,
    MembershipMutations,
    CatalogueMutations,
):
    @strawberry.mutation(description="Admin only.")
    async def create_program(self, info: Info, input: CreateProgramInput) -> CreateProgramPayload:
        async def work() -> CreateProgramPayload:
            admin(info)
            record = await programs_service.create_program(
                programs_service.CreateProgramInput(
                    slug=input.slug,
                    name=input.name,
                    currency=input.currency,
                    points_per_currency_unit=input.points_per_currency_unit,
                    rounding=input.rounding,
                    count_shipping=input.count_shipping,
                    count_tax=input.count_tax,
                    minimum_order_minor=input.minimum_order_minor,
                    excluded_skus=tuple(input.excluded_skus),
                    excluded_categories=tuple(input.excluded_categories),
                    pending_days=input.pending_days,
                    time_zone=input.time_zone,
                )
            )
            return CreateProgramPayload(program=Program.from_record(record))

        return await guarded(lambda errors: CreateProgramPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: change a program's settings.")
    async def update_program_settings(
        self, info: Info, input: UpdateProgramSettingsInput
    ) -> UpdateProgramSettingsPayload:
        async def work() -> UpdateProgramSettingsPayload:
            admin(info)
            expiry = input.expiry
            rates = input.exchange_rates
            if rates is not None and len({rate.currency for rate in rates}) != len(rates):
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    "a currency appears twice in exchangeRates",
                    ["input", "exchangeRates"],
                )
            record = await programs_service.update_program_settings(
                programs_service.UpdateProgramSettingsInput(
                    program_slug=input.program_slug,
                    name=input.name,
                    time_zone=input.time_zone,
                    pending_days=input.pending_days,
                    expiry=None
                    if expiry is None
                    else programs_service.ExpiryInput(
                        policy=expiry.policy,
                        lifetime=expiry.lifetime,
                        unit=expiry.lifetime_unit,
                        round_to=expiry.round_to,
                        inactivity_months=expiry.inactivity_months,
                    ),
                    expiry_warning_days=input.expiry_warning_days,
                    refund_shortfall_policy=input.refund_shortfall_policy,
                    exchange_rates=None
                    if rates is None
                    else {rate.currency: rate.rate for rate in rates},
                    earn_on_points_payments=input.earn_on_points_payments,
                    cors_origins=None if input.cors_origins is None else tuple(input.cors_origins),
                    member_token_max_seconds=input.member_token_max_seconds,
                )
            )
            return UpdateProgramSettingsPayload(program=Program.from_record(record))

        return await guarded(lambda errors: UpdateProgramSettingsPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: a new secret for signing member tokens; older ones retire"
        " after the overlap."
    )
    async def rotate_token_signing_secret(
        self, info: Info, input: RotateTokenSigningSecretInput
    ) -> RotateTokenSigningSecretPayload:
        async def work() -> RotateTokenSigningSecretPayload:
            admin(info)
            rotated = await member_tokens_service.rotate_signing_secret(
                input.program_slug, input.overlap_seconds
            )
            return RotateTokenSigningSecretPayload(
                key_id=rotated.key_id,
                secret=rotated.secret,
                previous_retire_at=rotated.previous_retire_at,
            )

        return await guarded(
            lambda errors: RotateTokenSigningSecretPayload(user_errors=errors), work
        )

    @strawberry.mutation(
        description="A short-lived member token for one customer (secret or admin key)."
    )
    async def create_member_token(
        self, info: Info, input: CreateMemberTokenInput
    ) -> CreateMemberTokenPayload:
        async def work() -> CreateMemberTokenPayload:
            principal = member_reader(info)
            created = await member_tokens_service.create_member_token(
                input.program_slug,
                input.customer_id,
                input.lifetime_seconds,
                principal.program_scope,
            )
            return CreateMemberTokenPayload(token=created.token, expires_at=created.expires_at)

        return await guarded(lambda errors: CreateMemberTokenPayload(user_errors=errors), work)

    @strawberry.mutation
    async def enroll_member(self, info: Info, input: EnrollMemberInput) -> EnrollMemberPayload:
        async def work() -> EnrollMemberPayload:
            principal = member_reader(info)
            record = await enrolment.enroll_member(
                enrolment.EnrollMemberInput(
                    program_slug=input.program_slug,
                    customer_id=input.customer_id,
                    email=input.email,
                    name=input.name,
                    birthday=input.birthday,
                    referral_code=input.referral_code,
                    signals=signals_of(input.signals),
                ),
                principal.program_scope,
            )
            referral = None
            if input.referral_code is not None:
                referral = await referrals_service.referral_of_friend(record.id)
            return EnrollMemberPayload(
                member=Member.from_record(record),
                referral=None if referral is None else Referral.from_record(referral),
            )

        return await guarded(lambda errors: EnrollMemberPayload(user_errors=errors), work)

    @strawberry.mutation(description="Report an order; it earns points once.")
    async def record_order(self, info: Info, input: RecordOrderInput) -> RecordOrderPayload:
        async def work() -> RecordOrderPayload:
            principal = member_reader(info)
            recorded = await orders_service.record_order(
                orders_service.RecordOrderInput(
                    program_slug=input.program_slug,
                    customer_id=input.customer_id,
                    order_id=input.order_id,
                    currency=input.currency,
                    total_minor=input.total_minor,
                    lines=[line.to_service() for line in input.lines],
                    placed_at=input.placed_at,
                    shipping_minor=input.shipping_minor,
                    tax_minor=input.tax_minor,
                    discount_minor=input.discount_minor,
                    idempotency_key=input.idempotency_key,
                    exchange_rate=input.exchange_rate,
                    paid_with_points_minor=input.paid_with_points_minor,
                    paid_with_store_credit_minor=input.paid_with_store_credit_minor,
                ),
                principal.program_scope,
            )
            return RecordOrderPayload(
                order=Order.from_record(recorded.order), already_recorded=recorded.already_recorded
            )

        return await guarded(lambda errors: RecordOrderPayload(user_errors=errors), work)

    @strawberry.mutation(description="Spend a member's points on a reward and issue its code.")
    async def redeem_reward(self, info: Info, input: RedeemRewardInput) -> RedeemRewardPayload:
        async def work() -> RedeemRewardPayload:
            member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
            principal = acting_for_member(info, member_id)
            redeemed = await rewards_service.redeem_reward(
                rewards_service.RedeemRewardInput(
                    member_id=member_id,
                    reward_id=decode_id(input.reward_id, "Reward", ["input", "rewardId"]),
                    idempotency_key=input.idempotency_key,
                    by_member=principal.is_member_session,
                    points=input.points,
                ),
                principal.program_scope,
            )
            return RedeemRewardPayload(redemption=Redemption.from_record(redeemed.redemption))

        return await guarded(lambda errors: RedeemRewardPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: credit or debit points with a reason.")
    async def adjust_points(self, info: Info, input: AdjustPointsInput) -> AdjustPointsPayload:
        async def work() -> AdjustPointsPayload:
            principal = admin(info)
            adjustment = await points_service.adjust_points(
                points_service.AdjustPointsInput(
                    member_id=decode_id(input.member_id, "Member", ["input", "memberId"]),
                    points=input.points,
                    reason=input.reason,
                    idempotency_key=input.idempotency_key,
                ),
                principal.program_scope,
            )
            return AdjustPointsPayload(member=Member.from_record(adjustment.member))

        return await guarded(lambda errors: AdjustPointsPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: add a purchase rule or campaign.")
    async def create_earning_rule(
        self, info: Info, input: CreateEarningRuleInput
    ) -> EarningRulePayload:
        async def work() -> EarningRulePayload:
            admin(info)
            record = await earning_rules_service.create_earning_rule(
                input.program_slug, input.rule.to_service()
            )
            return EarningRulePayload(rule=EarningRule.from_record(record))

        return await guarded(lambda errors: EarningRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Admin only: replace a rule; recorded orders keep theirs.")
    async def update_earning_rule(
        self, info: Info, input: UpdateEarningRuleInput
    ) -> EarningRulePayload:
        async def work() -> EarningRulePayload:
            admin(info)
            record = await earning_rules_service.update_earning_rule(
                decode_id(input.id, "EarningRule", ["input", "id"]), input.rule.to_service()
            )
            return EarningRulePayload(rule=EarningRule.from_record(record))

        return await guarded(lambda errors: EarningRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Admin only: pause or resume a rule.")
    async def set_earning_rule_paused(
        self, info: Info, input: SetEarningRulePausedInput
    ) -> EarningRulePayload:
        async def work() -> EarningRulePayload:
            admin(info)
            record = await earning_rules_service.set_earning_rule_paused(
                decode_id(input.id, "EarningRule", ["input", "id"]), input.paused
            )
            return EarningRulePayload(rule=EarningRule.from_record(record))

        return await guarded(lambda errors: EarningRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Take back what refunded lines earned; replays are harmless.")
    async def refund_order(self, info: Info, input: RefundOrderInput) -> RefundOrderPayload:
        async def work() -> RefundOrderPayload:
            principal = member_reader(info)
            result = await refunds_service.refund_order(
                refunds_service.RefundOrderInput(
                    program_slug=input.program_slug,
                    order_id=input.order_id,
                    idempotency_key=input.idempotency_key,
                    lines=None
                    if input.lines is None
                    else [
                        refunds_service.RefundLine(
                            line_index=line.line_index, quantity=line.quantity
                        )
                        for line in input.lines
                    ],
                    cancel=input.cancel,
                    reason=input.reason,
                    amount_minor=input.amount_minor,
                ),
                principal.program_scope,
            )
            return RefundOrderPayload(
                order=Order.from_record(result.order),
                points_reversed=result.points_reversed,
                points_unrecovered=result.points_unrecovered,
            )

        return await guarded(lambda errors: RefundOrderPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: points for an action, with limits.")
    async def create_action_rule(
        self, info: Info, input: CreateActionRuleInput
    ) -> ActionRulePayload:
        async def work() -> ActionRulePayload:
            admin(info)
            record = await actions_service.create_action_rule(
                input.program_slug, input.rule.to_service()
            )
            return ActionRulePayload(rule=ActionRule.from_record(record))

        return await guarded(lambda errors: ActionRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Admin only: replace an action rule's definition.")
    async def update_action_rule(
        self, info: Info, input: UpdateActionRuleInput
    ) -> ActionRulePayload:
        async def work() -> ActionRulePayload:
            admin(info)
            record = await actions_service.update_action_rule(
                decode_id(input.id, "ActionRule", ["input", "id"]), input.rule.to_service()
            )
            return ActionRulePayload(rule=ActionRule.from_record(record))

        return await guarded(lambda errors: ActionRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Admin only: pause or resume an action rule.")
    async def set_action_rule_paused(
        self, info: Info, input: SetActionRulePausedInput
    ) -> ActionRulePayload:
        async def work() -> ActionRulePayload:
            admin(info)
            record = await actions_service.set_action_rule_paused(
                decode_id(input.id, "ActionRule", ["input", "id"]), input.paused
            )
            return ActionRulePayload(rule=ActionRule.from_record(record))

        return await guarded(lambda errors: ActionRulePayload(user_errors=_in_rule(errors)), work)

    @strawberry.mutation(description="Report an action a member took; a reference earns once.")
    async def record_action(self, info: Info, input: RecordActionInput) -> RecordActionPayload:
        async def work() -> RecordActionPayload:
            member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
            principal = acting_for_member(info, member_id)
            by_member = principal.is_member_session
            if by_member and input.occurred_at is not None:
                raise DomainError(
                    ErrorCode.FORBIDDEN,
                    "a member reports an action as it happens: occurredAt is for the store",
                    ["input", "occurredAt"],
                )
            award = await actions_service.record_action(
                actions_service.RecordActionInput(
                    member_id=member_id,
                    action=input.action,
                    idempotency_key=input.idempotency_key,
                    qualifier=input.qualifier,
                    reference=input.reference,
                    occurred_at=input.occurred_at,
                    by_member=by_member,
                ),
                principal.program_scope,
            )
            member = await members_service.get_member(award.member_id, principal.program_scope)
            assert member is not None
            return RecordActionPayload(
                points_earned=award.points,
                already_recorded=award.already_recorded,
                member=Member.from_record(member),
            )

        return await guarded(lambda errors: RecordActionPayload(user_errors=errors), work)

    @strawberry.mutation(description="Report that an order was paid or delivered.")
    async def report_order_progress(
        self, info: Info, input: ReportOrderProgressInput
    ) -> ReportOrderProgressPayload:
        async def work() -> ReportOrderProgressPayload:
            principal = member_reader(info)
            record = await orders_service.report_order_progress(
                orders_service.OrderProgressInput(
                    program_slug=input.program_slug,
                    order_id=input.order_id,
                    paid_at=input.paid_at,
                    fulfilled_at=input.fulfilled_at,
                ),
                principal.program_scope,
            )
            return ReportOrderProgressPayload(order=Order.from_record(record))

        return await guarded(lambda errors: ReportOrderProgressPayload(user_errors=errors), work)

    @strawberry.mutation(description="Opt a member out of earning points, or back in.")
    async def set_member_opt_out(
        self, info: Info, input: SetMemberOptOutInput
    ) -> SetMemberOptOutPayload:
        async def work() -> SetMemberOptOutPayload:
            principal = member_reader(info)
            record = await opt_out_service.set_member_opt_out(
                opt_out_service.SetMemberOptOutInput(
                    member_id=decode_id(input.member_id, "Member", ["input", "memberId"]),
                    opted_out=input.opted_out,
                    idempotency_key=input.idempotency_key,
                ),
                principal.program_scope,
            )
            return SetMemberOptOutPayload(member=Member.from_record(record))

        return await guarded(lambda errors: SetMemberOptOutPayload(user_errors=errors), work)
