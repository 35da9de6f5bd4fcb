"""The rows of tiers: the configuration, members' stored tiers and their history, manual
assignments, entry grants, and what the jobs page through.

Records are read with the generic mapper (app/rows.py). The SQL of a member's qualifying
history reads other capabilities' rows (ledger, orders, referrals, memberships) as they are,
so that evaluating a member is one read of each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    execute,
    fetch_all,
    fetch_all_quick,
    fetch_first_in,
    fetch_one,
    from_json,
)
from app.domain.ledger import Account, TransactionKind
from app.domain.money import convert_minor, parse_exchange_rate
from app.domain.tiers import (
    Assignment,
    Contribution,
    DowngradePolicy,
    TierChangeReason,
    TierConfig,
    TierMetric,
    TierPeriod,
)
from app.rows import RowMapper
from app.services.core.config_cache import cached
from app.services.ledger.service import lock_member_row

# Kinds whose points never qualify for a tier: a tier's own rewards must not feed it, and a
# punch card's reward was paid for by purchases that already earned.
NON_QUALIFYING_KINDS = (
    TransactionKind.TIER_REWARD.value,
    TransactionKind.MEMBERSHIP_REWARD.value,
    TransactionKind.PUNCH_CARD.value,
    TransactionKind.CHALLENGE.value,
    # An opening balance carried over was not earned in this program's periods.
    TransactionKind.IMPORT.value,
)


@dataclass(frozen=True)
class TierRecord:
    id: int
    program_id: int
    name: str
    rank: int
    threshold: int
    earn_multiplier: Decimal | None
    reward_discount_percent: int
    entry_points: int
    entry_reward_id: int | None
    perks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TierSettings:
    metric: TierMetric
    period: TierPeriod
    downgrade: DowngradePolicy
    grace_days: int
    version: int
    recalculated_version: int
    time_zone: str
    currency: str
    updated_at: datetime


@dataclass(frozen=True)
class TierProgram(TierSettings):
    """A program's tier configuration, with the state of the recalculation it needs."""

    program_id: int
    tiers: tuple[TierRecord, ...]

    @property
    def config(self) -> TierConfig:
        return TierConfig(
            metric=self.metric,
            period=self.period,
            downgrade=self.downgrade,
            grace_days=self.grace_days,
            thresholds=tuple(tier.threshold for tier in self.tiers),
        )

    @property
    def recalculation_pending(self) -> bool:
        return self.recalculated_version < self.version


@dataclass(frozen=True)
class AssignmentRecord:
    id: int
    tier_id: int
    tier_name: str
    rank: int
    assigned_at: datetime
    locked_until: datetime | None
    cleared_at: datetime | None
    reason: str

    @property
    def domain(self) -> Assignment:
        return Assignment(self.rank, self.assigned_at, self.locked_until, self.cleared_at)


@dataclass(frozen=True)
class TierChangeRecord:
    from_tier: str | None
    to_tier: str | None
    reason: TierChangeReason
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class TierMember:
    id: int
    program_id: int
    enrolled_at: datetime


@dataclass(frozen=True)
class StoredTier:
    """A member's row of `member_tiers`, with the name and rank of the tier it holds."""

    tier_id: int | None
    since: datetime
    review_at: datetime | None
    config_version: int
    name: str | None
    rank: int | None


@dataclass(frozen=True)
class ActivePlan:
    """The plan of one of the member's active paid memberships."""

    tier_id: int | None
    earn_multiplier: Decimal | None
    perks: tuple[str, ...]
    ends_at: datetime


RecordT = TypeVar("RecordT")

_tier_of = RowMapper(TierRecord)
_settings_of = RowMapper(TierSettings)
_assignment_of = RowMapper(AssignmentRecord)
_change_of = RowMapper(TierChangeRecord)
_member_of = RowMapper(TierMember)
_stored_of = RowMapper(StoredTier)
_plan_of = RowMapper(ActivePlan)

_ASSIGNMENT_COLUMNS = (
    "a.id, a.tier_id, t.name AS tier_name, COALESCE(t.rank, -1) AS rank, a.assigned_at,"
    " a.locked_until, a.cleared_at, a.reason"
)
_ASSIGNMENTS = (
    f"SELECT {_ASSIGNMENT_COLUMNS} FROM tier_assignments a JOIN tiers t ON t.id = a.tier_id"
)
_ASSIGNMENTS_BY_MEMBER = (
    f"SELECT a.member_id, {_ASSIGNMENT_COLUMNS} FROM tier_assignments a"
    " JOIN tiers t ON t.id = a.tier_id"
)
# How many of a member's tier changes their status shows.
RECENT_CHANGES = 50


def utc(moment: datetime | None) -> datetime | None:
    """Stored instants are UTC: SQLite compares them as text."""
    return None if moment is None else moment.astimezone(UTC)


# --- the configuration ------------------------------------------------------------------------


async def tier_program(conn: BaseDBAsyncClient, program_id: int) -> TierProgram | None:
    """The program's tiers, or None when it has none (cached while the program's configuration
    is)."""
    return await cached("tiers.program", program_id, lambda: _tier_program(conn, program_id))


async def _tier_program(conn: BaseDBAsyncClient, program_id: int) -> TierProgram | None:
    settings = await fetch_one(
        conn,
        "SELECT s.metric, s.period, s.downgrade, s.grace_days, s.version, s.recalculated_version,"
        " s.updated_at, p.time_zone, p.currency FROM tier_settings s"
        " JOIN programs p ON p.id = s.program_id WHERE s.program_id = ?",
        (program_id,),
    )
    if settings is None:
        return None
    rows = await fetch_all(
        conn,
        f"SELECT {_tier_of.columns} FROM tiers"
        " WHERE program_id = ? AND retired_at IS NULL ORDER BY rank",
        (program_id,),
    )
    if not rows:
        return None
    return TierProgram(
        **vars(_settings_of(settings)), program_id=program_id, tiers=tuple(_tier_of.all(rows))
    )


async def active_tier(conn: BaseDBAsyncClient, tier_id: int) -> tuple[int, TierRecord] | None:
    """An active tier by id, with its program."""
    row = await fetch_one(
        conn,
        f"SELECT {_tier_of.columns} FROM tiers WHERE id = ? AND retired_at IS NULL",
        (tier_id,),
    )
    return None if row is None else (int(row["program_id"]), _tier_of(row))


async def tier_names(conn: BaseDBAsyncClient, program_id: int) -> dict[str, bool]:
    """Every tier the program has or had, by name: True while it is active."""
    rows = await fetch_all(
        conn, "SELECT name, retired_at FROM tiers WHERE program_id = ?", (program_id,)
    )
    return {str(row["name"]): row["retired_at"] is None for row in rows}


async def required_tiers_of_rewards(
    conn: BaseDBAsyncClient, program_id: int, *, active_only: bool
) -> list[tuple[int, str, list[str]]]:
    """(id, name, required tier names) of the program's rewards."""
    select = "SELECT id, name, required_tiers FROM rewards WHERE program_id = ?"
    if active_only:
        select += " AND retired_at IS NULL"
    return [
        (
            int(row["id"]),
            str(row["name"]),
            [str(name) for name in from_json(row["required_tiers"]) or ()],
        )
        for row in await fetch_all(conn, select, (program_id,))
    ]


async def set_required_tiers(conn: BaseDBAsyncClient, reward_id: int, names: list[str]) -> None:
    await execute(
        conn, "UPDATE rewards SET required_tiers = ? WHERE id = ?", (json.dumps(names), reward_id)
    )


async def save_settings(
    conn: BaseDBAsyncClient,
    program_id: int,
    *,
    metric: TierMetric,
    period: TierPeriod,
    downgrade: DowngradePolicy,
    grace_days: int,
    now: datetime,
) -> None:
    """The program's tier settings, at a new version whose recalculation starts over."""
    values = (metric.value, period.value, downgrade.value, grace_days)
    updated = await fetch_one(
        conn,
        "UPDATE tier_settings SET metric = ?, period = ?, downgrade = ?, grace_days = ?,"
        " version = version + 1, recalculation_cursor = NULL, updated_at = ?"
        " WHERE program_id = ? RETURNING id",
        (*values, now, program_id),
    )
    if updated is None:
        await execute(
            conn,
            "INSERT INTO tier_settings (program_id, metric, period, downgrade, grace_days,"
            " version, recalculated_version, recalculation_cursor, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 1, 0, NULL, ?)",
            (program_id, *values, now),
        )


async def rename_tier(conn: BaseDBAsyncClient, program_id: int, old: str, new: str) -> None:
    await execute(
        conn,
        "UPDATE tiers SET name = ? WHERE program_id = ? AND name = ?",
        (new, program_id, old),
    )


async def retire_all_tiers(conn: BaseDBAsyncClient, program_id: int, now: datetime) -> None:
    """Every tier of the program off its rank and retired (those configured again come back)."""
    await execute(
        conn,
        "UPDATE tiers SET rank = NULL, retired_at = COALESCE(retired_at, ?) WHERE program_id = ?",
        (now, program_id),
    )


@dataclass(frozen=True)
class TierRow:
    """A configured tier as it is written."""

    name: str
    rank: int
    threshold: int
    earn_multiplier: str | None
    reward_discount_percent: int
    entry_points: int
    entry_reward_id: int | None
    perks: list[str]


async def save_tier(conn: BaseDBAsyncClient, program_id: int, tier: TierRow, now: datetime) -> None:
    """The tier of that name, active at its rank: updated when the program has (or had) it."""
    values = (
        tier.rank,
        tier.threshold,
        tier.earn_multiplier,
        tier.reward_discount_percent,
        tier.entry_points,
        tier.entry_reward_id,
        json.dumps(tier.perks),
    )
    updated = await fetch_one(
        conn,
        "UPDATE tiers SET rank = ?, threshold = ?, earn_multiplier = ?,"
        " reward_discount_percent = ?, entry_points = ?, entry_reward_id = ?, perks = ?,"
        " retired_at = NULL WHERE program_id = ? AND name = ? RETURNING id",
        (*values, program_id, tier.name),
    )
    if updated is None:
        await execute(
            conn,
            "INSERT INTO tiers (program_id, name, rank, threshold, earn_multiplier,"
            " reward_discount_percent, entry_points, entry_reward_id, perks, retired_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (program_id, tier.name, *values, now),
        )


async def clear_assignments_to_retired_tiers(
    conn: BaseDBAsyncClient, program_id: int, now: datetime
) -> None:
    await execute(
        conn,
        "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ?"
        " WHERE cleared_at IS NULL AND tier_id IN"
        " (SELECT id FROM tiers WHERE program_id = ? AND retired_at IS NOT NULL)",
        (now, "the tier was retired", program_id),
    )


# --- a member's history -----------------------------------------------------------------------


async def contributions(
    conn: BaseDBAsyncClient, metric: TierMetric, currency: str, member_id: int
) -> list[Contribution]:
    """Everything in the member's history that counts for `metric`, dated (money in the
    program's `currency`)."""
    found = await contributions_of(conn, metric, currency, [member_id])
    return found.get(member_id, [])


async def contributions_of(
    conn: BaseDBAsyncClient, metric: TierMetric, currency: str, member_ids: Sequence[int]
) -> dict[int, list[Contribution]]:
    """`contributions` of many members in one statement, by member id."""
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    among = _placeholders(members)
    if metric is TierMetric.POINTS_EARNED:
        kinds = _placeholders(NON_QUALIFYING_KINDS)
        rows = await fetch_all(
            conn,
            "SELECT e.member_id, e.amount, COALESCE(o.placed_at, t.created_at) AS at"
            " FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id"
            " LEFT JOIN orders o ON o.program_id = t.program_id AND o.order_id = t.order_ref"
            f" WHERE e.member_id IN ({among}) AND e.account = ? AND t.kind NOT IN ({kinds})",
            (*members, Account.PROGRAM_ISSUED.value, *NON_QUALIFYING_KINDS),
        )
        return _by_member(
            rows, lambda row: Contribution(at=as_datetime(row["at"]), value=-int(row["amount"]))
        )
    if metric is TierMetric.REFERRALS:
        rows = await fetch_all(
            conn,
            "SELECT referrer_id AS member_id, rewarded_at FROM referrals"
            f" WHERE referrer_id IN ({among}) AND state = 'REWARDED' AND rewarded_at IS NOT NULL",
            members,
        )
        return _by_member(
            rows, lambda row: Contribution(at=as_datetime(row["rewarded_at"]), value=1)
        )
    rows = await fetch_all(
        conn,
        "SELECT member_id, total_minor, refunded_minor, currency, exchange_rate, status, placed_at"
        f" FROM orders WHERE member_id IN ({among})",
        members,
    )
    return _by_member(rows, lambda row: _order_contribution(metric, currency, row))


def _placeholders(keys: Sequence[object]) -> str:
    return ", ".join("?" * len(keys))


def _by_member(
    rows: Iterable[dict[str, Any]], record: Callable[[dict[str, Any]], RecordT]
) -> dict[int, list[RecordT]]:
    """Each row's record, grouped by the row's `member_id`."""
    found: dict[int, list[RecordT]] = {}
    for row in rows:
        found.setdefault(int(row["member_id"]), []).append(record(row))
    return found


def _order_contribution(metric: TierMetric, currency: str, row: dict[str, Any]) -> Contribution:
    gone = row["status"] in ("REFUNDED", "CANCELLED")
    at = as_datetime(row["placed_at"])
    if metric is TierMetric.ORDERS:
        return Contribution(at=at, value=0 if gone else 1)
    spent = 0 if gone else int(row["total_minor"]) - int(row["refunded_minor"])
    rate = None if row["exchange_rate"] is None else parse_exchange_rate(str(row["exchange_rate"]))
    if row["currency"] != currency and rate is not None:
        spent = convert_minor(spent, str(row["currency"]), currency, rate)
    return Contribution(at=at, value=spent)


async def member(conn: BaseDBAsyncClient, member_id: int, *, lock: bool) -> TierMember | None:
    if lock:
        # The member row first, as every writer of a member does (see services/ledger).
        row = await lock_member_row(conn, member_id, _member_of.columns)
        return None if row is None else _member_of(row)
    return (await members_of(conn, [member_id])).get(member_id)


async def members_of(conn: BaseDBAsyncClient, member_ids: Sequence[int]) -> dict[int, TierMember]:
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    rows = await fetch_all(
        conn,
        f"SELECT {_member_of.columns} FROM members WHERE id IN ({_placeholders(members)})",
        members,
    )
    return {record.id: record for record in _member_of.all(rows)}


async def active_plans(conn: BaseDBAsyncClient, member_id: int, now: datetime) -> list[ActivePlan]:
    """The plans of the member's memberships active now (not ended, and not past `ends_at`:
    benefits stop on time even before the memberships job records the end)."""
    return (await active_plans_of(conn, [member_id], now)).get(member_id, [])


async def active_plans_of(
    conn: BaseDBAsyncClient, member_ids: Sequence[int], now: datetime
) -> dict[int, list[ActivePlan]]:
    """`active_plans` of many members in one statement, by member id."""
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    rows = await fetch_all_quick(
        conn,
        "SELECT m.member_id, p.tier_id, p.earn_multiplier, p.perks, m.ends_at FROM memberships m"
        " JOIN membership_plans p ON p.id = m.plan_id"
        f" WHERE m.member_id IN ({_placeholders(members)}) AND m.ended_at IS NULL"
        " AND m.ends_at > ?",
        (*members, now),
    )
    return _by_member(rows, _plan_of)


async def last_assignment(conn: BaseDBAsyncClient, member_id: int) -> AssignmentRecord | None:
    """The member's latest manual assignment (each new one clears the one before)."""
    return (await last_assignments_of(conn, [member_id])).get(member_id)


async def last_assignments_of(
    conn: BaseDBAsyncClient, member_ids: Sequence[int]
) -> dict[int, AssignmentRecord]:
    """`last_assignment` of many members in one statement, by member id."""
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    rows = await fetch_all(
        conn,
        f"{_ASSIGNMENTS_BY_MEMBER} WHERE a.id IN (SELECT MAX(id) FROM tier_assignments"
        f" WHERE member_id IN ({_placeholders(members)}) GROUP BY member_id)",
        members,
    )
    return {int(row["member_id"]): _assignment_of(row) for row in rows}


async def assignment(conn: BaseDBAsyncClient, assignment_id: int) -> AssignmentRecord:
    row = await fetch_one(conn, f"{_ASSIGNMENTS} WHERE a.id = ?", (assignment_id,))
    assert row is not None
    return _assignment_of(row)


async def insert_assignment(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    tier_id: int,
    locked_until: datetime | None,
    reason: str,
    now: datetime,
) -> int:
    """A new assignment of the member, ending the one in force; its id."""
    await execute(
        conn,
        "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ?"
        " WHERE member_id = ? AND cleared_at IS NULL",
        (now, "replaced by a new assignment", member_id),
    )
    row = await fetch_one(
        conn,
        "INSERT INTO tier_assignments (program_id, member_id, tier_id, locked_until, reason,"
        " assigned_at, cleared_at, clear_reason) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)"
        " RETURNING id",
        (program_id, member_id, tier_id, locked_until, reason, now),
    )
    assert row is not None
    return int(row["id"])


async def clear_assignment(
    conn: BaseDBAsyncClient, assignment_id: int, reason: str, now: datetime
) -> None:
    await execute(
        conn,
        "UPDATE tier_assignments SET cleared_at = ?, clear_reason = ? WHERE id = ?",
        (now, reason, assignment_id),
    )


# --- a member's stored tier -------------------------------------------------------------------


async def stored_tier(conn: BaseDBAsyncClient, member_id: int) -> StoredTier | None:
    return (await stored_tiers_of(conn, [member_id])).get(member_id)


async def stored_tiers_of(
    conn: BaseDBAsyncClient, member_ids: Sequence[int]
) -> dict[int, StoredTier]:
    """`stored_tier` of many members in one statement, by member id."""
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    rows = await fetch_all_quick(
        conn,
        "SELECT m.member_id, m.tier_id, m.since, m.review_at, m.config_version, t.name, t.rank"
        " FROM member_tiers m LEFT JOIN tiers t ON t.id = m.tier_id"
        f" WHERE m.member_id IN ({_placeholders(members)})",
        members,
    )
    return {int(row["member_id"]): _stored_of(row) for row in rows}


async def insert_stored_tier(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    tier_id: int | None,
    *,
    since: datetime,
    review_at: datetime | None,
    now: datetime,
) -> None:
    await execute(
        conn,
        "INSERT INTO member_tiers (member_id, program_id, tier_id, since, review_at,"
        " config_version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (member_id, program.program_id, tier_id, since, utc(review_at), program.version, now),
    )


async def update_review(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    review_at: datetime | None,
    now: datetime,
) -> None:
    """The member keeps their tier: when to look again, and under which configuration."""
    await execute(
        conn,
        "UPDATE member_tiers SET review_at = ?, config_version = ?, updated_at = ?"
        " WHERE member_id = ?",
        (utc(review_at), program.version, now, member_id),
    )


async def move_stored_tier(
    conn: BaseDBAsyncClient,
    program: TierProgram,
    member_id: int,
    tier_id: int | None,
    review_at: datetime | None,
    now: datetime,
) -> None:
    await execute(
        conn,
        "UPDATE member_tiers SET tier_id = ?, since = ?, review_at = ?, config_version = ?,"
        " updated_at = ? WHERE member_id = ?",
        (tier_id, now, utc(review_at), program.version, now, member_id),
    )


async def insert_change(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, change: TierChangeRecord
) -> None:
    await execute(
        conn,
        "INSERT INTO tier_changes (program_id, member_id, from_tier, to_tier, reason, note, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            program_id,
            member_id,
            change.from_tier,
            change.to_tier,
            change.reason.value,
            change.note,
            change.at,
        ),
    )


async def recent_changes(conn: BaseDBAsyncClient, member_id: int) -> list[TierChangeRecord]:
    return (await recent_changes_of(conn, [member_id])).get(member_id, [])


async def recent_changes_of(
    conn: BaseDBAsyncClient, member_ids: Sequence[int]
) -> dict[int, list[TierChangeRecord]]:
    """The last `RECENT_CHANGES` tier changes of each member, newest first, in one statement."""
    rows = await fetch_first_in(
        conn,
        f"id, member_id, {_change_of.columns}",
        "tier_changes",
        "member_id",
        member_ids,
        order_by="id DESC",
        limit=RECENT_CHANGES,
    )
    return _by_member(rows, _change_of)


async def claim_entry_grant(
    conn: BaseDBAsyncClient, member_id: int, tier: TierRecord, now: datetime
) -> int | None:
    """The member's first entry to the tier (the unique index on (member, tier) decides);
    the grant's id, None when they entered it before."""
    claimed = await fetch_one(
        conn,
        "INSERT INTO tier_entry_grants (member_id, tier_id, points, redemption_id, reward_failure,"
        " granted_at) VALUES (?, ?, ?, NULL, NULL, ?)"
        " ON CONFLICT (member_id, tier_id) DO NOTHING RETURNING id",
        (member_id, tier.id, tier.entry_points, now),
    )
    return None if claimed is None else int(claimed["id"])


async def record_entry_reward(
    conn: BaseDBAsyncClient, grant_id: int, *, redemption_id: int | None, failure: str | None
) -> None:
    await execute(
        conn,
        "UPDATE tier_entry_grants SET redemption_id = ?, reward_failure = ? WHERE id = ?",
        (redemption_id, failure, grant_id),
    )


# --- what the jobs page through ---------------------------------------------------------------


async def due_for_review(
    conn: BaseDBAsyncClient, now: datetime, after_member_id: int, limit: int
) -> list[tuple[int, int]]:
    rows = await fetch_all(
        conn,
        "SELECT program_id, member_id FROM member_tiers WHERE review_at IS NOT NULL"
        " AND review_at <= ? AND member_id > ? ORDER BY member_id LIMIT ?",
        (now, after_member_id, limit),
    )
    return [(int(row["program_id"]), int(row["member_id"])) for row in rows]


async def count_due_for_review(conn: BaseDBAsyncClient, now: datetime) -> int:
    row = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM member_tiers WHERE review_at IS NOT NULL AND review_at <= ?",
        (now,),
    )
    return 0 if row is None else int(row["n"])


async def programs_to_recalculate(conn: BaseDBAsyncClient) -> list[tuple[int, int, int | None]]:
    """(program id, version, cursor) of every program whose members are not all recalculated."""
    rows = await fetch_all(
        conn,
        "SELECT program_id, version, recalculation_cursor FROM tier_settings"
        " WHERE recalculated_version < version ORDER BY program_id",
    )
    return [
        (
            int(row["program_id"]),
            int(row["version"]),
            None if row["recalculation_cursor"] is None else int(row["recalculation_cursor"]),
        )
        for row in rows
    ]


async def members_after(
    conn: BaseDBAsyncClient, program_id: int, after_member_id: int, limit: int
) -> list[int]:
    rows = await fetch_all(
        conn,
        "SELECT id FROM members WHERE program_id = ? AND id > ? ORDER BY id LIMIT ?",
        (program_id, after_member_id, limit),
    )
    return [int(row["id"]) for row in rows]


async def count_members(conn: BaseDBAsyncClient, program_id: int, after_member_id: int) -> int:
    row = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM members WHERE program_id = ? AND id > ?",
        (program_id, after_member_id),
    )
    return 0 if row is None else int(row["n"])


async def save_recalculation_cursor(
    conn: BaseDBAsyncClient, program_id: int, version: int, member_id: int | None, *, done: bool
) -> None:
    await execute(
        conn,
        "UPDATE tier_settings SET recalculation_cursor = ?,"
        " recalculated_version = CASE WHEN ? THEN ? ELSE recalculated_version END"
        " WHERE program_id = ? AND version = ?",
        (None if done else member_id, done, version, program_id, version),
    )
