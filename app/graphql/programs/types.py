"""Programs in the API: a program and its settings."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.earning import Rounding
from app.domain.expiry import ExpiryPolicy, LifetimeUnit, RoundTo
from app.domain.locales import TranslatableField, TranslatableKind
from app.graphql.actions.types import ActionRule
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.translations.types import Locale, TranslatedName, localized
from app.services.actions import service as actions_service
from app.services.programs.service import ProgramRecord, RefundShortfallPolicy

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


@strawberry.type(description="A store's loyalty program.")
class Program(TranslatedName, Node):
    translatable = TranslatableKind.PROGRAM
    slug: str
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
    cors_allowed_headers: list[str] = strawberry.field(
        description="Request headers browsers may send from those origins, beyond the ones"
        " every program allows (docs/security.md)."
    )
    trusted_documents_only: bool = strawberry.field(
        description="Whether publishable keys may run only the program's trusted documents,"
        " sent by id (registerTrustedDocuments)."
    )
    member_token_max_seconds: int = strawberry.field(
        description="The longest a member token may live."
    )
    retro_credit_days: int = strawberry.field(
        description="Guest orders placed at most this many days before their customer enrols"
        " are credited at enrolment; 0 credits none."
    )
    cost_per_point_minor: str | None = strawberry.field(
        description="What one point costs the store, in minor units of the program's currency"
        " (decimal text); null until configured."
    )
    insights_for_secret_keys: bool = strawberry.field(
        description="Whether the program's secret keys may read its analytics (programInsights,"
        " programCohorts); admin keys always may."
    )
    active: bool
    created_at: datetime
    default_locale: str = strawberry.field(
        description="The language its names and descriptions are written in; translations"
        " (setTranslations) give them in others."
    )

    @strawberry.field(
        description="How the program works, for members and shoppers (set with"
        " setTranslations, in the default locale and others); empty when none is set."
    )
    async def description(self, info: Info, locale: Locale = None) -> str:
        return await localized(
            info,
            TranslatableKind.PROGRAM,
            self.pk,
            self.pk,
            TranslatableField.DESCRIPTION,
            "",
            locale,
        )

    @strawberry.field(
        description="The actions that earn points now (rules not paused), for storefronts to"
        " show: readable with any key of the program."
    )
    async def ways_to_earn(self, info: Info) -> list[ActionRule]:
        records = await actions_service.list_action_rules(self.pk)
        return [ActionRule.from_record(record) for record in records if not record.paused]

    @classmethod
    def from_record(cls, record: ProgramRecord) -> Program:
        return from_record(
            cls,
            record,
            program_pk=record.id,
            excluded_skus=sorted(record.excluded_skus),
            excluded_categories=sorted(record.excluded_categories),
            expiry=from_record(ExpirySettings, record.expiry, lifetime_unit=record.expiry.unit),
            exchange_rates=[
                ExchangeRate(currency=currency, rate=rate)
                for currency, rate in sorted(record.exchange_rates.items())
            ],
            cors_origins=sorted(record.cors_origins),
            cors_allowed_headers=sorted(record.cors_allowed_headers),
        )
