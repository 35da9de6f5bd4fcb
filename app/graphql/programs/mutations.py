"""Program mutations: create a program and change its settings."""

from __future__ import annotations

import strawberry

from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import LifetimeUnit, RoundTo
from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.core.records import service_input
from app.graphql.programs.types import (
    ExpiryPolicyEnum,
    LifetimeUnitEnum,
    Program,
    RefundShortfallPolicyEnum,
    RoundingEnum,
    RoundToEnum,
)
from app.services.documents import service as documents_service
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


_created_programs = RecordPayloads("Program", Program.from_record, CreateProgramPayload, "program")


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
    cors_allowed_headers: list[str] | None = strawberry.field(
        default=None,
        description="Request headers browsers may send from those origins beyond the ones"
        " every program allows (e.g. x-shop-locale); replaces the whole list.",
    )
    trusted_documents_only: bool | None = strawberry.field(
        default=None,
        description="Publishable keys may then run only the program's trusted documents, by"
        " id; register them first (registerTrustedDocuments).",
    )
    member_token_max_seconds: int | None = strawberry.field(
        default=None, description="The longest a member token may live (60 to 86400)."
    )
    retro_credit_days: int | None = strawberry.field(
        default=None,
        description="Orders of a customer who was not a member, placed at most this many days"
        " before they enrol and not refunded, are credited at enrolment (0 to 365; 0 credits"
        " none, the default).",
    )
    default_locale: str | None = strawberry.field(
        default=None,
        description="The language the program's names and descriptions are written in (a"
        " language tag, e.g. sv-SE): the last fallback of translated texts.",
    )
    cost_per_point_minor: str | None = strawberry.field(
        default=None,
        description="What one point costs the store, in minor units of the program's currency,"
        ' as a decimal (e.g. "0.5"): 0 to 1000000, at most 6 decimal places. Values the'
        " points liability in money (programInsights).",
    )
    insights_for_secret_keys: bool | None = strawberry.field(
        default=None,
        description="Whether the program's secret keys may read its analytics"
        " (programInsights, programCohorts); admin keys always may. Off by default.",
    )


@strawberry.input(description="One operation of a persisted-query manifest.")
class TrustedDocumentInput:
    id: str = strawberry.field(description="The SHA-256 of body's UTF-8 text, in hex.")
    body: str = strawberry.field(
        description="The GraphQL document, exactly as the client holds it."
    )
    name: str | None = strawberry.field(default=None, description="The operation's name.")


@strawberry.input
class RegisterTrustedDocumentsInput:
    program_slug: str
    documents: list[TrustedDocumentInput] = strawberry.field(
        description="Added to the program's trusted documents; ones it holds already are kept."
    )
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.type
class RegisterTrustedDocumentsPayload:
    added: int = 0
    already_registered: int = strawberry.field(
        default=0, description="Documents of the input the program held already."
    )
    total: int = strawberry.field(default=0, description="The program's trusted documents now.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateProgramSettingsPayload:
    program: Program | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(description="Admin only.")
async def create_program(info: Info, input: CreateProgramInput) -> CreateProgramPayload:
    return await _created_programs.created(
        info, input, programs_service.CreateProgramInput, programs_service.create_program
    )


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
        service_input(
            input,
            programs_service.UpdateProgramSettingsInput,
            expiry=None
            if expiry is None
            else service_input(expiry, programs_service.ExpiryInput, unit=expiry.lifetime_unit),
            exchange_rates=None if rates is None else {rate.currency: rate.rate for rate in rates},
        )
    )
    return UpdateProgramSettingsPayload(program=Program.from_record(record))


@mutation(
    description="Admin only: add documents from a build's persisted-query manifest to the"
    " program's trusted documents (also `laurel documents register`)."
)
async def register_trusted_documents(
    info: Info, input: RegisterTrustedDocumentsInput
) -> RegisterTrustedDocumentsPayload:
    admin(info)
    registered = await documents_service.register_trusted_documents(
        documents_service.RegisterTrustedDocumentsInput(
            program_slug=input.program_slug,
            documents=tuple(
                documents_service.ManifestDocument(id=item.id, body=item.body, name=item.name)
                for item in input.documents
            ),
            idempotency_key=input.idempotency_key,
        )
    )
    return RegisterTrustedDocumentsPayload(
        added=registered.added,
        already_registered=registered.already_registered,
        total=registered.total,
    )
