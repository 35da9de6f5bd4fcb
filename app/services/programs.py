"""Programs: created by admins, read by everyone holding a key of the program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.db import as_datetime, connection, fetch_all, fetch_one, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.money import MAX_POINTS_PER_CURRENCY_UNIT, is_known_currency
from app.domain.validation import NAME_MAX, SLUG_PATTERN, Checker, is_lookup_text
from app.services.events import append_event

# The programs a caller may see: one program id for a program's key, None for an admin.
ProgramScope = int | None

_COLUMNS = "id, slug, name, currency, points_per_currency_unit, active, created_at"


@dataclass(frozen=True)
class ProgramRecord:
    id: int
    slug: str
    name: str
    currency: str
    points_per_currency_unit: int
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class CreateProgramInput:
    slug: str
    name: str
    currency: str
    points_per_currency_unit: int


def _record(row: dict[str, Any]) -> ProgramRecord:
    return ProgramRecord(
        id=int(row["id"]),
        slug=row["slug"],
        name=row["name"],
        currency=row["currency"],
        points_per_currency_unit=int(row["points_per_currency_unit"]),
        active=bool(row["active"]),
        created_at=as_datetime(row["created_at"]),
    )


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
    check.raise_if_any()
    assert name is not None
    now = utc_now()
    try:
        async with in_transaction() as conn:
            row = await fetch_one(
                conn,
                "INSERT INTO programs (slug, name, currency, points_per_currency_unit, active,"
                f" created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (slug, name, currency, data.points_per_currency_unit, True, now),
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
