"""The catalogue's rows: rewards, redemptions, pool codes and redemption settings.

Records are read with the generic mapper (app/rows.py), so a column added to a record is
added to every SELECT that reads it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_all, fetch_one, is_postgres
from app.domain.rewards import (
    CodeSource,
    LimitPeriod,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
    RewardTerms,
    limit_window_start,
)
from app.rows import Keyset, RowMapper
from app.services.core.inserts import insert_returning
from app.services.programs.service import ProgramScope, read_in_scope

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
        return terms_of(self.kind, self)


def terms_of(kind: RewardKind, fields: RewardFields) -> RewardTerms:
    """What the domain checks and prices of a reward of `kind` with these fields."""
    return RewardTerms(
        kind=kind,
        **{
            item.name: getattr(fields, item.name)
            for item in dataclasses.fields(RewardTerms)
            if item.name != "kind"
        },
    )


@dataclass(frozen=True)
class RedemptionFields:
    """A redemption as it is written."""

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


@dataclass(frozen=True, kw_only=True)
class RedemptionRecord(RedemptionFields):
    id: int


@dataclass(frozen=True, kw_only=True)
class NewRedemption(RedemptionFields):
    """A bought redemption, with when the points it spent would have expired (a cancellation
    gives them back no longer than that)."""

    spent_points_expire_at: datetime | None


@dataclass(frozen=True)
class RedemptionSettingsRecord:
    program_id: int
    # Whether an expired unused code returns its points (default False: nothing comes back).
    expired_codes_return_points: bool = False
    # Pay with points: points per whole unit of the program's currency.
    points_per_currency_unit: int = DEFAULT_POINTS_PER_CURRENCY_UNIT


reward_of = RowMapper(RewardRecord)
_OLDEST_FIRST = Keyset(newest_first=False)
_NEWEST_FIRST = Keyset(newest_first=True)
redemption_of = RowMapper(RedemptionRecord)
_settings_of = RowMapper(RedemptionSettingsRecord)

FIELD_NAMES = tuple(item.name for item in dataclasses.fields(RewardFields))


def _column_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, Enum):
        return value.value
    return value


def _column_values(data: RewardFields) -> list[Any]:
    """The admin's fields as stored, in the order of FIELD_NAMES."""
    return [_column_value(getattr(data, name)) for name in FIELD_NAMES]


async def read_reward(
    conn: BaseDBAsyncClient, reward_id: int, scope: ProgramScope
) -> RewardRecord | None:
    return await read_in_scope(conn, reward_of, "rewards", reward_id, scope)


async def read_redemption(
    conn: BaseDBAsyncClient, redemption_id: int, scope: ProgramScope
) -> RedemptionRecord | None:
    return await read_in_scope(conn, redemption_of, "redemptions", redemption_id, scope)


async def rewards_by_cost(
    conn: BaseDBAsyncClient, program_id: int, *, active_only: bool
) -> list[RewardRecord]:
    """The program's rewards, cheapest first; `active_only`: active and not retired."""
    select = f"SELECT {reward_of.columns} FROM rewards WHERE program_id = ?"
    params: list[Any] = [program_id]
    if active_only:
        select += " AND active = ? AND retired_at IS NULL"
        params.append(True)
    return reward_of.all(await fetch_all(conn, select + " ORDER BY cost_points, id", params))


async def rewards_page(
    conn: BaseDBAsyncClient,
    program_id: int,
    *,
    kinds: frozenset[RewardKind],
    include_retired: bool,
    include_inactive: bool,
    first: int,
    after: int | None,
) -> list[RewardRecord]:
    """By id (keyset pages of `first` + 1 to tell if more follow)."""
    select = f"SELECT {reward_of.columns} FROM rewards WHERE program_id = ?"
    params: list[Any] = [program_id]
    if not include_retired:
        select += " AND retired_at IS NULL"
    if not include_inactive:
        select += " AND active = ?"
        params.append(True)
    if kinds:
        select += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(sorted(kind.value for kind in kinds))
    select += _OLDEST_FIRST.clause
    params.extend(_OLDEST_FIRST.params(after, first + 1))
    return reward_of.all(await fetch_all(conn, select, params))


async def redemptions_page(
    conn: BaseDBAsyncClient,
    member_id: int,
    *,
    status: RedemptionStatus | None,
    first: int,
    before: int | None,
) -> list[RedemptionRecord]:
    """Newest first (keyset by id; `first` + 1 tells if more follow)."""
    select = f"SELECT {redemption_of.columns} FROM redemptions WHERE member_id = ?"
    params: list[Any] = [member_id]
    if status is not None:
        select += " AND status = ?"
        params.append(status.value)
    select += _NEWEST_FIRST.clause
    params.extend(_NEWEST_FIRST.params(before, first + 1))
    return redemption_of.all(await fetch_all(conn, select, params))


async def insert_reward(
    conn: BaseDBAsyncClient, program_id: int, kind: RewardKind, data: RewardFields, now: datetime
) -> RewardRecord:
    values = {"program_id": program_id, "kind": kind.value, "created_at": now}
    values.update(zip(FIELD_NAMES, _column_values(data), strict=True))
    return await insert_returning(conn, "rewards", values, reward_of)


async def write_reward_fields(
    conn: BaseDBAsyncClient, reward_id: int, data: RewardFields, now: datetime
) -> RewardRecord:
    assignments = ", ".join(f"{name} = ?" for name in FIELD_NAMES)
    row = await fetch_one(
        conn,
        f"UPDATE rewards SET {assignments}, updated_at = ? WHERE id = ?"
        f" RETURNING {reward_of.columns}",
        (*_column_values(data), now, reward_id),
    )
    assert row is not None
    return reward_of(row)


async def retire_reward_row(conn: BaseDBAsyncClient, reward_id: int, now: datetime) -> RewardRecord:
    row = await fetch_one(
        conn,
        f"UPDATE rewards SET retired_at = ?, updated_at = ? WHERE id = ?"
        f" RETURNING {reward_of.columns}",
        (now, now, reward_id),
    )
    assert row is not None
    return reward_of(row)


async def lock_reward_row(conn: BaseDBAsyncClient, reward_id: int) -> RewardRecord | None:
    """The reward, its row locked until the transaction ends (None: no such reward)."""
    row = await fetch_one(
        conn,
        f"UPDATE rewards SET stock = stock WHERE id = ? RETURNING {reward_of.columns}",
        (reward_id,),
    )
    return None if row is None else reward_of(row)


async def reward_program(conn: BaseDBAsyncClient, reward_id: int) -> int | None:
    row = await fetch_one(conn, "SELECT program_id FROM rewards WHERE id = ?", (reward_id,))
    return None if row is None else int(row["program_id"])


async def take_stock(conn: BaseDBAsyncClient, reward_id: int) -> bool:
    """One unit of stock, by a guarded update: False when none is left."""
    taken = await fetch_one(
        conn,
        "UPDATE rewards SET stock = stock - 1 WHERE id = ? AND stock > 0 RETURNING stock",
        (reward_id,),
    )
    return taken is not None


async def return_stock(conn: BaseDBAsyncClient, reward_id: int) -> str:
    """One unit of stock back (none for a reward without a stock limit); the reward's name."""
    row = await fetch_one(
        conn,
        "UPDATE rewards SET stock = CASE WHEN stock IS NULL THEN NULL ELSE stock + 1 END"
        " WHERE id = ? RETURNING name",
        (reward_id,),
    )
    assert row is not None
    return str(row["name"])


async def purchases_in_windows(
    conn: BaseDBAsyncClient,
    member_id: int,
    rewards: Sequence[RewardRecord],
    now: datetime,
    zone: str,
) -> dict[int, int]:
    """By reward id: the redemptions the member bought of each reward in its limit's current
    period (cancelled ones do not count; given rewards neither), in one statement."""
    if not rewards:
        return {}
    windows: list[str] = []
    params: list[Any] = [
        member_id,
        RedemptionSource.PURCHASE.value,
        RedemptionStatus.CANCELLED.value,
    ]
    for reward in rewards:
        start = limit_window_start(reward.limit_period, now, zone)
        if start is None:
            windows.append("reward_id = ?")
            params.append(reward.id)
        else:
            windows.append("(reward_id = ? AND created_at >= ?)")
            params.extend((reward.id, start))
    rows = await fetch_all(
        conn,
        "SELECT reward_id, COUNT(*) AS n FROM redemptions"
        " WHERE member_id = ? AND source = ? AND status <> ?"
        f" AND ({' OR '.join(windows)}) GROUP BY reward_id",
        params,
    )
    return {int(row["reward_id"]): int(row["n"]) for row in rows}


async def program_zone(conn: BaseDBAsyncClient, program_id: int) -> tuple[str, str]:
    """The program's time zone and currency."""
    row = await fetch_one(
        conn, "SELECT time_zone, currency FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return str(row["time_zone"]), str(row["currency"])


async def redemption_settings_of(
    conn: BaseDBAsyncClient, program_id: int
) -> RedemptionSettingsRecord:
    row = await fetch_one(
        conn,
        f"SELECT {_settings_of.columns} FROM redemption_settings WHERE program_id = ?",
        (program_id,),
    )
    return RedemptionSettingsRecord(program_id=program_id) if row is None else _settings_of(row)


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


async def hand_out_pool_code(conn: BaseDBAsyncClient, code_id: int, redemption_id: int) -> None:
    await fetch_one(
        conn,
        "UPDATE reward_codes SET redemption_id = ? WHERE id = ? RETURNING id",
        (redemption_id, code_id),
    )


async def pool_codes_left(conn: BaseDBAsyncClient, reward_ids: Sequence[int]) -> dict[int, int]:
    """By reward id: the uploaded codes not yet handed out (a reward without any is absent)."""
    distinct = list(dict.fromkeys(reward_ids))
    if not distinct:
        return {}
    rows = await fetch_all(
        conn,
        "SELECT reward_id, COUNT(*) AS n FROM reward_codes WHERE redemption_id IS NULL"
        f" AND reward_id IN ({', '.join('?' * len(distinct))}) GROUP BY reward_id",
        distinct,
    )
    return {int(row["reward_id"]): int(row["n"]) for row in rows}


async def insert_redemption(conn: BaseDBAsyncClient, new: NewRedemption) -> RedemptionRecord:
    values = {
        field.name: _column_value(getattr(new, field.name))
        for field in dataclasses.fields(NewRedemption)
    }
    return await insert_returning(conn, "redemptions", values, redemption_of)
