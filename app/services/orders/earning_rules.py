"""Purchase rules and campaigns of a program: created, changed and paused by admins.

Rules are data. An order is evaluated with the rules active when it is recorded, and its
breakdown is stored with it, so changing a rule later never changes what an order earned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    from_json,
    in_transaction,
    utc_now,
)
from app.domain.earning import MAX_MULTIPLIER, LineFilter, PurchaseRule, RuleKind
from app.domain.errors import DomainError, ErrorCode
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.validation import EXTERNAL_ID_MAX, NAME_MAX, Checker
from app.models import EarningRule
from app.services.core.config_cache import cached
from app.services.core.idempotency import checked_key, input_payload
from app.services.core.models import ProgramRules
from app.services.programs.service import require_program
from app.services.segments.service import unknown_segment_keys

MAX_BONUS_POINTS = 1_000_000
MAX_PRIORITY = 1000
MAX_FILTER_ENTRIES = 1000
EARLIEST_RULE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_RULE_TIME = datetime(2200, 1, 1, tzinfo=UTC)
# What an EarningRuleRecord is made from: the SELECT list of the rules every order is evaluated
# with, and the `.values()` of the admin paths.
_FIELDS = (
    "id",
    "program_id",
    "name",
    "kind",
    "multiplier",
    "points",
    "priority",
    "exclusive",
    "minimum_order_minor",
    "include_skus",
    "include_categories",
    "exclude_skus",
    "exclude_categories",
    "starts_at",
    "ends_at",
    "paused",
    "created_at",
    "updated_at",
    "eligible_tiers",
    "eligible_segments",
)
_COLUMNS = ", ".join(_FIELDS)


@dataclass(frozen=True)
class RuleInput:
    name: str
    kind: RuleKind
    multiplier: str | None = None
    points: int | None = None
    priority: int = 0
    exclusive: bool = False
    minimum_order_minor: int = 0
    include_skus: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_skus: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    eligible_tiers: tuple[str, ...] = ()
    eligible_segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class EarningRuleRecord:
    id: int
    program_id: int
    name: str
    rule: PurchaseRule
    paused: bool
    created_at: datetime
    updated_at: datetime


def _texts(value: Any) -> frozenset[str]:
    return frozenset(str(item) for item in from_json(value))


def _record(row: dict[str, Any]) -> EarningRuleRecord:
    return EarningRuleRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        name=row["name"],
        rule=PurchaseRule(
            id=int(row["id"]),
            kind=RuleKind(row["kind"]),
            filter=LineFilter(
                include_skus=_texts(row["include_skus"]),
                include_categories=_texts(row["include_categories"]),
                exclude_skus=_texts(row["exclude_skus"]),
                exclude_categories=_texts(row["exclude_categories"]),
            ),
            multiplier=None if row["multiplier"] is None else Decimal(row["multiplier"]),
            points=None if row["points"] is None else int(row["points"]),
            priority=int(row["priority"]),
            starts_at=as_optional_datetime(row["starts_at"]),
            ends_at=as_optional_datetime(row["ends_at"]),
            exclusive=bool(row["exclusive"]),
            minimum_order_minor=int(row["minimum_order_minor"]),
            eligible_tiers=_texts(row["eligible_tiers"]),
            eligible_segments=_texts(row["eligible_segments"]),
        ),
        paused=bool(row["paused"]),
        created_at=as_datetime(row["created_at"]),
        updated_at=as_datetime(row["updated_at"]),
    )


_rules = ProgramRules(
    EarningRule,
    _FIELDS,
    _record,
    noun="earning rule",
    node_type="EarningRule",
    event_details=lambda rule: {"name": rule.name},
)


async def active_purchase_rules(program_id: int) -> list[PurchaseRule]:
    """The rules an order of the program is evaluated with (campaign windows are the engine's);
    cached while the program's configuration is."""

    async def load() -> tuple[PurchaseRule, ...]:
        rows = await fetch_all(
            connection(),
            f"SELECT {_COLUMNS} FROM earning_rules WHERE program_id = ? AND paused = ? ORDER BY id",
            (program_id, False),
        )
        return tuple(_record(row).rule for row in rows)

    return list(await cached("earning_rules.active", program_id, load))


async def list_earning_rules(program_id: int) -> list[EarningRuleRecord]:
    rows = (
        await EarningRule.filter(program_id=program_id).order_by("-priority", "id").values(*_FIELDS)
    )
    return [_record(row) for row in rows]


async def get_earning_rule(rule_id: int, program_scope: int | None) -> EarningRuleRecord | None:
    return await _rules.read(connection(), rule_id, program_scope)


def _validated(data: RuleInput) -> tuple[str, str | None, list[frozenset[str]]]:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    multiplier: str | None = None
    if data.kind is RuleKind.MULTIPLIER:
        try:
            value = Decimal((data.multiplier or "").strip())
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            value = Decimal(0)
        if not (1 < value <= MAX_MULTIPLIER) or value != value.quantize(Decimal("0.01")):
            check.add(
                ErrorCode.INVALID_VALUE,
                f"multiplier must be above 1 and at most {MAX_MULTIPLIER}, with 2 decimals at most",
                ["input", "multiplier"],
            )
        else:
            multiplier = format(value.normalize(), "f")
        if data.points is not None:
            check.add(
                ErrorCode.INVALID_VALUE, "a multiplier rule takes no points", ["input", "points"]
            )
    else:
        if data.points is None:
            check.add(ErrorCode.REQUIRED, "a bonus rule needs points", ["input", "points"])
        else:
            check.int_range(
                ["input", "points"], data.points, 1, MAX_BONUS_POINTS, ErrorCode.INVALID_POINTS
            )
        if data.multiplier is not None:
            check.add(
                ErrorCode.INVALID_VALUE,
                "a bonus rule takes no multiplier",
                ["input", "multiplier"],
            )
    check.int_range(
        ["input", "priority"], data.priority, -MAX_PRIORITY, MAX_PRIORITY, ErrorCode.INVALID_VALUE
    )
    check.int_range(
        ["input", "minimumOrderMinor"],
        data.minimum_order_minor,
        0,
        MAX_AMOUNT_MINOR,
        ErrorCode.INVALID_AMOUNT,
    )
    for field, moment in (("startsAt", data.starts_at), ("endsAt", data.ends_at)):
        if moment is None:
            continue
        if moment.tzinfo is None:
            check.add(ErrorCode.INVALID_VALUE, f"{field} needs a time zone", ["input", field])
        elif not EARLIEST_RULE_TIME <= moment <= LATEST_RULE_TIME:
            check.add(
                ErrorCode.INVALID_VALUE, f"{field} must be between 2000 and 2200", ["input", field]
            )
    if (
        data.starts_at is not None
        and data.ends_at is not None
        and data.starts_at.tzinfo is not None
        and data.ends_at.tzinfo is not None
        and data.ends_at <= data.starts_at
    ):
        check.add(ErrorCode.INVALID_VALUE, "endsAt must be after startsAt", ["input", "endsAt"])
    filters = [
        check.text_list(["input", name_], values, EXTERNAL_ID_MAX, MAX_FILTER_ENTRIES)
        for name_, values in (
            ("includeSkus", data.include_skus),
            ("includeCategories", data.include_categories),
            ("excludeSkus", data.exclude_skus),
            ("excludeCategories", data.exclude_categories),
            ("eligibleTiers", data.eligible_tiers),
            ("eligibleSegments", data.eligible_segments),
        )
    ]
    check.raise_if_any()
    assert name is not None
    return name, multiplier, filters


def _definition(
    data: RuleInput, name: str, multiplier: str | None, filters: list[frozenset[str]]
) -> dict[str, Any]:
    """The columns a rule's definition sets."""
    include_skus, include_categories, exclude_skus, exclude_categories, tiers, segments = [
        sorted(values) for values in filters
    ]
    return {
        "name": name,
        "kind": data.kind.value,
        "multiplier": multiplier,
        "points": data.points,
        "priority": data.priority,
        "exclusive": data.exclusive,
        "minimum_order_minor": data.minimum_order_minor,
        "include_skus": include_skus,
        "include_categories": include_categories,
        "exclude_skus": exclude_skus,
        "exclude_categories": exclude_categories,
        "starts_at": None if data.starts_at is None else data.starts_at.astimezone(UTC),
        "ends_at": None if data.ends_at is None else data.ends_at.astimezone(UTC),
        "eligible_tiers": tiers,
        "eligible_segments": segments,
    }


async def _check_segments(program_id: int, segments: frozenset[str]) -> None:
    unknown = await unknown_segment_keys(connection(), program_id, segments)
    if unknown:
        raise DomainError(
            ErrorCode.SEGMENT_NOT_FOUND,
            f"no segment with key {unknown[0]!r} in the program",
            ["input", "eligibleSegments"],
        )


async def create_earning_rule(
    program_slug: str, data: RuleInput, idempotency_key: str | None = None
) -> EarningRuleRecord:
    """A new rule; a retry with the same `idempotency_key` returns the rule the first made."""
    name, multiplier, filters = _validated(data)
    idempotency_key = checked_key(idempotency_key)
    program = await require_program(program_slug, None)
    await _check_segments(program.id, filters[5])
    return await _rules.create(
        program_id=program.id,
        key=idempotency_key,
        operation="createEarningRule",
        payload={"programSlug": program_slug, **input_payload(data)},
        definition=_definition(data, name, multiplier, filters),
        created_event="earning_rule.created",
    )


async def update_earning_rule(rule_id: int, data: RuleInput) -> EarningRuleRecord:
    """Replace a rule's definition; orders already recorded keep what they earned."""
    name, multiplier, filters = _validated(data)
    current = await _rules.read(connection(), rule_id)
    if current is not None:
        await _check_segments(current.program_id, filters[5])
    now = utc_now()
    async with in_transaction() as conn:
        record = await _rules.update(
            conn, rule_id, **_definition(data, name, multiplier, filters), updated_at=now
        )
        await _rules.announce(conn, record, "earning_rule.updated", now)
    return record


async def set_earning_rule_paused(rule_id: int, paused: bool) -> EarningRuleRecord:
    now = utc_now()
    async with in_transaction() as conn:
        record = await _rules.update(conn, rule_id, paused=paused, updated_at=now)
        await _rules.announce(
            conn, record, "earning_rule.paused" if paused else "earning_rule.resumed", now
        )
    return record
