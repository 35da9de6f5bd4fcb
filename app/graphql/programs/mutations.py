"""Program mutations: create a program and change its settings."""

from __future__ import annotations

import strawberry

from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import LifetimeUnit, RoundTo
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation
from app.graphql.programs.types import (
    ExpiryPolicyEnum,
    LifetimeUnitEnum,
    Program,
    RefundShortfallPolicyEnum,
    RoundingEnum,
    RoundToEnum,
)
from app.services.programs import service as programs_service


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


@mutation(description="Admin only.")
async def create_program(info: Info, input: CreateProgramInput) -> CreateProgramPayload:
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


@mutation(description="Admin only: change a program's settings.")
async def update_program_settings(
    info: Info, input: UpdateProgramSettingsInput
) -> UpdateProgramSettingsPayload:
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
            exchange_rates=None if rates is None else {rate.currency: rate.rate for rate in rates},
            earn_on_points_payments=input.earn_on_points_payments,
            cors_origins=None if input.cors_origins is None else tuple(input.cors_origins),
            member_token_max_seconds=input.member_token_max_seconds,
        )
    )
    return UpdateProgramSettingsPayload(program=Program.from_record(record))
