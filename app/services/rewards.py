"""Rewards and their redemption: points and stock leave together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.db import as_datetime, connection, fetch_all, fetch_one, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR, MAX_POINTS_PER_MOVEMENT
from app.domain.rewards import (
    RedemptionStatus,
    RewardKind,
    new_redemption_code,
)
from app.domain.validation import IDEMPOTENCY_KEY_MAX, NAME_MAX, TEXT_MAX, Checker
from app.services import idempotency
from app.services.events import append_event
from app.services.ledger import Movement, post_movement
from app.services.members import require_member
from app.services.programs import ProgramScope, in_scope, require_program

_REWARD_COLUMNS = (
    "id, program_id, name, description, kind, cost_points, value_minor, stock, active, created_at"
)
_REDEMPTION_COLUMNS = (
    "id, program_id, member_id, reward_id, code, points_spent, status, transaction_id, created_at"
)
_OPERATION = "redeemReward"
MAX_STOCK = 10**9


@dataclass(frozen=True)
class RewardRecord:
    id: int
    program_id: int
    name: str
    description: str
    kind: RewardKind
    cost_points: int
    value_minor: int | None
    stock: int | None
    active: bool
    created_at: datetime


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


@dataclass(frozen=True)
class CreateRewardInput:
    program_slug: str
    name: str
    kind: RewardKind
    cost_points: int
    description: str = ""
    value_minor: int | None = None
    stock: int | None = None
    active: bool = True


@dataclass(frozen=True)
class RedeemRewardInput:
    member_id: int
    reward_id: int
    idempotency_key: str
    # Asked by the member with a member token: its keys live apart from the store's.
    by_member: bool = False


@dataclass(frozen=True)
class RedeemedReward:
    redemption: RedemptionRecord
    replayed: bool


def _reward(row: dict[str, Any]) -> RewardRecord:
    return RewardRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        name=row["name"],
        description=row["description"],
        kind=RewardKind(row["kind"]),
        cost_points=int(row["cost_points"]),
        value_minor=None if row["value_minor"] is None else int(row["value_minor"]),
        stock=None if row["stock"] is None else int(row["stock"]),
        active=bool(row["active"]),
        created_at=as_datetime(row["created_at"]),
    )


def _redemption(row: dict[str, Any]) -> RedemptionRecord:
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
    )


async def get_reward(reward_id: int, scope: ProgramScope) -> RewardRecord | None:
    row = await fetch_one(
        connection(), f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE id = ?", (reward_id,)
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _reward(row)


async def list_rewards(program_id: int, *, include_inactive: bool) -> list[RewardRecord]:
    select = f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE program_id = ?"
    if not include_inactive:
        select += " AND active = ?"
        rows = await fetch_all(
            connection(), select + " ORDER BY cost_points, id", (program_id, True)
        )
    else:
        rows = await fetch_all(connection(), select + " ORDER BY cost_points, id", (program_id,))
    return [_reward(row) for row in rows]


async def get_redemption(redemption_id: int, scope: ProgramScope) -> RedemptionRecord | None:
    return await _get_redemption(connection(), redemption_id, scope)


async def _get_redemption(
    conn: BaseDBAsyncClient, redemption_id: int, scope: ProgramScope
) -> RedemptionRecord | None:
    row = await fetch_one(
        conn, f"SELECT {_REDEMPTION_COLUMNS} FROM redemptions WHERE id = ?", (redemption_id,)
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _redemption(row)


async def create_reward(data: CreateRewardInput) -> RewardRecord:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    check.int_range(
        ["input", "costPoints"],
        data.cost_points,
        1,
        MAX_POINTS_PER_MOVEMENT,
        ErrorCode.INVALID_POINTS,
    )
    if data.value_minor is not None:
        check.int_range(
            ["input", "valueMinor"], data.value_minor, 0, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT
        )
    if data.stock is not None:
        check.int_range(["input", "stock"], data.stock, 0, MAX_STOCK, ErrorCode.INVALID_QUANTITY)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:
        row = await fetch_one(
            conn,
            "INSERT INTO rewards (program_id, name, description, kind, cost_points, value_minor,"
            " stock, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" RETURNING {_REWARD_COLUMNS}",
            (
                program.id,
                name,
                description or "",
                data.kind.value,
                data.cost_points,
                data.value_minor,
                data.stock,
                data.active,
                now,
            ),
        )
        assert row is not None
        reward = _reward(row)
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="reward.created",
            payload={
                "rewardId": encode_id("Reward", reward.id),
                "name": reward.name,
                "costPoints": reward.cost_points,
            },
            now=now,
        )
    return reward


async def redeem_reward(data: RedeemRewardInput, scope: ProgramScope) -> RedeemedReward:
    """Spend a member's points on a reward and issue its code.

    The member's balance is taken by the guarded decrement in the ledger first, then one unit
    of stock by the same kind of guarded update: the member row is always locked before the
    reward row, so concurrent redemptions cannot deadlock. A member who owes points
    (`points_debt`) is refused with POINTS_OWED; the ledger keeps such a member at 0 available
    points anyway, so a debt arising meanwhile still cannot be spent past.
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
    fingerprint = idempotency.request_fingerprint(
        _OPERATION, {"memberId": member.id, "rewardId": reward.id}
    )
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
            replayed = await _get_redemption(conn, int(stored["redemptionId"]), scope)
            assert replayed is not None
            return RedeemedReward(redemption=replayed, replayed=True)
        # Read again inside the transaction: what was read before it may have changed.
        current = await fetch_one(
            conn, f"SELECT {_REWARD_COLUMNS} FROM rewards WHERE id = ?", (reward.id,)
        )
        assert current is not None
        reward = _reward(current)
        if not reward.active:
            raise DomainError(
                ErrorCode.REWARD_INACTIVE, "the reward is not active", ["input", "rewardId"]
            )
        code = new_redemption_code()
        posted = await post_movement(
            conn,
            Movement(
                program_id=member.program_id,
                member_id=member.id,
                kind=TransactionKind.REDEEM,
                points=-reward.cost_points,
                counter_account=Account.PROGRAM_REDEEMED,
                description=f"Redeemed {reward.name}",
                event_details={"rewardId": encode_id("Reward", reward.id), "code": code},
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
                    ErrorCode.REWARD_OUT_OF_STOCK,
                    "the reward is out of stock",
                    ["input", "rewardId"],
                )
        row = await fetch_one(
            conn,
            "INSERT INTO redemptions (program_id, member_id, reward_id, code, points_spent, status,"
            f" transaction_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            f" RETURNING {_REDEMPTION_COLUMNS}",
            (
                member.program_id,
                member.id,
                reward.id,
                code,
                reward.cost_points,
                RedemptionStatus.ISSUED.value,
                posted.transaction_id,
                now,
            ),
        )
        assert row is not None
        redemption = _redemption(row)
        await idempotency.store_response(
            conn,
            scope=scope_key,
            key=data.idempotency_key,
            response={"redemptionId": redemption.id},
        )
    return RedeemedReward(redemption=redemption, replayed=False)
