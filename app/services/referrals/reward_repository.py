"""The referral rewards' table, and the point lots of the rewards still pending.

Writes take the caller's transaction `conn`; no function here decides anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, fetch_all, fetch_one
from app.domain.referrals import (
    CatalogueFailure,
    CatalogueRewardStatus,
    ReferralSide,
    RewardStatus,
)
from app.rows import RowMapper
from app.services.referrals.records import ReferralRecord, ReferralRewardRecord
from app.services.referrals.repository import count, fetch_record

reward_row = RowMapper(ReferralRewardRecord)


async def insert_reward(
    conn: BaseDBAsyncClient,
    *,
    referral: ReferralRecord,
    member_id: int,
    side: ReferralSide,
    trigger_ref: str,
    order_pk: int | None,
    points: int,
    catalogue_reward_id: int | None,
    pending_until: datetime | None,
    now: datetime,
) -> int | None:
    """The new reward's id; None when this side was rewarded for this trigger before."""
    row = await fetch_one(
        conn,
        "INSERT INTO referral_rewards (program_id, referral_id, member_id, side, trigger_ref,"
        " order_id, points, status, transaction_id, available_at, created_at, settled_at,"
        " reward_id, reward_status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        " RETURNING id",
        (
            referral.program_id,
            referral.id,
            member_id,
            side.value,
            trigger_ref,
            order_pk,
            points,
            (RewardStatus.PENDING if pending_until is not None else RewardStatus.PAID).value,
            pending_until,
            now,
            None if pending_until is not None else now,
            catalogue_reward_id,
            None if catalogue_reward_id is None else CatalogueRewardStatus.PENDING.value,
        ),
    )
    return None if row is None else int(row["id"])


async def _update_reward(
    conn: BaseDBAsyncClient, reward_pk: int, assignments: str, params: Sequence[Any]
) -> None:
    await fetch_one(
        conn,
        f"UPDATE referral_rewards SET {assignments} WHERE id = ? RETURNING id",
        (*params, reward_pk),
    )


async def set_reward_transaction(
    conn: BaseDBAsyncClient, reward_pk: int, transaction_id: int
) -> None:
    await _update_reward(conn, reward_pk, "transaction_id = ?", (transaction_id,))


@dataclass(frozen=True)
class CatalogueGift:
    """A referral reward whose catalogue reward waits to be given."""

    program_id: int
    referral_id: int
    member_id: int
    side: ReferralSide
    reward_id: int


_gift = RowMapper(CatalogueGift)


async def pending_gift(conn: BaseDBAsyncClient, reward_pk: int) -> CatalogueGift | None:
    return await fetch_record(
        conn,
        _gift,
        f"SELECT {_gift.columns} FROM referral_rewards WHERE id = ? AND reward_status = ?"
        " AND reward_id IS NOT NULL",
        (reward_pk, CatalogueRewardStatus.PENDING.value),
    )


async def gift_failed(conn: BaseDBAsyncClient, reward_pk: int, reason: CatalogueFailure) -> None:
    await _update_reward(
        conn,
        reward_pk,
        "reward_status = ?, reward_failure = ?",
        (CatalogueRewardStatus.FAILED.value, reason.value),
    )


async def gift_given(
    conn: BaseDBAsyncClient, reward_pk: int, *, value_minor: int | None, redemption_id: int
) -> None:
    await _update_reward(
        conn,
        reward_pk,
        "reward_status = ?, reward_failure = NULL, reward_value_minor = ?, redemption_id = ?",
        (CatalogueRewardStatus.GIVEN.value, value_minor, redemption_id),
    )


async def rewarded_orders(conn: BaseDBAsyncClient, referral_id: int, side: ReferralSide) -> int:
    return await count(
        conn,
        "SELECT COUNT(*) AS n FROM referral_rewards WHERE referral_id = ? AND side = ?"
        " AND order_id IS NOT NULL",
        (referral_id, side.value),
    )


async def referrer_rewards_left(conn: BaseDBAsyncClient, referral_id: int) -> int:
    """The referrer's rewards of the referral that were not cancelled."""
    return await count(
        conn,
        "SELECT COUNT(*) AS n FROM referral_rewards WHERE referral_id = ? AND side = ?"
        " AND status <> ?",
        (referral_id, ReferralSide.REFERRER.value, RewardStatus.CANCELLED.value),
    )


@dataclass(frozen=True)
class PendingReward:
    """A pending reward of an order, as a refund or a delivery needs it."""

    id: int
    referral_id: int
    member_id: int
    transaction_id: int | None
    available_at: datetime


_pending = RowMapper(PendingReward)


async def pending_rewards_of_order(
    conn: BaseDBAsyncClient, order_pk: int, *, due_before: datetime | None = None
) -> list[PendingReward]:
    rows = await fetch_all(
        conn,
        f"SELECT {_pending.columns} FROM referral_rewards WHERE order_id = ? AND status = ?"
        + ("" if due_before is None else " AND available_at < ?")
        + " ORDER BY id",
        (
            order_pk,
            RewardStatus.PENDING.value,
            *(() if due_before is None else (due_before,)),
        ),
    )
    return _pending.all(rows)


async def postpone_reward(
    conn: BaseDBAsyncClient, reward: PendingReward, pending_until: datetime
) -> None:
    """The reward, and its points' lot, are due at `pending_until`."""
    await _update_reward(conn, reward.id, "available_at = ?", (pending_until,))
    await fetch_one(
        conn,
        "UPDATE point_lots SET pending_until = ? WHERE transaction_id = ?"
        " AND pending_until IS NOT NULL RETURNING id",
        (pending_until, reward.transaction_id),
    )


async def lock_if_pending(conn: BaseDBAsyncClient, reward_pk: int) -> bool:
    locked = await fetch_one(
        conn,
        "UPDATE referral_rewards SET status = status WHERE id = ? AND status = ? RETURNING id",
        (reward_pk, RewardStatus.PENDING.value),
    )
    return locked is not None


@dataclass(frozen=True)
class PendingLot:
    id: int
    program_id: int
    remaining: int


_pending_lot = RowMapper(PendingLot)


async def lock_pending_lot(conn: BaseDBAsyncClient, transaction_id: int) -> PendingLot | None:
    """The still pending lot of the reward's points, row-locked so maturing keeps off it."""
    return await fetch_record(
        conn,
        _pending_lot,
        "UPDATE point_lots SET remaining = remaining WHERE transaction_id = ?"
        f" AND pending_until IS NOT NULL RETURNING {_pending_lot.columns}",
        (transaction_id,),
    )


async def pending_lot_id(conn: BaseDBAsyncClient, transaction_id: int) -> int | None:
    row = await fetch_one(
        conn,
        "SELECT id FROM point_lots WHERE transaction_id = ? AND pending_until IS NOT NULL",
        (transaction_id,),
    )
    return None if row is None else int(row["id"])


async def cancel_reward(conn: BaseDBAsyncClient, reward_pk: int, now: datetime) -> bool:
    """Cancel a pending reward and the catalogue reward it was still waiting to give."""
    cancelled = await fetch_one(
        conn,
        "UPDATE referral_rewards SET status = ?, settled_at = ?,"
        " reward_status = CASE WHEN reward_status = ? THEN ? ELSE reward_status END"
        " WHERE id = ? AND status = ? RETURNING id",
        (
            RewardStatus.CANCELLED.value,
            now,
            CatalogueRewardStatus.PENDING.value,
            CatalogueRewardStatus.CANCELLED.value,
            reward_pk,
            RewardStatus.PENDING.value,
        ),
    )
    return cancelled is not None


@dataclass(frozen=True)
class SettledReward:
    referral_id: int
    side: ReferralSide
    transaction_id: int | None


_settled = RowMapper(SettledReward)


async def settle_if_due(
    conn: BaseDBAsyncClient, reward_pk: int, now: datetime
) -> SettledReward | None:
    """Make the reward PAID if it is pending and due; None when it is not."""
    return await fetch_record(
        conn,
        _settled,
        "UPDATE referral_rewards SET status = ?, settled_at = ? WHERE id = ? AND status = ?"
        f" AND available_at <= ? RETURNING {_settled.columns}",
        (RewardStatus.PAID.value, now, reward_pk, RewardStatus.PENDING.value, now),
    )


async def rewards_of(referral_id: int) -> list[ReferralRewardRecord]:
    rows = await fetch_all(
        connection(),
        f"SELECT {reward_row.columns} FROM referral_rewards WHERE referral_id = ? ORDER BY id",
        (referral_id,),
    )
    return reward_row.all(rows)
