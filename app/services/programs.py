"""Programs: created by admins, read by everyone holding a key of the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import as_datetime, connection, fetch_all, fetch_one, from_json, utc_now
from app.domain.earning import Rounding
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.money import MAX_AMOUNT_MINOR, MAX_POINTS_PER_CURRENCY_UNIT, is_known_currency
from app.domain.validation import (
    EXTERNAL_ID_MAX,
    NAME_MAX,
    SLUG_PATTERN,
    Checker,
    is_lookup_text,
)
from app.services.events import append_event

# The programs a caller may see: one program id for a program's key, None for an admin.
ProgramScope = int | None

_COLUMNS = (
    "id, slug, name, currency, points_per_currency_unit, active, created_at, rounding,"
    " count_shipping, count_tax, minimum_order_minor, excluded_skus, excluded_categories,"
    " pending_days"
)
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


def _record(row: dict[str, Any]) -> ProgramRecord:
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
    )


def _json_list(value: Any) -> list[str]:
    return [str(item) for item in from_json(value)]


def in_scope(program_id: int, scope: ProgramScope) -> bool:
    return scope is None or scope == program_id


async def get_program(program_id: int, scope: ProgramScope) -> ProgramRecord | None:
    if not in_scope(program_id, scope):
        return None
    row = await fetch_one(
        connection(), f"SELECT {_COLUMNS} FROM programs WHERE id = ?", (program_id,)
    )
    return _record(row) if row else None


async def get_program_by_slug(slug: str, scope: ProgramScope) -> ProgramRecord | None:
    if not is_lookup_text(slug):
        return None
    row = await fetch_one(connection(), f"SELECT {_COLUMNS} FROM programs WHERE slug = ?", (slug,))
    if row is None or not in_scope(int(row["id"]), scope):
        return None
    return _record(row)


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
    if scope is None:
        rows = await fetch_all(connection(), f"SELECT {_COLUMNS} FROM programs ORDER BY id")
    else:
        rows = await fetch_all(
            connection(), f"SELECT {_COLUMNS} FROM programs WHERE id = ?", (scope,)
        )
    return [_record(row) for row in rows]


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
    check.raise_if_any()
    assert name is not None
    now = utc_now()
    try:
        async with in_transaction() as conn:
            row = await fetch_one(
                conn,
                "INSERT INTO programs (slug, name, currency, points_per_currency_unit, active,"
                " created_at, rounding, count_shipping, count_tax, minimum_order_minor,"
                " excluded_skus, excluded_categories, pending_days)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    slug,
                    name,
                    currency,
                    data.points_per_currency_unit,
                    True,
                    now,
                    data.rounding.value,
                    data.count_shipping,
                    data.count_tax,
                    data.minimum_order_minor,
                    json.dumps(sorted(excluded_skus)),
                    json.dumps(sorted(excluded_categories)),
                    data.pending_days,
                ),
            )
            assert row is not None
            program = _record(row)
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
