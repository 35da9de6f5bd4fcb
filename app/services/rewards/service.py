"""The reward catalogue and redemption: points and stock leave together or not at all.

Admins create, update and retire rewards (retired rewards stay for the history of their
redemptions). A redemption locks the member, checks the reward's window, stock, per-member
limit and tier terms (app/services/rewards/terms.py), takes the points by the ledger's guarded
decrement, then one unit of stock by a guarded update, then a code: a new random one or the
next of the store's pool. Lock order: member, reward, pool code.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    from_json,
    in_transaction,
    is_postgres,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.rewards import (
    MAX_CODE_VALID_DAYS,
    MAX_LIST_ITEMS,
    MAX_PER_MEMBER_LIMIT,
    MONEY_KINDS,
    SKU_MAX,
    URL_MAX,
    CodeSource,
    LimitPeriod,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
    RewardTerms,
    check_points_spend,
    check_terms,
    code_expires_at,
    discount_for_points,
    limit_window_start,
    new_redemption_code,
)
from app.domain.validation import IDEMPOTENCY_KEY_MAX, NAME_MAX, TEXT_MAX, Checker
from app.services.core import idempotency
from app.services.core.events import append_event
from app.services.ledger.service import Movement, post_movement
from app.services.members.service import require_member
from app.services.programs.service import ProgramScope, in_scope, require_program
from app.services.rewards.terms import (
    check_required_tiers,
    credit_for_store_credit_reward,
    member_reward_terms,
)
from app.services.tiers.service import lock_tier_configuration

_REWARD_COLUMNS = (
    "id, program_id, name, description, kind, cost_points, value_minor, stock, active,"
    " created_at, currency, minimum_order_minor, percent_off, max_value_minor, skus, categories,"
    " charity_name, points_min, points_max, points_step, per_member_limit, limit_period,"
    " starts_at, ends_at, retired_at, code_source, code_valid_days, image_urls, required_tiers,"
    " required_segments"
)
REDEMPTION_COLUMNS = (
    "id, program_id, member_id, reward_id, code, points_spent, status, transaction_id,"
    " created_at, source, value_minor, currency, charity_name, expires_at, used_at,"
    " used_order_id, cancelled_at, expired_at"
)
_OPERATION = "redeemReward"
MAX_STOCK = 10**9
DEFAULT_POINTS_PER_CURRENCY_UNIT = 100


@dataclass(frozen=True)
class RewardFields:
    """Everything an admin sets on a reward besides its kind and program."""

    name: str
    cost_points: int
    description: str = ""
    value_minor: int | None = None
    stock: int | None = None
    active: bool = True
    currency: str | None = None
    minimum_order_minor: int | None = None
    percent_off: int | None = None
    max_value_minor: int | None = None
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    charity_name: str | None = None
    points_min: int | None = None
    points_max: int | None = None
    points_step: int | None = None
    per_member_limit: int | None = None
    limit_period: LimitPeriod = LimitPeriod.EVER
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    code_source: CodeSource = CodeSource.GENERATED
    code_valid_days: int | None = None
    image_urls: tuple[str, ...] = ()
    required_tiers: tuple[str, ...] = ()
    required_segments: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RewardRecord(RewardFields):
    """A stored reward: the admin's fields with what the catalogue adds."""

    id: int
    program_id: int
    kind: RewardKind
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def terms(self) -> RewardTerms:
        return RewardTerms(
            kind=self.kind,
            cost_points=self.cost_points,
            value_minor=self.value_minor,
            currency=self.currency,
            minimum_order_minor=self.minimum_order_minor,
            percent_off=self.percent_off,
            max_value_minor=self.max_value_minor,
            skus=self.skus,
            categories=self.categories,
            charity_name=self.charity_name,
            points_min=self.points_min,
            points_max=self.points_max,
            points_step=self.points_step,
        )


@dataclass(frozen=True)
class RedemptionRecord:
    id: int
    program_id: int
    member_id: int
    reward_id: int
    code: str
    points_spent: int
    status: RedemptionStatus
    transaction_id: int
    created_at: datetime
    source: RedemptionSource = RedemptionSource.PURCHASE
    value_minor: int | None = None
    currency: str | None = None
    charity_name: str | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None
    used_order_id: str | None = None
    cancelled_at: datetime | None = None
    expired_at: datetime | None = None


_FIELD_NAMES = tuple(item.name for item in dataclasses.fields(RewardFields))


@dataclass(frozen=True, kw_only=True)
class CreateRewardInput(RewardFields):
    program_slug: str
    kind: RewardKind


# Sentinel for "leave as it is" in updates (None is a value: "no stock limit", "no end").
class _Keep:
    pass


KEEP: Any = _Keep()


@dataclass(frozen=True)
class UpdateRewardInput:
    """Fields left at KEEP keep their value; the kind and the code source never change."""

    reward_id: int
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RedeemRewardInput:
    member_id: int
    reward_id: int
    idempotency_key: str
    # Asked by the member with a member token: its keys live apart from the store's.
    by_member: bool = False
    # PAY_WITH_POINTS: how many points to spend (within the reward's min, max and step).
    points: int | None = None


@dataclass(frozen=True)
class RedeemedReward:
    redemption: RedemptionRecord
    replayed: bool


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (from_json(value) or []))


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def reward_of(row: dict[str, Any]) -> RewardRecord:
    return RewardRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        name=row["name"],
        description=row["description"],
        kind=RewardKind(row["kind"]),
        cost_points=int(row["cost_points"]),
        value_minor=_optional_int(row["value_minor"]),
        stock=_optional_int(row["stock"]),
        active=bool(row["active"]),
        created_at=as_datetime(row["created_at"]),
        currency=row["currency"],
        minimum_order_minor=_optional_int(row["minimum_order_minor"]),
        percent_off=_optional_int(row["percent_off"]),
        max_value_minor=_optional_int(row["max_value_minor"]),
        skus=_texts(row["skus"]),
        categories=_texts(row["categories"]),
        charity_name=row["charity_name"],
        points_min=_optional_int(row["points_min"]),
        points_max=_optional_int(row["points_max"]),
        points_step=_optional_int(row["points_step"]),
        per_member_limit=_optional_int(row["per_member_limit"]),
        limit_period=LimitPeriod(row["limit_period"]),
        starts_at=as_optional_datetime(row["starts_at"]),
        ends_at=as_optional_datetime(row["ends_at"]),
        retired_at=as_optional_datetime(row["retired_at"]),
        code_source=CodeSource(row["code_source"]),
        code_valid_days=_optional_int(row["code_valid_days"]),
        image_urls=_texts(row["image_urls"]),
        required_tiers=_texts(row["required_tiers"]),
        required_segments=_texts(row["required_segments"]),
    )


def redemption_of(row: dict[str, Any]) -> RedemptionRecord:
    return RedemptionRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        member_id=int(row["member_id"]),
        reward_id=int(row["reward_id"]),
        code=row["code"],
        points_spent=int(row["points_spent"]),
        status=RedemptionStatus(row["status"]),
        transaction_id=int(row["transaction_id"]),
        created_at=as_datetime(row["created_at"]),
        source=RedemptionSource(row["source"]),
        value_minor=_optional_int(row["value_minor"]),
        currency=row["currency"],
        charity_name=row["charity_name"],
        expires_at=as_optional_datetime(row["expires_at"]),
        used_at=as_optional_datetime(row["used_at"]),
        used_order_id=row["used_order_id"],
        cancelled_at=as_optional_datetime(row["cancelled_at"]),
        expired_at=as_optional_datetime(row["expired_at"]),
    )


async def get_reward(reward_id: int, scope: ProgramScope) -> RewardRecord | None:
    return await read_reward(connection(), reward_id, scope)


async def read_reward(
    conn: BaseDBAsyncClient, reward_id: int, scope: ProgramScope
) -> RewardRecord | None:
    row = await fetch_one(conn, f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE id = ?", (reward_id,))
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return reward_of(row)


async def list_rewards(program_id: int, *, include_inactive: bool) -> list[RewardRecord]:
    """The program's rewards, cheapest first; without inactive ones: only those a member can
    be offered now (active, not retired, inside their window)."""
    rows = await fetch_all(
        connection(),
        f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE program_id = ? ORDER BY cost_points, id",
        (program_id,),
    )
    rewards = [reward_of(row) for row in rows]
    if include_inactive:
        return rewards
    now = utc_now()
    return [
        reward
        for reward in rewards
        if (refusal := offer_refusal(reward, now)) is None
        or refusal[0] is ErrorCode.REWARD_OUT_OF_STOCK
    ]


@dataclass(frozen=True)
class RewardFilter:
    kinds: frozenset[RewardKind] = frozenset()
    include_retired: bool = False
    include_inactive: bool = True


async def search_rewards(
    program_id: int, filters: RewardFilter, *, first: int, after: int | None
) -> list[RewardRecord]:
    """The admin's catalogue, by id (keyset pages of `first` + 1 to tell if more follow)."""
    select = f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE program_id = ?"
    params: list[Any] = [program_id]
    if after is not None:
        select += " AND id > ?"
        params.append(after)
    if not filters.include_retired:
        select += " AND retired_at IS NULL"
    if not filters.include_inactive:
        select += " AND active = ?"
        params.append(True)
    if filters.kinds:
        select += f" AND kind IN ({', '.join('?' for _ in filters.kinds)})"
        params.extend(sorted(kind.value for kind in filters.kinds))
    select += " ORDER BY id LIMIT ?"
    params.append(first + 1)
    return [reward_of(row) for row in await fetch_all(connection(), select, params)]


async def get_redemption(redemption_id: int, scope: ProgramScope) -> RedemptionRecord | None:
    return await read_redemption(connection(), redemption_id, scope)


async def read_redemption(
    conn: BaseDBAsyncClient, redemption_id: int, scope: ProgramScope
) -> RedemptionRecord | None:
    row = await fetch_one(
        conn, f"SELECT {REDEMPTION_COLUMNS} FROM redemptions WHERE id = ?", (redemption_id,)
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return redemption_of(row)


def _check_fields(check: Checker, kind: RewardKind, data: RewardFields) -> RewardFields:
    """Every problem of the fields for `kind`, and the fields cleaned (trimmed texts)."""
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    charity = (
        None
        if data.charity_name is None
        else check.text(["input", "charityName"], data.charity_name, NAME_MAX)
    )
    skus = check.text_list(["input", "skus"], data.skus, SKU_MAX, MAX_LIST_ITEMS)
    categories = check.text_list(["input", "categories"], data.categories, SKU_MAX, MAX_LIST_ITEMS)
    check.text_list(["input", "imageUrls"], data.image_urls, URL_MAX, MAX_LIST_ITEMS)
    for index, url in enumerate(data.image_urls):
        if not url.strip().lower().startswith(("https://", "http://")):
            check.add(
                ErrorCode.INVALID_VALUE,
                "imageUrls must be http(s) URLs",
                ["input", "imageUrls", str(index)],
            )
    tiers = check.text_list(["input", "requiredTiers"], data.required_tiers, NAME_MAX, 20)
    segments = check.text_list(["input", "requiredSegments"], data.required_segments, NAME_MAX, 20)
    if segments:
        # Member segments do not exist yet: a restriction nothing enforces would open a
        # "VIP only" reward to everyone, so it is refused rather than stored.
        check.add(
            ErrorCode.SEGMENTS_UNAVAILABLE,
            "member segments are not available yet: requiredSegments must be empty",
            ["input", "requiredSegments"],
        )
    currency = None if data.currency is None else data.currency.strip().upper()
    check_terms(
        check,
        RewardTerms(
            kind=kind,
            cost_points=data.cost_points,
            value_minor=data.value_minor,
            currency=currency,
            minimum_order_minor=data.minimum_order_minor,
            percent_off=data.percent_off,
            max_value_minor=data.max_value_minor,
            skus=tuple(skus),
            categories=tuple(categories),
            charity_name=charity,
            points_min=data.points_min,
            points_max=data.points_max,
            points_step=data.points_step,
        ),
    )
    if data.stock is not None:
        check.int_range(["input", "stock"], data.stock, 0, MAX_STOCK, ErrorCode.INVALID_QUANTITY)
    if data.per_member_limit is not None:
        check.int_range(
            ["input", "perMemberLimit"],
            data.per_member_limit,
            1,
            MAX_PER_MEMBER_LIMIT,
            ErrorCode.INVALID_QUANTITY,
        )
    if data.code_valid_days is not None:
        check.int_range(
            ["input", "codeValidDays"],
            data.code_valid_days,
            1,
            MAX_CODE_VALID_DAYS,
            ErrorCode.INVALID_VALUE,
        )
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        check.add(ErrorCode.INVALID_VALUE, "endsAt must be after startsAt", ["input", "endsAt"])
    if data.code_source is CodeSource.POOL and kind in (
        RewardKind.STORE_CREDIT,
        RewardKind.CHARITY,
    ):
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{kind.value} rewards are not used at a checkout: their codes are Laurel's own",
            ["input", "codeSource"],
        )
    return replace(
        data,
        name=name or "",
        description=description or "",
        charity_name=charity,
        currency=currency,
        skus=tuple(sorted(skus)),
        categories=tuple(sorted(categories)),
        image_urls=tuple(url.strip() for url in data.image_urls),
        required_tiers=tuple(sorted(tiers)),
        required_segments=tuple(sorted(segments)),
    )


def _column_values(data: RewardFields) -> list[Any]:
    """Values in the order of `_WRITABLE`."""
    return [
        data.name,
        data.description,
        data.cost_points,
        data.value_minor,
        data.stock,
        data.active,
        data.currency,
        data.minimum_order_minor,
        data.percent_off,
        data.max_value_minor,
        json.dumps(list(data.skus)),
        json.dumps(list(data.categories)),
        data.charity_name,
        data.points_min,
        data.points_max,
        data.points_step,
        data.per_member_limit,
        data.limit_period.value,
        data.starts_at,
        data.ends_at,
        data.code_source.value,
        data.code_valid_days,
        json.dumps(list(data.image_urls)),
        json.dumps(list(data.required_tiers)),
        json.dumps(list(data.required_segments)),
    ]


_WRITABLE = (
    "name, description, cost_points, value_minor, stock, active, currency, minimum_order_minor,"
    " percent_off, max_value_minor, skus, categories, charity_name, points_min, points_max,"
    " points_step, per_member_limit, limit_period, starts_at, ends_at, code_source,"
    " code_valid_days, image_urls, required_tiers, required_segments"
)


def _check_store_credit_currency(
    kind: RewardKind, currency: str | None, program_currency: str
) -> None:
    """Store credit is held in the program's currency only: a reward paying another could never
    be redeemed."""
    if kind is RewardKind.STORE_CREDIT and currency != program_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"store credit is held in the program's currency, {program_currency}, not {currency}",
            ["input", "currency"],
        )


async def create_reward(data: CreateRewardInput) -> RewardRecord:
    check = Checker()
    cleaned = _check_fields(check, data.kind, _fields_of(data))
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    # Checked here for the order of errors, and again under the lock below for the race.
    await check_required_tiers(connection(), program.id, cleaned.required_tiers)
    if (data.kind in MONEY_KINDS or cleaned.value_minor is not None) and cleaned.currency is None:
        cleaned = replace(cleaned, currency=program.currency)
    _check_store_credit_currency(data.kind, cleaned.currency, program.currency)
    now = utc_now()
    placeholders = ", ".join("?" for _ in range(_WRITABLE.count(",") + 1))
    async with in_transaction() as conn:
        if cleaned.required_tiers:
            await lock_tier_configuration(conn, program.id)
            await check_required_tiers(conn, program.id, cleaned.required_tiers)
        row = await fetch_one(
            conn,
            f"INSERT INTO rewards (program_id, kind, created_at, {_WRITABLE})"
            f" VALUES (?, ?, ?, {placeholders}) RETURNING {_REWARD_COLUMNS}",
            (program.id, data.kind.value, now, *_column_values(cleaned)),
        )
        assert row is not None
        reward = reward_of(row)
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="reward.created",
            payload={
                "rewardId": encode_id("Reward", reward.id),
                "name": reward.name,
                "kind": reward.kind.value,
                "costPoints": reward.cost_points,
            },
            now=now,
        )
    return reward


def _fields_of(reward: RewardFields) -> RewardFields:
    """Only the admin's fields of a stored reward or a creation input."""
    return RewardFields(**{name: getattr(reward, name) for name in _FIELD_NAMES})


async def update_reward(data: UpdateRewardInput) -> RewardRecord:
    """Change a reward's fields (KEEP leaves one); the whole result is checked as on creation.

    Codes already issued keep the value and expiry they were issued with.
    """
    unknown = set(data.changes) - set(_FIELD_NAMES)
    if unknown or "code_source" in data.changes:
        # The API cannot send these: a caller in the code made a mistake.
        raise ValueError(
            f"not updatable: {sorted(unknown | ({'code_source'} & set(data.changes)))}"
        )
    now = utc_now()
    async with in_transaction() as conn:
        if data.changes.get("required_tiers", KEEP) is not KEEP:
            # The tier configuration's lock comes before the reward row's (configureTiers takes
            # it, then renames tiers in rewards' rows).
            owner = await fetch_one(
                conn, "SELECT program_id FROM rewards WHERE id = ?", (data.reward_id,)
            )
            if owner is not None:
                await lock_tier_configuration(conn, int(owner["program_id"]))
        current = await _lock_reward(conn, data.reward_id)
        if current.retired_at is not None:
            raise DomainError(
                ErrorCode.REWARD_RETIRED, "a retired reward cannot change", ["input", "id"]
            )
        merged = replace(
            _fields_of(current),
            **{key: value for key, value in data.changes.items() if value is not KEEP},
        )
        check = Checker()
        cleaned = _check_fields(check, current.kind, merged)
        check.raise_if_any()
        if data.changes.get("required_tiers", KEEP) is not KEEP:
            await check_required_tiers(conn, current.program_id, cleaned.required_tiers)
        if (current.kind in MONEY_KINDS or cleaned.value_minor is not None) and (
            cleaned.currency is None
        ):
            cleaned = replace(cleaned, currency=current.currency)
        _, program_currency = await program_zone(conn, current.program_id)
        _check_store_credit_currency(current.kind, cleaned.currency, program_currency)
        assignments = ", ".join(f"{column.strip()} = ?" for column in _WRITABLE.split(","))
        row = await fetch_one(
            conn,
            f"UPDATE rewards SET {assignments}, updated_at = ? WHERE id = ?"
            f" RETURNING {_REWARD_COLUMNS}",
            (*_column_values(cleaned), now, current.id),
        )
        assert row is not None
        reward = reward_of(row)
        await append_event(
            conn,
            program_id=reward.program_id,
            member_id=None,
            event_type="reward.updated",
            payload={"rewardId": encode_id("Reward", reward.id), "name": reward.name},
            now=now,
        )
    return reward


async def _lock_reward(conn: BaseDBAsyncClient, reward_id: int) -> RewardRecord:
    row = await fetch_one(
        conn,
        f"UPDATE rewards SET stock = stock WHERE id = ? RETURNING {_REWARD_COLUMNS}",
        (reward_id,),
    )
    if row is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "id"])
    return reward_of(row)


async def retire_reward(reward_id: int) -> RewardRecord:
    """No new redemptions from now on; issued codes stay valid. Retiring twice is harmless."""
    now = utc_now()
    async with in_transaction() as conn:
        current = await _lock_reward(conn, reward_id)
        if current.retired_at is not None:
            return current
        row = await fetch_one(
            conn,
            f"UPDATE rewards SET retired_at = ?, updated_at = ? WHERE id = ?"
            f" RETURNING {_REWARD_COLUMNS}",
            (now, now, reward_id),
        )
        assert row is not None
        reward = reward_of(row)
        await append_event(
            conn,
            program_id=reward.program_id,
            member_id=None,
            event_type="reward.retired",
            payload={"rewardId": encode_id("Reward", reward.id), "name": reward.name},
            now=now,
        )
    return reward


def offer_refusal(reward: RewardRecord, now: datetime) -> tuple[ErrorCode, str] | None:
    """Why nobody can redeem `reward` now (retired, inactive, outside its window, no stock)."""
    if reward.retired_at is not None:
        return ErrorCode.REWARD_RETIRED, "the reward is retired"
    if not reward.active:
        return ErrorCode.REWARD_INACTIVE, "the reward is not active"
    if reward.starts_at is not None and now < reward.starts_at:
        return ErrorCode.REWARD_NOT_STARTED, "the reward cannot be redeemed before its start"
    if reward.ends_at is not None and now >= reward.ends_at:
        return ErrorCode.REWARD_ENDED, "the reward's redemption window has ended"
    if reward.stock is not None and reward.stock <= 0:
        return ErrorCode.REWARD_OUT_OF_STOCK, "the reward is out of stock"
    return None


async def redeemed_in_window(
    conn: BaseDBAsyncClient, member_id: int, reward: RewardRecord, now: datetime, zone: str
) -> int:
    """Redemptions the member bought of `reward` in its limit's current period (cancelled
    ones do not count; given rewards neither)."""
    start = limit_window_start(reward.limit_period, now, zone)
    select = (
        "SELECT COUNT(*) AS n FROM redemptions WHERE member_id = ? AND reward_id = ?"
        " AND source = ? AND status <> ?"
    )
    params: list[Any] = [
        member_id,
        reward.id,
        RedemptionSource.PURCHASE.value,
        RedemptionStatus.CANCELLED.value,
    ]
    if start is not None:
        select += " AND created_at >= ?"
        params.append(start)
    row = await fetch_one(conn, select, params)
    return int(row["n"]) if row else 0


async def program_zone(conn: BaseDBAsyncClient, program_id: int) -> tuple[str, str]:
    row = await fetch_one(
        conn, "SELECT time_zone, currency FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return str(row["time_zone"]), str(row["currency"])


async def points_per_currency_unit(conn: BaseDBAsyncClient, program_id: int) -> int:
    row = await fetch_one(
        conn,
        "SELECT points_per_currency_unit FROM redemption_settings WHERE program_id = ?",
        (program_id,),
    )
    return DEFAULT_POINTS_PER_CURRENCY_UNIT if row is None else int(row["points_per_currency_unit"])


async def take_pool_code(conn: BaseDBAsyncClient, reward_id: int) -> tuple[int, str] | None:
    """The next unused uploaded code of the reward, locked until the transaction ends.

    PostgreSQL skips codes other redeemers hold (SKIP LOCKED), so concurrent redemptions never
    wait for, or get, the same code; SQLite runs one write transaction at a time.
    """
    select = (
        "SELECT id, code FROM reward_codes WHERE reward_id = ? AND redemption_id IS NULL"
        " ORDER BY id LIMIT 1"
    )
    if is_postgres(conn):
        select += " FOR UPDATE SKIP LOCKED"
    row = await fetch_one(conn, select, (reward_id,))
    return None if row is None else (int(row["id"]), str(row["code"]))


async def redeem_reward(data: RedeemRewardInput, scope: ProgramScope) -> RedeemedReward:
    """Spend a member's points on a reward and issue its code.

    The member row is locked first (checks that count the member's redemptions need it), then
    the ledger's guarded decrement takes the points, then a guarded update one unit of stock,
    then the pool code: the order every writer keeps, so concurrent redemptions cannot
    deadlock. A member who owes points (`points_debt`) is refused with POINTS_OWED.
    """
    check = Checker()
    check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    check.raise_if_any()
    member = await require_member(data.member_id, scope)
    if member.points_debt > 0:
        raise DomainError(
            ErrorCode.POINTS_OWED,
            f"the member owes {member.points_debt} points from refunds: no redemption until"
            " they are repaid",
            ["input", "memberId"],
        )
    reward = await get_reward(data.reward_id, member.program_id)
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "rewardId"])
    payload: dict[str, Any] = {"memberId": member.id, "rewardId": reward.id}
    if data.points is not None:
        payload["points"] = data.points
    fingerprint = idempotency.request_fingerprint(_OPERATION, payload)
    now = utc_now()
    scope_key = idempotency.scope_of(member.program_id, member.id, by_member=data.by_member)
    async with in_transaction() as conn:
        stored = await idempotency.claim(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            operation=_OPERATION,
            fingerprint=fingerprint,
            now=now,
        )
        if stored is not None:
            replayed = await read_redemption(conn, int(stored["redemptionId"]), scope)
            assert replayed is not None
            return RedeemedReward(redemption=replayed, replayed=True)
        redemption = await _redeem_in(conn, member.id, reward.id, data.points, now)
        await idempotency.store_response(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            response={"redemptionId": redemption.id},
        )
    return RedeemedReward(redemption=redemption, replayed=False)


async def _redeem_in(
    conn: BaseDBAsyncClient, member_id: int, reward_id: int, points: int | None, now: datetime
) -> RedemptionRecord:
    # The member row first (as `lock_member`), reading what the redemption needs of it.
    locked = await fetch_one(
        conn,
        "UPDATE members SET points_available = points_available WHERE id = ?"
        " RETURNING program_id, points_debt",
        (member_id,),
    )
    assert locked is not None
    program_id = int(locked["program_id"])
    if int(locked["points_debt"]) > 0:
        raise DomainError(
            ErrorCode.POINTS_OWED,
            "the member owes points from refunds: no redemption until they are repaid",
            ["input", "memberId"],
        )
    # Read again inside the transaction: what was read before it may have changed.
    reward = await read_reward(conn, reward_id, program_id)
    assert reward is not None
    refusal = offer_refusal(reward, now)
    if refusal is not None and refusal[0] is not ErrorCode.REWARD_OUT_OF_STOCK:
        raise DomainError(refusal[0], refusal[1], ["input", "rewardId"])
    zone, program_currency = await program_zone(conn, program_id)
    currency = reward.currency or program_currency
    value_minor = reward.value_minor
    if reward.kind is RewardKind.PAY_WITH_POINTS:
        assert reward.points_min and reward.points_max and reward.points_step
        if points is None:
            raise DomainError(
                ErrorCode.REQUIRED, "PAY_WITH_POINTS needs points", ["input", "points"]
            )
        problem = check_points_spend(
            points,
            points_min=reward.points_min,
            points_max=reward.points_max,
            points_step=reward.points_step,
        )
        if problem is not None:
            raise DomainError(problem[0], problem[1], ["input", "points"])
        rate = await points_per_currency_unit(conn, program_id)
        value_minor = min(discount_for_points(points, currency, rate), MAX_AMOUNT_MINOR)
    elif points is not None:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "points is only for PAY_WITH_POINTS rewards",
            ["input", "points"],
        )
    if reward.per_member_limit is not None:
        used = await redeemed_in_window(conn, member_id, reward, now, zone)
        if used >= reward.per_member_limit:
            raise DomainError(
                ErrorCode.REWARD_LIMIT_REACHED,
                f"the member already redeemed this reward {used} times"
                + ("" if reward.limit_period is LimitPeriod.EVER else " this period"),
                ["input", "rewardId"],
            )
    price = await member_price(
        conn, program_id=program_id, member_id=member_id, reward=reward, points=points, now=now
    )
    if price.refusal is not None:
        raise DomainError(
            price.refusal, "the member's tier may not redeem this reward", ["input", "rewardId"]
        )
    cost = price.points
    code = new_redemption_code()
    pool_code: tuple[int, str] | None = None
    posted = await post_movement(
        conn,
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=TransactionKind.REDEEM,
            points=-cost,
            counter_account=Account.PROGRAM_REDEEMED,
            description=f"Redeemed {reward.name}",
            event_details={"rewardId": encode_id("Reward", reward.id)},
        ),
        now,
    )
    if reward.stock is not None:
        taken = await fetch_one(
            conn,
            "UPDATE rewards SET stock = stock - 1 WHERE id = ? AND stock > 0 RETURNING stock",
            (reward.id,),
        )
        if taken is None:
            raise DomainError(
                ErrorCode.REWARD_OUT_OF_STOCK, "the reward is out of stock", ["input", "rewardId"]
            )
    if reward.code_source is CodeSource.POOL:
        pool_code = await take_pool_code(conn, reward.id)
        if pool_code is None:
            raise DomainError(
                ErrorCode.REWARD_POOL_EMPTY,
                "the reward's uploaded codes are all handed out: nothing was spent",
                ["input", "rewardId"],
            )
        code = pool_code[1]
    # Store credit is on the balance at once, and a donation is made at once: the code is a
    # receipt, used on issue, so neither expires nor is cancelled (charity reports never change
    # after the fact).
    fulfilled = reward.kind in (RewardKind.STORE_CREDIT, RewardKind.CHARITY)
    row = await fetch_one(
        conn,
        "INSERT INTO redemptions (program_id, member_id, reward_id, code, points_spent, status,"
        " transaction_id, created_at, source, value_minor, currency, charity_name, expires_at,"
        " used_at, spent_points_expire_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {REDEMPTION_COLUMNS}",
        (
            program_id,
            member_id,
            reward.id,
            code,
            cost,
            (RedemptionStatus.USED if fulfilled else RedemptionStatus.ISSUED).value,
            posted.transaction_id,
            now,
            RedemptionSource.PURCHASE.value,
            value_minor,
            currency if reward.kind in MONEY_KINDS or value_minor is not None else None,
            reward.charity_name,
            None if fulfilled else code_expires_at(now, reward.code_valid_days),
            now if fulfilled else None,
            posted.spent_lots_expire_at,
        ),
    )
    assert row is not None
    redemption = redemption_of(row)
    if pool_code is not None:
        await fetch_one(
            conn,
            "UPDATE reward_codes SET redemption_id = ? WHERE id = ? RETURNING id",
            (redemption.id, pool_code[0]),
        )
    if reward.kind is RewardKind.STORE_CREDIT:
        assert value_minor is not None
        await credit_for_store_credit_reward(
            conn,
            program_id=program_id,
            member_id=member_id,
            amount_minor=value_minor,
            currency=currency,
            redemption_code=code,
            now=now,
        )
    await append_event(
        conn,
        program_id=program_id,
        member_id=member_id,
        event_type="reward.redeemed",
        payload={
            "redemptionId": encode_id("Redemption", redemption.id),
            "rewardId": encode_id("Reward", reward.id),
            "memberId": encode_id("Member", member_id),
            "kind": reward.kind.value,
            "pointsSpent": cost,
            **({"valueMinor": value_minor, "currency": currency} if value_minor else {}),
        },
        now=now,
    )
    return redemption


@dataclass(frozen=True)
class MemberPrice:
    """What one member pays for a reward, and why they may not redeem it (None: they may)."""

    points: int
    refusal: ErrorCode | None


async def member_price(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    reward: RewardRecord,
    points: int | None,
    now: datetime,
) -> MemberPrice:
    """The one answer to "what does this member pay, and may they", for both the redemption
    and the member's list of rewards (`reward_options`), so the two cannot differ.

    A fixed-cost reward costs its points less the member's tier discount. PAY_WITH_POINTS is
    paid with the points the member chooses (`points`; the list shows `pointsMin`), never
    discounted: those points are what buys the discount's value. The tier may refuse either.
    """
    terms_cost, refusal = await member_reward_terms(
        conn, program_id=program_id, member_id=member_id, reward=reward, now=now
    )
    if reward.kind is RewardKind.PAY_WITH_POINTS:
        assert reward.points_min is not None
        return MemberPrice(points=reward.points_min if points is None else points, refusal=refusal)
    return MemberPrice(points=terms_cost, refusal=refusal)


@dataclass(frozen=True)
class RewardOption:
    """A reward as one member sees it now: what it costs them and, if they cannot redeem it,
    the code and message `redeemReward` would refuse with (checked in the same order)."""

    reward: RewardRecord
    cost_points: int
    refusal: tuple[ErrorCode, str] | None


async def reward_options(member_id: int, scope: ProgramScope) -> list[RewardOption]:
    """Every active, unretired reward of the member's program, cheapest first, with why not.

    A read without locks: a redemption a moment later may still be refused (stock runs out).
    """
    member = await require_member(member_id, scope, ["memberId"])
    conn = connection()
    now = utc_now()
    zone, _ = await program_zone(conn, member.program_id)
    rows = await fetch_all(
        conn,
        f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE program_id = ? AND active = ?"
        " AND retired_at IS NULL ORDER BY cost_points, id",
        (member.program_id, True),
    )
    options = []
    for reward in (reward_of(row) for row in rows):
        price = await member_price(
            conn,
            program_id=member.program_id,
            member_id=member.id,
            reward=reward,
            points=None,
            now=now,
        )
        cost, tier_refusal = price.points, price.refusal
        refusal = offer_refusal(reward, now)
        if refusal is None and member.points_debt > 0:
            refusal = (ErrorCode.POINTS_OWED, "the member owes points from refunds")
        if refusal is None and reward.code_source is CodeSource.POOL:
            left = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM reward_codes WHERE reward_id = ?"
                " AND redemption_id IS NULL",
                (reward.id,),
            )
            if left is None or int(left["n"]) == 0:
                refusal = (ErrorCode.REWARD_POOL_EMPTY, "the reward's codes are all handed out")
        if refusal is None and reward.per_member_limit is not None:
            used = await redeemed_in_window(conn, member.id, reward, now, zone)
            if used >= reward.per_member_limit:
                refusal = (ErrorCode.REWARD_LIMIT_REACHED, "the member reached the limit")
        if refusal is None and tier_refusal is not None:
            refusal = (tier_refusal, "the member's tier may not redeem this reward")
        if refusal is None and cost > member.points_available:
            refusal = (
                ErrorCode.INSUFFICIENT_POINTS,
                f"the member has fewer than {cost} points available",
            )
        options.append(RewardOption(reward=reward, cost_points=cost, refusal=refusal))
    return options


async def member_redemptions(
    member_id: int,
    scope: ProgramScope,
    *,
    status: RedemptionStatus | None,
    first: int,
    before: int | None,
) -> list[RedemptionRecord]:
    """The member's redemptions, newest first (keyset by id; `first` + 1 tells if more follow)."""
    member = await require_member(member_id, scope, ["memberId"])
    select = f"SELECT {REDEMPTION_COLUMNS} FROM redemptions WHERE member_id = ?"
    params: list[Any] = [member.id]
    if status is not None:
        select += " AND status = ?"
        params.append(status.value)
    if before is not None:
        select += " AND id < ?"
        params.append(before)
    select += " ORDER BY id DESC LIMIT ?"
    params.append(first + 1)
    return [redemption_of(row) for row in await fetch_all(connection(), select, params)]
