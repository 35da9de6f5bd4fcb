"""Catalogue rewards given to members without spending their points: referral rewards, punch
cards, tier entry rewards, membership welcome rewards. Apart from `rewards` so that services
which `members` imports can use it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_optional_datetime, fetch_one, lock_until_commit
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.rewards import (
    MONEY_KINDS,
    CodeSource,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
    RewardUnavailable,
    code_expires_at,
    new_redemption_code,
)
from app.services.analytics import rollups
from app.services.core.events import append_event
from app.services.ledger.service import Movement, lock_member, mature_lot, post_movement
from app.services.rewards import repository


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


# Kinds `give_reward` always refuses: a gift of store credit is the store-credit account's own
# movement, and paying with points needs the member's points.
UNGIFTABLE_KINDS = (RewardKind.STORE_CREDIT, RewardKind.PAY_WITH_POINTS)


def _unavailable(row: dict[str, Any], now: datetime) -> bool:
    starts_at = as_optional_datetime(row["starts_at"])
    ends_at = as_optional_datetime(row["ends_at"])
    return (
        not row["active"]
        or row["retired_at"] is not None
        or (starts_at is not None and now < starts_at)
        or (ends_at is not None and now >= ends_at)
    )


# Namespace of the PostgreSQL advisory lock taken by `lock_reward_rows` (two-key form, so it
# never meets the job runner's one-key locks); the second key is the program id.
PROGRAM_REWARD_LOCK_CLASS = 0x4C52


async def lock_reward_rows(conn: BaseDBAsyncClient, program_id: int) -> None:
    """Take the program's reward-rows lock before locking any reward row that the transaction
    may hold while it goes on to lock another (a gift's stock, a returned unit of stock).

    One transaction can give two rewards in feature order (record_order: punch card, then tier
    entry; startMembership: welcome, then tier entry; a cancellation: the returned unit, then
    the tier entry of the re-evaluated member), so two transactions could lock two reward rows
    in opposite orders and deadlock. Holding this lock until commit first makes them take turns
    instead. Purchases lock one reward row and nothing after it, so they do not need it.

    Order: every member row the transaction needs first (a friend's order locks the referrer
    before the friend's referral gift, and record_order and refunds lock the referrer before
    punch cards and tiers give anything), then this lock, then reward rows; a
    transaction holding it must not lock another member. SQLite has one writer at a time:
    nothing to do.
    """
    await lock_until_commit(conn, PROGRAM_REWARD_LOCK_CLASS, program_id)


async def _through_pending_lot(
    conn: BaseDBAsyncClient, credit: Movement, debit: Movement, now: datetime
) -> tuple[int, int]:
    """`credit` into a pending lot due now, then `debit` out of that same lot, which then
    leaves the pending ones (no points move: it holds none). The points are never available:
    they cannot repay a debt or be spent on anything else, and no older lot is touched. The
    two transactions' ids."""
    credited = await post_movement(conn, replace(credit, pending_until=now), now)
    lot = await fetch_one(
        conn, "SELECT id FROM point_lots WHERE transaction_id = ?", (credited.transaction_id,)
    )
    assert lot is not None
    debited = await post_movement(conn, replace(debit, lot_id=int(lot["id"])), now)
    await mature_lot(conn, int(lot["id"]), now)
    return credited.transaction_id, debited.transaction_id


async def require_giftable_reward(
    conn: BaseDBAsyncClient,
    program_id: int,
    reward_id: int,
    field: list[str],
    now: datetime,
) -> None:
    """Refuse, when a feature is configured to give a reward (punch card, tier entry,
    membership welcome), a reward `give_reward` would refuse today: REWARD_NOT_FOUND (not in
    this program), REWARD_NOT_GIFTABLE (STORE_CREDIT or PAY_WITH_POINTS) or REWARD_INACTIVE
    (inactive, retired, not started or ended). Stock and pools are not checked: they change
    after configuration and a gift that finds none is recorded as failed."""
    row = await fetch_one(
        conn,
        "SELECT kind, active, retired_at, starts_at, ends_at FROM rewards"
        " WHERE id = ? AND program_id = ?",
        (reward_id, program_id),
    )
    if row is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", field)
    kind = RewardKind(row["kind"])
    if kind in UNGIFTABLE_KINDS:
        raise DomainError(
            ErrorCode.REWARD_NOT_GIFTABLE,
            f"a {kind.value} reward cannot be given: it is only redeemed by the member",
            field,
        )
    if _unavailable(row, now):
        raise DomainError(
            ErrorCode.REWARD_INACTIVE,
            "the reward is inactive, retired, not started or ended: it cannot be given",
            field,
        )


async def give_reward(
    conn: BaseDBAsyncClient, gift: GiveReward, now: datetime
) -> GivenReward | RewardUnavailable:
    """Give a catalogue reward in the caller's transaction, as if redeemed with points granted.

    The reward's cost is credited to the member (`gift.kind`) and at once redeemed (REDEEM), so
    the member's balance does not change while lifetime earned and redeemed both rise by the
    cost. The points pass through a pending lot made due now and spent entirely by the
    redemption: they are never available, so they cannot repay a debt or be spent on anything
    else, and no older lot is touched. The member row is locked before the reward row, as in
    `redeem_reward`. Inactive (or retired, or outside its window), out of stock, or a POOL
    reward without codes left: the reason comes back and nothing moves. The redemption's
    source is GIFT; `revoke_given_reward` takes it back.

    STORE_CREDIT and PAY_WITH_POINTS rewards cannot be given (they are REWARD_INACTIVE here):
    a gift of store credit is the store-credit account's own movement.
    """
    await lock_member(conn, gift.member_id)
    row = await fetch_one(
        conn,
        "SELECT r.id, r.name, r.kind, r.cost_points, r.value_minor, r.stock, r.active,"
        " r.retired_at, r.starts_at, r.ends_at, r.code_source, r.code_valid_days, r.currency,"
        " r.charity_name, p.currency AS program_currency"
        " FROM rewards r JOIN programs p ON p.id = r.program_id"
        " WHERE r.id = ? AND r.program_id = ?",
        (gift.reward_id, gift.program_id),
    )
    if row is None or _unavailable(row, now) or RewardKind(row["kind"]) in UNGIFTABLE_KINDS:
        return RewardUnavailable.REWARD_INACTIVE
    if row["stock"] is not None:
        # Only a stocked reward's row is locked (by the stock update) until commit.
        await lock_reward_rows(conn, gift.program_id)
        if not await repository.take_stock(conn, int(row["id"])):
            return RewardUnavailable.OUT_OF_STOCK
    code = new_redemption_code()
    pool_code: tuple[int, str] | None = None
    if row["code_source"] == CodeSource.POOL.value:
        pool_code = await repository.take_pool_code(conn, int(row["id"]))
        if pool_code is None:
            if row["stock"] is not None:
                # Nothing may move when the reward cannot be given: the unit goes back.
                await repository.return_stock(conn, int(row["id"]))
            return RewardUnavailable.POOL_EMPTY
        code = pool_code[1]
    cost = int(row["cost_points"])
    name = str(row["name"])
    _, redeemed = await _through_pending_lot(
        conn,
        Movement(
            program_id=gift.program_id,
            member_id=gift.member_id,
            kind=gift.kind,
            points=cost,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=Account.MEMBER_PENDING,
            description=f"{gift.reason}: {name}",
            event_details=gift.event_details,
        ),
        Movement(
            program_id=gift.program_id,
            member_id=gift.member_id,
            kind=TransactionKind.REDEEM,
            points=-cost,
            counter_account=Account.PROGRAM_REDEEMED,
            member_account=Account.MEMBER_PENDING,
            description=f"Redeemed {name} ({gift.reason.lower()})",
            event_details={
                "rewardId": encode_id("Reward", int(row["id"])),
                **gift.event_details,
            },
            rollup=rollups.reward_rows(
                await rollups.day_of(conn, gift.program_id, now),
                str(row["kind"]),
                None if row["value_minor"] is None else int(row["value_minor"]),
                str(row["currency"] or row["program_currency"]),
                str(row["program_currency"]),
            ),
        ),
        now,
    )
    redemption_id = await _insert_gift(conn, gift, row, code, redeemed, now)
    if pool_code is not None:
        await repository.hand_out_pool_code(conn, pool_code[0], redemption_id)
    value = row["value_minor"]
    return GivenReward(
        redemption_id=redemption_id,
        code=code,
        value_minor=None if value is None else int(value),
    )


async def _insert_gift(
    conn: BaseDBAsyncClient,
    gift: GiveReward,
    row: dict[str, Any],
    code: str,
    transaction_id: int,
    now: datetime,
) -> int:
    """The gift's redemption (source GIFT); its id."""
    kind = RewardKind(row["kind"])
    value = row["value_minor"]
    currency = (
        (row["currency"] or row["program_currency"])
        if kind in MONEY_KINDS or value is not None
        else None
    )
    valid_days = row["code_valid_days"]
    # A donation is made when given: settled at once, never expires nor comes back.
    settled = kind is RewardKind.CHARITY
    code_expiry = code_expires_at(now, None if valid_days is None else int(valid_days))
    redemption = await fetch_one(
        conn,
        "INSERT INTO redemptions (program_id, member_id, reward_id, code, points_spent, status,"
        " transaction_id, created_at, source, value_minor, currency, charity_name, expires_at,"
        " used_at, gift_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            gift.program_id,
            gift.member_id,
            int(row["id"]),
            code,
            int(row["cost_points"]),
            (RedemptionStatus.USED if settled else RedemptionStatus.ISSUED).value,
            transaction_id,
            now,
            RedemptionSource.GIFT.value,
            value,
            currency,
            row["charity_name"],
            None if settled else code_expiry,
            now if settled else None,
            gift.kind.value,
        ),
    )
    assert redemption is not None
    return int(redemption["id"])


async def revoke_given_reward(conn: BaseDBAsyncClient, redemption_id: int, now: datetime) -> bool:
    """Take back a given (GIFT) reward whose code is still unused, in the caller's transaction.

    The guarded ISSUED -> CANCELLED update decides, so a second call (or a use of the code at
    the same moment) changes nothing and returns False. The unit of stock goes back. The gift's
    redemption and its credit are reversed through a pending lot, as `give_reward` made them:
    the member's balance is unchanged, lifetime earned and redeemed both fall back by the cost,
    and no points ever become available to spend. The credit is reversed with the gift's own
    kind (PUNCH_CARD, TIER_REWARD...), so whatever counts or excludes that kind (tier progress)
    sees the gift and its take-back alike. Member row first, then the redemption.
    """
    owner = await fetch_one(
        conn,
        "SELECT member_id FROM redemptions WHERE id = ? AND source = ?",
        (
            redemption_id,
            RedemptionSource.GIFT.value,
        ),
    )
    if owner is None:
        return False
    await lock_member(conn, int(owner["member_id"]))
    cancelled = await fetch_one(
        conn,
        "UPDATE redemptions SET status = ?, cancelled_at = ? WHERE id = ? AND status = ?"
        " AND source = ?"
        " RETURNING program_id, member_id, reward_id, points_spent, code, gift_kind",
        (
            RedemptionStatus.CANCELLED.value,
            now,
            redemption_id,
            RedemptionStatus.ISSUED.value,
            RedemptionSource.GIFT.value,
        ),
    )
    if cancelled is None:
        return False
    program_id, member_id = int(cancelled["program_id"]), int(cancelled["member_id"])
    reward_id, cost = int(cancelled["reward_id"]), int(cancelled["points_spent"])
    await lock_reward_rows(conn, program_id)
    # Gifts made before the kind was stored are reversed as they always were.
    credit_kind = (
        TransactionKind.REDEMPTION_CANCELLED
        if cancelled["gift_kind"] is None
        else TransactionKind(cancelled["gift_kind"])
    )
    name = await repository.return_stock(conn, reward_id)
    unredeemed, _ = await _through_pending_lot(
        conn,
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=TransactionKind.REDEMPTION_CANCELLED,
            points=cost,
            counter_account=Account.PROGRAM_REDEEMED,
            member_account=Account.MEMBER_PENDING,
            description=f"Given reward {name} taken back",
            event_details={"redemptionId": encode_id("Redemption", redemption_id)},
        ),
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=credit_kind,
            points=-cost,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=Account.MEMBER_PENDING,
            description=f"The points given for {name} taken back",
            event_details={"redemptionId": encode_id("Redemption", redemption_id)},
            event_type="points.returned",
        ),
        now,
    )
    await fetch_one(
        conn,
        "UPDATE redemptions SET reversal_transaction_id = ? WHERE id = ? RETURNING id",
        (unredeemed, redemption_id),
    )
    await append_event(
        conn,
        program_id=program_id,
        member_id=member_id,
        event_type="redemption.cancelled",
        payload={
            "redemptionId": encode_id("Redemption", redemption_id),
            "memberId": encode_id("Member", member_id),
            "source": RedemptionSource.GIFT.value,
            "pointsReturned": 0,
        },
        now=now,
    )
    return True
