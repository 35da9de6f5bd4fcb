"""Catalogue rewards given to members without spending their points: referral rewards, punch
cards, tier entry rewards, membership welcome rewards. Apart from `rewards` so that services
which `members` imports can use it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_one
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.rewards import RedemptionStatus, RewardUnavailable, new_redemption_code
from app.services.ledger import Movement, mature_lot, post_movement


@dataclass(frozen=True)
class GivenReward:
    """A catalogue reward given to a member without spending their points."""

    redemption_id: int
    code: str
    value_minor: int | None


@dataclass(frozen=True)
class GiveReward:
    """What `give_reward` needs: who gets which reward, and why (for the activity feed).

    `kind` is the ledger kind of the credit that pays for it (REFERRAL, ACTION...): the reward's
    cost is earned and redeemed at once, so the member's lifetime figures show both.
    """

    program_id: int
    member_id: int
    reward_id: int
    kind: TransactionKind
    # Why it is given, e.g. "Referral reward": the feed shows "Referral reward: <name>".
    reason: str
    event_details: dict[str, Any]


async def give_reward(
    conn: BaseDBAsyncClient, gift: GiveReward, now: datetime
) -> GivenReward | RewardUnavailable:
    """Give a catalogue reward in the caller's transaction, as if redeemed with points granted.

    The reward's cost is credited to the member (`gift.kind`) and at once redeemed (REDEEM), so
    the member's balance does not change while lifetime earned and redeemed both rise by the
    cost. The points pass through a pending lot made due now and spent entirely by the
    redemption: they are never available, so they cannot repay a debt or be spent on anything
    else, and no older lot is touched. The member row is locked before the reward row, as in
    `redeem_reward`. Out of stock or inactive: the reason comes back and nothing moves.
    """
    await fetch_one(
        conn,
        "UPDATE members SET points_available = points_available WHERE id = ? RETURNING id",
        (gift.member_id,),
    )
    row = await fetch_one(
        conn,
        "SELECT id, name, cost_points, value_minor, stock, active FROM rewards"
        " WHERE id = ? AND program_id = ?",
        (gift.reward_id, gift.program_id),
    )
    if row is None or not row["active"]:
        return RewardUnavailable.REWARD_INACTIVE
    if row["stock"] is not None:
        taken = await fetch_one(
            conn,
            "UPDATE rewards SET stock = stock - 1 WHERE id = ? AND stock > 0 RETURNING stock",
            (row["id"],),
        )
        if taken is None:
            return RewardUnavailable.OUT_OF_STOCK
    cost = int(row["cost_points"])
    name = str(row["name"])
    code = new_redemption_code()
    credit = await post_movement(
        conn,
        Movement(
            program_id=gift.program_id,
            member_id=gift.member_id,
            kind=gift.kind,
            points=cost,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=Account.MEMBER_PENDING,
            pending_until=now,
            description=f"{gift.reason}: {name}",
            event_details=gift.event_details,
        ),
        now,
    )
    lot = await fetch_one(
        conn, "SELECT id FROM point_lots WHERE transaction_id = ?", (credit.transaction_id,)
    )
    assert lot is not None
    redeemed = await post_movement(
        conn,
        Movement(
            program_id=gift.program_id,
            member_id=gift.member_id,
            kind=TransactionKind.REDEEM,
            points=-cost,
            counter_account=Account.PROGRAM_REDEEMED,
            member_account=Account.MEMBER_PENDING,
            lot_id=int(lot["id"]),
            description=f"Redeemed {name} ({gift.reason.lower()})",
            event_details={
                "rewardId": encode_id("Reward", int(row["id"])),
                "code": code,
                **gift.event_details,
            },
        ),
        now,
    )
    # The emptied lot leaves the pending ones (no points move: it holds none).
    await mature_lot(conn, int(lot["id"]), now)
    redemption = await fetch_one(
        conn,
        "INSERT INTO redemptions (program_id, member_id, reward_id, code, points_spent, status,"
        " transaction_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            gift.program_id,
            gift.member_id,
            int(row["id"]),
            code,
            cost,
            RedemptionStatus.ISSUED.value,
            redeemed.transaction_id,
            now,
        ),
    )
    assert redemption is not None
    value = row["value_minor"]
    return GivenReward(
        redemption_id=int(redemption["id"]),
        code=code,
        value_minor=None if value is None else int(value),
    )
