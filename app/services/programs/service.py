"""Programs: created by admins, read by everyone holding a key of the program."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from app.db import (
    as_datetime,
    connection,
    execute,
    fetch_all,
    fetch_all_in,
    fetch_all_quick,
    fetch_one,
    from_json,
    in_transaction,
    is_postgres,
    quick_read,
    utc_now,
)
from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import (
    MAX_LIFETIME_DAYS,
    MAX_LIFETIME_MONTHS,
    MAX_WARNING_DAYS,
    ExpiryPolicy,
    ExpirySettings,
    LifetimeUnit,
    RoundTo,
    time_zone,
)
from app.domain.ids import encode_id
from app.domain.locales import DEFAULT_LOCALE, checked_locale
from app.domain.money import (
    MAX_AMOUNT_MINOR,
    MAX_EXCHANGE_RATE,
    MAX_POINTS_PER_CURRENCY_UNIT,
    MIN_EXCHANGE_RATE,
    is_known_currency,
    parse_cost_per_point,
    parse_exchange_rate,
)
from app.domain.validation import (
    EXTERNAL_ID_MAX,
    NAME_MAX,
    SLUG_PATTERN,
    Checker,
    is_lookup_text,
)
from app.models import Program
from app.rows import RecordT, RowMapper
from app.services.analytics.rollups import forget_zone
from app.services.core.events import append_event
from app.services.core.idempotency import InProgram
from app.services.core.models import read_row, row_of, update_row
from app.services.ledger.service import expiry_settings_of


class RefundShortfallPolicy(StrEnum):
    """What a refund does with points the member has already spent."""

    WRITE_OFF = "WRITE_OFF"
    NEGATIVE_BALANCE = "NEGATIVE_BALANCE"


# The programs a caller may see: one program id for a program's key, None for an admin.
ProgramScope = int | None

# What a ProgramRecord is made from: the SELECT list of the hot reads (every order and request
# names its program) and the `.values()` of the admin paths.
_FIELDS = (
    "id",
    "slug",
    "name",
    "currency",
    "points_per_currency_unit",
    "active",
    "created_at",
    "rounding",
    "count_shipping",
    "count_tax",
    "minimum_order_minor",
    "excluded_skus",
    "excluded_categories",
    "pending_days",
    "time_zone",
    "expiry_policy",
    "expiry_lifetime",
    "expiry_lifetime_unit",
    "expiry_round_to",
    "inactivity_months",
    "expiry_since",
    "expiry_warning_days",
    "refund_shortfall_policy",
    "exchange_rates",
    "earn_on_points_payments",
    "cors_origins",
    "cors_allowed_headers",
    "trusted_documents_only",
    "member_token_max_seconds",
    "retro_credit_days",
    "default_locale",
    "cost_per_point_minor",
    "insights_for_secret_keys",
    "config_version",
)
PROGRAM_COLUMNS = ", ".join(_FIELDS)
MAX_PENDING_DAYS = 365
MAX_EXCLUDED = 1000


@dataclass(frozen=True)
class ProgramRecord:
    id: int
    slug: str
    name: str
    currency: str
    points_per_currency_unit: int
    active: bool
    created_at: datetime
    rounding: Rounding
    count_shipping: bool
    count_tax: bool
    minimum_order_minor: int
    excluded_skus: frozenset[str]
    excluded_categories: frozenset[str]
    pending_days: int
    time_zone: str
    expiry: ExpirySettings
    refund_shortfall_policy: RefundShortfallPolicy
    # Program-currency units per one unit of each other currency, as exact decimal text.
    exchange_rates: dict[str, str]
    earn_on_points_payments: bool
    cors_origins: frozenset[str]
    # Request headers allowed from those origins beyond the API's own list, lowercase.
    cors_allowed_headers: frozenset[str]
    trusted_documents_only: bool
    member_token_max_seconds: int
    # Guest orders placed at most this many days before their customer enrols are credited
    # (app/services/orders/guests.py); 0 credits none.
    retro_credit_days: int
    # The language of its configured texts (app/domain/locales.py).
    default_locale: str = DEFAULT_LOCALE
    # What one point costs the store in minor units of its currency (decimal text); None until
    # configured.
    cost_per_point_minor: str | None = None
    # Whether the program's secret keys may read its analytics (admin keys always may).
    insights_for_secret_keys: bool = False
    # The version of the program's cold configuration this record was read with (raised by the
    # database with every change to it; app/services/core/config_cache.py).
    config_version: int = 0


@dataclass(frozen=True)
class CreateProgramInput:
    slug: str
    name: str
    currency: str
    points_per_currency_unit: int
    rounding: Rounding = Rounding.FLOOR
    count_shipping: bool = False
    count_tax: bool = False
    minimum_order_minor: int = 0
    excluded_skus: tuple[str, ...] = ()
    excluded_categories: tuple[str, ...] = ()
    pending_days: int = 0
    time_zone: str = "UTC"


def program_row(row: dict[str, Any]) -> ProgramRecord:
    return ProgramRecord(
        id=int(row["id"]),
        slug=row["slug"],
        name=row["name"],
        currency=row["currency"],
        points_per_currency_unit=int(row["points_per_currency_unit"]),
        active=bool(row["active"]),
        created_at=as_datetime(row["created_at"]),
        rounding=Rounding(row["rounding"]),
        count_shipping=bool(row["count_shipping"]),
        count_tax=bool(row["count_tax"]),
        minimum_order_minor=int(row["minimum_order_minor"]),
        excluded_skus=frozenset(_json_list(row["excluded_skus"])),
        excluded_categories=frozenset(_json_list(row["excluded_categories"])),
        pending_days=int(row["pending_days"]),
        time_zone=str(row["time_zone"]),
        expiry=expiry_settings_of(row),
        refund_shortfall_policy=RefundShortfallPolicy(row["refund_shortfall_policy"]),
        exchange_rates={
            str(k): str(v) for k, v in (from_json(row["exchange_rates"]) or {}).items()
        },
        earn_on_points_payments=bool(row["earn_on_points_payments"]),
        cors_origins=frozenset(_json_list(row["cors_origins"])),
        cors_allowed_headers=frozenset(_json_list(row["cors_allowed_headers"])),
        trusted_documents_only=bool(row["trusted_documents_only"]),
        member_token_max_seconds=int(row["member_token_max_seconds"]),
        retro_credit_days=int(row["retro_credit_days"]),
        default_locale=str(row["default_locale"]),
        cost_per_point_minor=None
        if row["cost_per_point_minor"] is None
        else str(row["cost_per_point_minor"]),
        insights_for_secret_keys=bool(row["insights_for_secret_keys"]),
        config_version=int(row["config_version"]),
    )


def _json_list(value: Any) -> list[str]:
    return [str(item) for item in from_json(value)]


def in_scope(program_id: int, scope: ProgramScope) -> bool:
    return scope is None or scope == program_id


async def read_in_scope(
    conn: BaseDBAsyncClient,
    mapper: RowMapper[RecordT],
    table: str,
    row_id: int,
    scope: ProgramScope,
) -> RecordT | None:
    """Row `row_id` of `table`, a table with a `program_id`; None when it is missing or belongs
    to a program outside `scope`."""
    rows = await fetch_all_quick(
        conn, f"SELECT {mapper.columns} FROM {table} WHERE id = ?", (row_id,)
    )
    if not rows or not in_scope(int(rows[0]["program_id"]), scope):
        return None
    return mapper(rows[0])


InProgramT = TypeVar("InProgramT", bound=InProgram)


async def read_many_in_scope(
    select: str,
    row_ids: Sequence[int],
    record_of: Callable[[dict[str, Any]], InProgramT],
    scope: ProgramScope,
    *,
    id_column: str = "id",
) -> dict[int, InProgramT]:
    """`read_in_scope` for many ids in one statement (`select` is `SELECT ... FROM ...`, for
    the API's DataLoaders): the records found in `scope`, by id."""
    rows = await fetch_all_in(connection(), select, id_column, row_ids)
    records = (record_of(row) for row in rows)
    return {record.id: record for record in records if in_scope(record.program_id, scope)}


async def get_program(program_id: int, scope: ProgramScope) -> ProgramRecord | None:
    if not in_scope(program_id, scope):
        return None
    row = await fetch_one(
        connection(), f"SELECT {PROGRAM_COLUMNS} FROM programs WHERE id = ?", (program_id,)
    )
    return program_row(row) if row else None


async def get_program_by_slug(slug: str, scope: ProgramScope) -> ProgramRecord | None:
    if not is_lookup_text(slug):
        return None
    rows = await quick_read(f"SELECT {PROGRAM_COLUMNS} FROM programs WHERE slug = ?", (slug,))
    if not rows or not in_scope(int(rows[0]["id"]), scope):
        return None
    return program_row(rows[0])


async def require_program(
    slug: str, scope: ProgramScope, field: list[str] | None = None
) -> ProgramRecord:
    """The program a write names; another program's slug is reported as unknown."""
    program = await get_program_by_slug(slug, scope)
    if program is None:
        raise DomainError(
            ErrorCode.PROGRAM_NOT_FOUND,
            f"no program with slug {slug!r}",
            field or ["input", "programSlug"],
        )
    return program


async def list_programs(scope: ProgramScope) -> list[ProgramRecord]:
    programs = Program.all() if scope is None else Program.filter(id=scope)
    return [program_row(row) for row in await programs.order_by("id").values(*_FIELDS)]


async def create_program(data: CreateProgramInput) -> ProgramRecord:
    check = Checker()
    slug = data.slug.strip()
    if not SLUG_PATTERN.match(slug):
        check.add(
            ErrorCode.INVALID_VALUE,
            "slug must be 1-63 lowercase letters, digits or dashes,"
            " starting with a letter or digit",
            ["input", "slug"],
        )
    name = check.text(["input", "name"], data.name, NAME_MAX)
    currency = data.currency.strip().upper()
    if not is_known_currency(currency):
        check.add(
            ErrorCode.UNKNOWN_CURRENCY,
            f"{data.currency!r} is not an ISO 4217 currency code",
            ["input", "currency"],
        )
    check.int_range(
        ["input", "pointsPerCurrencyUnit"],
        data.points_per_currency_unit,
        0,
        MAX_POINTS_PER_CURRENCY_UNIT,
        ErrorCode.INVALID_POINTS,
    )
    check.int_range(
        ["input", "pendingDays"], data.pending_days, 0, MAX_PENDING_DAYS, ErrorCode.INVALID_VALUE
    )
    check.int_range(
        ["input", "minimumOrderMinor"],
        data.minimum_order_minor,
        0,
        MAX_AMOUNT_MINOR,
        ErrorCode.INVALID_AMOUNT,
    )
    excluded_skus = check.text_list(
        ["input", "excludedSkus"], data.excluded_skus, EXTERNAL_ID_MAX, MAX_EXCLUDED
    )
    excluded_categories = check.text_list(
        ["input", "excludedCategories"], data.excluded_categories, EXTERNAL_ID_MAX, MAX_EXCLUDED
    )
    _check_time_zone(check, data.time_zone)
    check.raise_if_any()
    assert name is not None
    now = utc_now()
    try:
        async with in_transaction() as conn:
            created = await Program.create(
                using_db=conn,
                slug=slug,
                name=name,
                currency=currency,
                points_per_currency_unit=data.points_per_currency_unit,
                active=True,
                created_at=now,
                rounding=data.rounding.value,
                count_shipping=data.count_shipping,
                count_tax=data.count_tax,
                minimum_order_minor=data.minimum_order_minor,
                excluded_skus=sorted(excluded_skus),
                excluded_categories=sorted(excluded_categories),
                pending_days=data.pending_days,
                time_zone=data.time_zone.strip(),
            )
            program = program_row(row_of(created, _FIELDS))
            await append_event(
                conn,
                program_id=program.id,
                member_id=None,
                event_type="program.created",
                payload={
                    "programId": encode_id("Program", program.id),
                    "slug": slug,
                    "name": name,
                    "currency": currency,
                },
                now=now,
            )
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.SLUG_TAKEN, f"a program with slug {slug!r} exists", ["input", "slug"]
        ) from exc
    return program


def _check_time_zone(check: Checker, name: str) -> None:
    try:
        time_zone(name.strip())
    except ValueError as exc:
        check.add(ErrorCode.INVALID_VALUE, str(exc), ["input", "timeZone"])


@dataclass(frozen=True)
class ExpiryInput:
    policy: ExpiryPolicy
    lifetime: int = 0
    unit: LifetimeUnit = LifetimeUnit.MONTHS
    round_to: RoundTo = RoundTo.NONE
    inactivity_months: int = 0


@dataclass(frozen=True)
class UpdateProgramSettingsInput:
    """Settings to change; None leaves one as it is."""

    program_slug: str
    name: str | None = None
    time_zone: str | None = None
    pending_days: int | None = None
    expiry: ExpiryInput | None = None
    expiry_warning_days: int | None = None
    refund_shortfall_policy: RefundShortfallPolicy | None = None
    exchange_rates: dict[str, str] | None = None
    earn_on_points_payments: bool | None = None
    cors_origins: tuple[str, ...] | None = None
    cors_allowed_headers: tuple[str, ...] | None = None
    trusted_documents_only: bool | None = None
    member_token_max_seconds: int | None = None
    retro_credit_days: int | None = None
    default_locale: str | None = None
    cost_per_point_minor: str | None = None
    insights_for_secret_keys: bool | None = None


MAX_EXCHANGE_RATES = 200
MAX_RETRO_CREDIT_DAYS = 365


def _check_expiry(check: Checker, expiry: ExpiryInput) -> None:
    field = ["input", "expiry"]
    if expiry.policy is ExpiryPolicy.LOT_LIFETIME:
        limit = MAX_LIFETIME_DAYS if expiry.unit is LifetimeUnit.DAYS else MAX_LIFETIME_MONTHS
        check.int_range([*field, "lifetime"], expiry.lifetime, 1, limit, ErrorCode.INVALID_VALUE)
    elif expiry.lifetime or expiry.round_to is not RoundTo.NONE:
        check.add(
            ErrorCode.INVALID_VALUE,
            "lifetime and roundTo belong to the LOT_LIFETIME policy",
            [*field, "lifetime"],
        )
    if expiry.policy is ExpiryPolicy.INACTIVITY:
        check.int_range(
            [*field, "inactivityMonths"],
            expiry.inactivity_months,
            1,
            MAX_LIFETIME_MONTHS,
            ErrorCode.INVALID_VALUE,
        )
    elif expiry.inactivity_months:
        check.add(
            ErrorCode.INVALID_VALUE,
            "inactivityMonths belongs to the INACTIVITY policy",
            [*field, "inactivityMonths"],
        )


def _checked_rates(check: Checker, program_currency: str, rates: dict[str, str]) -> dict[str, str]:
    field = ["input", "exchangeRates"]
    if len(rates) > MAX_EXCHANGE_RATES:
        check.add(ErrorCode.INVALID_VALUE, f"at most {MAX_EXCHANGE_RATES} rates", field)
        return {}
    clean: dict[str, str] = {}
    for raw_currency, raw_rate in rates.items():
        currency = raw_currency.strip().upper()
        if not is_known_currency(currency) or currency == program_currency:
            check.add(
                ErrorCode.UNKNOWN_CURRENCY,
                f"{raw_currency!r} is not an ISO 4217 code other than the program's",
                field,
            )
            continue
        rate = parse_exchange_rate(raw_rate)
        if rate is None:
            check.add(
                ErrorCode.INVALID_VALUE,
                f"{currency}: the rate must be a decimal between {MIN_EXCHANGE_RATE} and"
                f" {MAX_EXCHANGE_RATE} with at most 10 significant digits",
                field,
            )
            continue
        clean[currency] = str(rate)
    return clean


def _next_expiry(current: ExpirySettings, wanted: ExpiryInput, now: datetime) -> ExpirySettings:
    """The new settings; `since` moves to now whenever expiry is turned on or switches policy,
    so nothing earned before counts against the member."""
    changed_policy = wanted.policy is not current.policy
    since = current.since
    if wanted.policy is ExpiryPolicy.NONE:
        since = None
    elif changed_policy or since is None:
        since = now
    return replace(
        current,
        policy=wanted.policy,
        lifetime=wanted.lifetime,
        unit=wanted.unit,
        round_to=wanted.round_to,
        inactivity_months=wanted.inactivity_months,
        since=since,
    )


async def update_program_settings(data: UpdateProgramSettingsInput) -> ProgramRecord:
    program = await require_program(data.program_slug, None)
    check = Checker()
    name = check.changed_text(["input", "name"], data.name, NAME_MAX)
    if data.time_zone is not None:
        _check_time_zone(check, data.time_zone)
    if data.pending_days is not None:
        check.int_range(
            ["input", "pendingDays"],
            data.pending_days,
            0,
            MAX_PENDING_DAYS,
            ErrorCode.INVALID_VALUE,
        )
    if data.expiry is not None:
        _check_expiry(check, data.expiry)
    if data.expiry_warning_days is not None:
        check.int_range(
            ["input", "expiryWarningDays"],
            data.expiry_warning_days,
            0,
            MAX_WARNING_DAYS,
            ErrorCode.INVALID_VALUE,
        )
    rates = (
        None
        if data.exchange_rates is None
        else _checked_rates(check, program.currency, data.exchange_rates)
    )
    origins = None if data.cors_origins is None else _checked_origins(check, data.cors_origins)
    allowed_headers = (
        None
        if data.cors_allowed_headers is None
        else _checked_header_names(check, data.cors_allowed_headers)
    )
    if data.member_token_max_seconds is not None:
        check.int_range(
            ["input", "memberTokenMaxSeconds"],
            data.member_token_max_seconds,
            60,
            86_400,
            ErrorCode.INVALID_VALUE,
        )
    if data.retro_credit_days is not None:
        check.int_range(
            ["input", "retroCreditDays"],
            data.retro_credit_days,
            0,
            MAX_RETRO_CREDIT_DAYS,
            ErrorCode.INVALID_VALUE,
        )
    default_locale = None
    if data.default_locale is not None:
        try:
            default_locale = checked_locale(data.default_locale, ["input", "defaultLocale"])
        except DomainError as error:
            check.errors.append(error)
    cost_per_point = None
    if data.cost_per_point_minor is not None:
        cost_per_point = parse_cost_per_point(data.cost_per_point_minor)
        if cost_per_point is None:
            check.add(
                ErrorCode.INVALID_VALUE,
                "costPerPointMinor is a decimal from 0 to 1000000 with at most 6 decimal places",
                ["input", "costPerPointMinor"],
            )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        rows = Program.filter(id=program.id).using_db(conn)
        # Lock the row with a write (on SQLite too, where there is no FOR UPDATE): two admins
        # changing expiry at once must not both re-date the lots.
        await rows.update(name=F("name"))
        locked = await read_row(Program, conn, _FIELDS, id=program.id)
        assert locked is not None
        current = program_row(locked)
        zone = current.time_zone if data.time_zone is None else data.time_zone.strip()
        expiry = replace(current.expiry, zone=zone)
        if data.expiry is not None:
            expiry = _next_expiry(expiry, data.expiry, now)
        if data.expiry_warning_days is not None:
            expiry = replace(expiry, warning_days=data.expiry_warning_days)
        row = await update_row(
            Program,
            conn,
            _FIELDS,
            program.id,
            name=current.name if name is None else name,
            time_zone=zone,
            pending_days=current.pending_days if data.pending_days is None else data.pending_days,
            expiry_policy=expiry.policy.value,
            expiry_lifetime=expiry.lifetime,
            expiry_lifetime_unit=expiry.unit.value,
            expiry_round_to=expiry.round_to.value,
            inactivity_months=expiry.inactivity_months,
            expiry_since=expiry.since,
            expiry_warning_days=expiry.warning_days,
            refund_shortfall_policy=(
                data.refund_shortfall_policy or current.refund_shortfall_policy
            ).value,
            exchange_rates=current.exchange_rates if rates is None else rates,
            earn_on_points_payments=current.earn_on_points_payments
            if data.earn_on_points_payments is None
            else data.earn_on_points_payments,
            cors_origins=sorted(current.cors_origins if origins is None else origins),
            cors_allowed_headers=sorted(
                current.cors_allowed_headers if allowed_headers is None else allowed_headers
            ),
            trusted_documents_only=current.trusted_documents_only
            if data.trusted_documents_only is None
            else data.trusted_documents_only,
            member_token_max_seconds=current.member_token_max_seconds
            if data.member_token_max_seconds is None
            else data.member_token_max_seconds,
            retro_credit_days=current.retro_credit_days
            if data.retro_credit_days is None
            else data.retro_credit_days,
            default_locale=current.default_locale if default_locale is None else default_locale,
            cost_per_point_minor=current.cost_per_point_minor
            if cost_per_point is None
            else str(cost_per_point),
            insights_for_secret_keys=current.insights_for_secret_keys
            if data.insights_for_secret_keys is None
            else data.insights_for_secret_keys,
        )
        assert row is not None
        updated = program_row(row)
        # Later ledger writes of this process count their days in the new zone.
        forget_zone(program.id)
        await _redate_lots(conn, current.expiry, updated.expiry, program.id, now)
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="program.updated",
            payload={"programId": encode_id("Program", program.id), "slug": program.slug},
            now=now,
        )
    return updated


async def _redate_lots(
    conn: BaseDBAsyncClient,
    before: ExpirySettings,
    after: ExpirySettings,
    program_id: int,
    now: datetime,
) -> None:
    """Lots that are available when lot expiry is turned on all count from now: one date.
    Lots keep their date when only the lifetime changes; leaving the policy clears them."""
    if after.policy is ExpiryPolicy.LOT_LIFETIME and before.policy is not ExpiryPolicy.LOT_LIFETIME:
        lots = "program_id = ? AND remaining > 0 AND pending_until IS NULL"
        await _lock_lot_holders(conn, lots, program_id)
        await execute(
            conn,
            f"UPDATE point_lots SET expires_at = ? WHERE {lots}",
            (after.lot_expires_at(now), program_id),
        )
    elif (
        before.policy is ExpiryPolicy.LOT_LIFETIME and after.policy is not ExpiryPolicy.LOT_LIFETIME
    ):
        lots = "program_id = ? AND remaining > 0 AND expires_at IS NOT NULL"
        await _lock_lot_holders(conn, lots, program_id)
        await execute(conn, f"UPDATE point_lots SET expires_at = NULL WHERE {lots}", (program_id,))


async def _lock_lot_holders(conn: BaseDBAsyncClient, lots: str, program_id: int) -> None:
    """Lock the members whose `lots` are about to change, in id order, before their lots:
    a spender locks the member and then the member's lots (in its debit's one statement), so
    an update taking the lots alone, in the order it finds them, could hold one the spender
    wants while waiting for another the spender holds (PostgreSQL; SQLite runs one writer at a
    time)."""
    if is_postgres(conn):
        await fetch_all(
            conn,
            "SELECT id FROM members WHERE id IN"
            f" (SELECT member_id FROM point_lots WHERE {lots}) ORDER BY id FOR NO KEY UPDATE",
            (program_id,),
        )


@dataclass(frozen=True)
class _ListRule:
    """How one list setting of a program is cleaned: each entry normalised, then matched."""

    field: str
    most: int
    pattern: re.Pattern[str]
    example: str
    strip_slash: bool = False

    def cleaned(self, check: Checker, entries: tuple[str, ...]) -> frozenset[str]:
        field = ["input", self.field]
        if len(entries) > self.most:
            check.add(ErrorCode.INVALID_VALUE, f"at most {self.most} entries", field)
            return frozenset()
        clean = set()
        for entry in entries:
            value = entry.strip().lower()
            value = value.rstrip("/") if self.strip_slash else value
            if not self.pattern.match(value):
                check.add(ErrorCode.INVALID_VALUE, f"{entry[:80]!r} is not {self.example}", field)
                continue
            clean.add(value)
        return frozenset(clean)


_ORIGINS = _ListRule(
    "corsOrigins",
    50,
    re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$"),
    "an origin like https://shop.example.com",
    strip_slash=True,
)
# An HTTP field name (RFC 9110's token); browsers send them lowercase in preflights.
_HEADER_NAMES = _ListRule(
    "corsAllowedHeaders",
    30,
    re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$"),
    "a header name like x-shop-id",
)


def _checked_origins(check: Checker, origins: tuple[str, ...]) -> frozenset[str]:
    return _ORIGINS.cleaned(check, origins)


def _checked_header_names(check: Checker, names: tuple[str, ...]) -> frozenset[str]:
    return _HEADER_NAMES.cleaned(check, names)


async def backdate_expiry_start(program_id: int, moment: datetime) -> bool:
    """Count expiry from `moment` when it was turned on later: an import of history replays
    orders placed before the policy was set, as if it had been in force then (turning expiry on
    is otherwise never retroactive, app/domain/expiry.py). True when it moved."""
    async with in_transaction() as conn:
        changed = await execute(
            conn,
            "UPDATE programs SET expiry_since = ? WHERE id = ? AND expiry_since > ?",
            (moment, program_id, moment),
        )
    return changed > 0
