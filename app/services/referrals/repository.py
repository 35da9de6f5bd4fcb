"""The referral tables: every statement the referral services run on them, and their records.

Writes take the caller's transaction `conn`; no function here decides anything. A referral
"holds a claim" on its friend while `claim_customer_id` or `claim_email` is set (unique per
program): only referrals that were not refused at once do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, fetch_all, fetch_one
from app.domain.referrals import (
    CatalogueFailure,
    CatalogueRewardStatus,
    HoldReason,
    ReferralSide,
    ReferralState,
    RejectionReason,
    RewardStatus,
    SignalKind,
    normalise_email,
)
from app.rows import RowMapper
from app.services.referrals.records import (
    Friend,
    ReferralRecord,
    ReferralRewardRecord,
    ReferralSettingsRecord,
    Referrer,
    default_settings,
)

_settings = RowMapper(ReferralSettingsRecord)
_referral = RowMapper(ReferralRecord)
_reward = RowMapper(ReferralRewardRecord)
_referrer = RowMapper(Referrer)
_friend = RowMapper(Friend)

# What an admin sets; program_id names the row, signal_salt is drawn once, updated_at is now.
_SETTABLE = tuple(
    field.name
    for field in fields(ReferralSettingsRecord)
    if field.name not in ("program_id", "signal_salt", "updated_at")
)
_CLAIMED = "(claim_customer_id IS NOT NULL OR claim_email IS NOT NULL)"
_NO_CURSOR = 2**63 - 1
_COUNTED_STATES = (ReferralState.SIGNED_UP, ReferralState.QUALIFIED, ReferralState.REWARDED)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


async def _count(conn: BaseDBAsyncClient, statement: str, params: Sequence[Any]) -> int:
    """The `n` of a one-row aggregate; 0 for the SUM of no rows."""
    row = await fetch_one(conn, statement, params)
    assert row is not None
    return int(row["n"] or 0)


# --- settings ---------------------------------------------------------------------------------


async def get_settings(conn: BaseDBAsyncClient, program_id: int) -> ReferralSettingsRecord:
    row = await fetch_one(
        conn,
        f"SELECT {_settings.columns} FROM referral_settings WHERE program_id = ?",
        (program_id,),
    )
    return _settings(row) if row else default_settings(program_id)


async def lock_settings(
    conn: BaseDBAsyncClient, program_id: int, *, salt: str, now: datetime
) -> ReferralSettingsRecord:
    """The program's settings row, locked; made from the defaults with `salt` if it had none."""
    defaults = default_settings(program_id)
    await fetch_one(
        conn,
        f"INSERT INTO referral_settings (program_id, {', '.join(_SETTABLE)}, signal_salt,"
        f" created_at, updated_at) VALUES ({', '.join('?' * (len(_SETTABLE) + 4))})"
        " ON CONFLICT (program_id) DO NOTHING RETURNING id",
        (
            program_id,
            *(_stored(getattr(defaults, name)) for name in _SETTABLE),
            salt,
            now,
            now,
        ),
    )
    row = await fetch_one(
        conn,
        "UPDATE referral_settings SET enabled = enabled WHERE program_id = ?"
        f" RETURNING {_settings.columns}",
        (program_id,),
    )
    assert row is not None
    return _settings(row)


async def save_settings(
    conn: BaseDBAsyncClient, settings: ReferralSettingsRecord, now: datetime
) -> ReferralSettingsRecord:
    row = await fetch_one(
        conn,
        f"UPDATE referral_settings SET {', '.join(f'{name} = ?' for name in _SETTABLE)},"
        f" updated_at = ? WHERE program_id = ? RETURNING {_settings.columns}",
        (
            *(_stored(getattr(settings, name)) for name in _SETTABLE),
            now,
            settings.program_id,
        ),
    )
    assert row is not None
    return _settings(row)


@dataclass(frozen=True)
class CatalogueReward:
    program_id: int
    active: bool


async def catalogue_reward(reward_id: int) -> CatalogueReward | None:
    row = await fetch_one(
        connection(), "SELECT program_id, active FROM rewards WHERE id = ?", (reward_id,)
    )
    return None if row is None else CatalogueReward(int(row["program_id"]), bool(row["active"]))


# --- codes and signals ------------------------------------------------------------------------


async def code_of(conn: BaseDBAsyncClient, member_id: int) -> str | None:
    row = await fetch_one(conn, "SELECT code FROM referral_codes WHERE member_id = ?", (member_id,))
    return None if row is None else str(row["code"])


async def insert_code(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, code: str, now: datetime
) -> str | None:
    """The member's new code; None when the member or the code is taken."""
    made = await fetch_one(
        conn,
        "INSERT INTO referral_codes (program_id, member_id, code, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING code",
        (program_id, member_id, code, now),
    )
    return None if made is None else str(made["code"])


async def referrer_with_code(program_id: int, code: str) -> Referrer | None:
    row = await fetch_one(
        connection(),
        "SELECT m.id, m.program_id, m.customer_id, m.email, c.code FROM referral_codes c"
        " JOIN members m ON m.id = c.member_id WHERE c.program_id = ? AND c.code = ?",
        (program_id, code),
    )
    return None if row is None else _referrer(row)


async def store_signals(
    conn: BaseDBAsyncClient,
    program_id: int,
    member_id: int,
    hashes: list[tuple[SignalKind, str]],
    now: datetime,
) -> None:
    for kind, value_hash in hashes:
        await fetch_one(
            conn,
            "INSERT INTO member_signals (program_id, member_id, kind, value_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (program_id, member_id, kind.value, value_hash, now),
        )


async def signal_hashes_of(conn: BaseDBAsyncClient, member_id: int) -> set[str]:
    rows = await fetch_all(
        conn, "SELECT value_hash FROM member_signals WHERE member_id = ?", (member_id,)
    )
    return {str(row["value_hash"]) for row in rows}


# --- the friend -------------------------------------------------------------------------------


async def member_as_friend(
    program_id: int, *, customer_id: str | None, email: str | None
) -> Friend | None:
    """The member a recorded referral names, by customer id if given, else by email."""
    by_customer = customer_id is not None
    row = await fetch_one(
        connection(),
        "SELECT id AS member_id, customer_id, email, enrolled_at, FALSE AS just_enrolled"
        " FROM members WHERE program_id = ?"
        + (" AND customer_id = ?" if by_customer else " AND LOWER(email) = ? ORDER BY id LIMIT 1"),
        (program_id, customer_id if by_customer else (email or "").lower()),
    )
    return None if row is None else _friend(row)


async def takes_rewards(conn: BaseDBAsyncClient, member_id: int) -> bool:
    """The member exists and has not opted out of the program."""
    member = await fetch_one(conn, "SELECT opted_out_at FROM members WHERE id = ?", (member_id,))
    return member is not None and member["opted_out_at"] is None


async def has_orders(conn: BaseDBAsyncClient, member_id: int) -> bool:
    row = await fetch_one(conn, "SELECT id FROM orders WHERE member_id = ? LIMIT 1", (member_id,))
    return row is not None


@dataclass(frozen=True)
class ProgramTerms:
    """What the rewards of a friend's orders need of the program."""

    currency: str
    pending_days: int


_terms = RowMapper(ProgramTerms)


async def program_terms(conn: BaseDBAsyncClient, program_id: int) -> ProgramTerms:
    row = await fetch_one(
        conn, f"SELECT {_terms.columns} FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return _terms(row)


@dataclass(frozen=True)
class FriendOrder:
    id: int
    total_minor: int
    currency: str
    exchange_rate: str | None
    placed_at: datetime


_friend_order = RowMapper(FriendOrder)


async def unrefunded_orders(conn: BaseDBAsyncClient, member_id: int) -> list[FriendOrder]:
    """The member's orders that were not refunded or cancelled, oldest first."""
    rows = await fetch_all(
        conn,
        f"SELECT {_friend_order.columns} FROM orders"
        " WHERE member_id = ? AND status NOT IN ('REFUNDED', 'CANCELLED') ORDER BY placed_at, id",
        (member_id,),
    )
    return _friend_order.all(rows)


# --- referrals --------------------------------------------------------------------------------


async def referrer_of(conn: BaseDBAsyncClient, member_id: int) -> int | None:
    """Who referred this member (a referral that was not refused at once)."""
    row = await fetch_one(
        conn,
        f"SELECT referrer_id FROM referrals WHERE friend_id = ? AND {_CLAIMED}"
        " AND state <> ? ORDER BY id LIMIT 1",
        (member_id, ReferralState.REJECTED.value),
    )
    return None if row is None else int(row["referrer_id"])


async def insert_referral(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    referrer_id: int,
    friend: Friend,
    claimed: bool,
    state: ReferralState,
    rejection: RejectionReason | None,
    source: str,
    ip_hash: str | None,
    now: datetime,
) -> ReferralRecord | None:
    """The new referral; None when `claimed` and another referral holds the friend."""
    claim_email = normalise_email(friend.email) if friend.email else None
    row = await fetch_one(
        conn,
        "INSERT INTO referrals (program_id, referrer_id, friend_id, friend_customer_id,"
        " friend_email, claim_customer_id, claim_email, state, rejection_reason, source,"
        " ip_hash, created_at, signed_up_at, rejected_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT DO NOTHING RETURNING {_referral.columns}",
        (
            program_id,
            referrer_id,
            friend.member_id,
            friend.customer_id,
            friend.email,
            friend.customer_id if claimed else None,
            claim_email if claimed else None,
            state.value,
            None if rejection is None else rejection.value,
            source,
            ip_hash,
            now,
            now if friend.member_id is not None else None,
            now if rejection is not None else None,
        ),
    )
    return None if row is None else _referral(row)


async def _update(
    conn: BaseDBAsyncClient,
    referral_id: int,
    assignments: str,
    params: Sequence[Any],
    *,
    only_in: ReferralState | None = None,
) -> ReferralRecord | None:
    """Set `assignments` on the referral (in `only_in` state, if given) and read it back."""
    guard = "" if only_in is None else " AND state = ?"
    row = await fetch_one(
        conn,
        f"UPDATE referrals SET {assignments} WHERE id = ?{guard} RETURNING {_referral.columns}",
        (*params, referral_id, *(() if only_in is None else (only_in.value,))),
    )
    return None if row is None else _referral(row)


async def lock_referral(conn: BaseDBAsyncClient, referral_id: int) -> ReferralRecord:
    locked = await _update(conn, referral_id, "state = state", ())
    assert locked is not None
    return locked


async def hold(
    conn: BaseDBAsyncClient, referral_id: int, reason: HoldReason, now: datetime
) -> ReferralRecord:
    held = await _update(
        conn,
        referral_id,
        "state = ?, hold_reason = ?, held_at = ?",
        (ReferralState.HELD.value, reason.value, now),
    )
    assert held is not None
    return held


async def progress(
    conn: BaseDBAsyncClient,
    referral_id: int,
    state: ReferralState,
    *,
    qualified_at: datetime | None,
    rewarded_at: datetime | None,
) -> ReferralRecord:
    moved = await _update(
        conn,
        referral_id,
        "state = ?, qualified_at = ?, rewarded_at = ?",
        (state.value, qualified_at, rewarded_at),
    )
    assert moved is not None
    return moved


async def sign_up(
    conn: BaseDBAsyncClient,
    referral_id: int,
    friend_id: int,
    *,
    ip_hash: str | None,
    now: datetime,
) -> ReferralRecord:
    """The invited friend enrolled: an INVITED referral is SIGNED_UP, a HELD one stays held."""
    signed_up = await _update(
        conn,
        referral_id,
        "friend_id = ?, signed_up_at = ?, state = CASE WHEN state = ? THEN ? ELSE state END,"
        " ip_hash = COALESCE(ip_hash, ?)",
        (
            friend_id,
            now,
            ReferralState.INVITED.value,
            ReferralState.SIGNED_UP.value,
            ip_hash,
        ),
    )
    assert signed_up is not None
    return signed_up


async def approve(
    conn: BaseDBAsyncClient,
    referral_id: int,
    state: ReferralState,
    note: str | None,
    now: datetime,
) -> ReferralRecord:
    approved = await _update(
        conn,
        referral_id,
        "state = ?, review_note = ?, reviewed_at = ?",
        (state.value, note, now),
    )
    assert approved is not None
    return approved


async def reject(
    conn: BaseDBAsyncClient,
    referral_id: int,
    reason: RejectionReason,
    now: datetime,
    *,
    only_in: ReferralState | None = None,
    review_note: str | None = None,
) -> ReferralRecord | None:
    """Reject the referral; a rejection by review keeps the reviewer's note."""
    reviewed = reason is RejectionReason.REJECTED_BY_ADMIN
    return await _update(
        conn,
        referral_id,
        "state = ?, rejection_reason = ?, rejected_at = ?"
        + (", review_note = ?, reviewed_at = ?" if reviewed else ""),
        (
            ReferralState.REJECTED.value,
            reason.value,
            now,
            *((review_note, now) if reviewed else ()),
        ),
        only_in=only_in,
    )


async def get_referral(
    conn: BaseDBAsyncClient, referral_id: int, *, only_in: ReferralState | None = None
) -> ReferralRecord | None:
    guard = "" if only_in is None else " AND state = ?"
    row = await fetch_one(
        conn,
        f"SELECT {_referral.columns} FROM referrals WHERE id = ?{guard}",
        (referral_id, *(() if only_in is None else (only_in.value,))),
    )
    return None if row is None else _referral(row)


async def counted_referral_of(conn: BaseDBAsyncClient, friend_id: int) -> ReferralRecord | None:
    """The referral whose rewards the friend's orders may earn (one indexed read)."""
    row = await fetch_one(
        conn,
        f"SELECT {_referral.columns} FROM referrals WHERE friend_id = ? AND state IN (?, ?, ?)"
        " ORDER BY id LIMIT 1",
        (friend_id, *(state.value for state in _COUNTED_STATES)),
    )
    return None if row is None else _referral(row)


async def invitation_for(
    conn: BaseDBAsyncClient, program_id: int, customer_id: str, email: str | None
) -> ReferralRecord | None:
    """An invitation (INVITED or HELD) waiting for the customer who just enrolled."""
    row = await fetch_one(
        conn,
        f"SELECT {_referral.columns} FROM referrals WHERE program_id = ? AND friend_id IS NULL"
        " AND state IN (?, ?) AND (claim_customer_id = ? OR claim_email = ?)"
        " ORDER BY id LIMIT 1",
        (
            program_id,
            ReferralState.INVITED.value,
            ReferralState.HELD.value,
            customer_id,
            normalise_email(email) if email else None,
        ),
    )
    return None if row is None else _referral(row)


async def referral_of_friend(member_id: int) -> ReferralRecord | None:
    """The referral that counts for this member as a friend, else the last refused one."""
    row = await fetch_one(
        connection(),
        f"SELECT {_referral.columns} FROM referrals WHERE friend_id = ?"
        f" ORDER BY CASE WHEN {_CLAIMED} THEN 0 ELSE 1 END, id DESC LIMIT 1",
        (member_id,),
    )
    return None if row is None else _referral(row)


async def list_referrals(
    program_id: int,
    *,
    referrer_id: int | None,
    state: ReferralState | None,
    before_id: int | None,
    limit: int,
) -> list[ReferralRecord]:
    """Newest first, by keyset on the id."""
    where = "program_id = ? AND id < ?"
    params: list[Any] = [program_id, before_id if before_id is not None else _NO_CURSOR]
    if referrer_id is not None:
        where += " AND referrer_id = ?"
        params.append(referrer_id)
    if state is not None:
        where += " AND state = ?"
        params.append(state.value)
    rows = await fetch_all(
        connection(),
        f"SELECT {_referral.columns} FROM referrals WHERE {where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return _referral.all(rows)


async def claims_by_referrer(
    conn: BaseDBAsyncClient, referral: ReferralRecord, start: datetime, end: datetime
) -> int:
    """The referrer's other referrals holding a claim, made in [start, end)."""
    return await _count(
        conn,
        f"SELECT COUNT(*) AS n FROM referrals WHERE referrer_id = ? AND {_CLAIMED}"
        " AND created_at >= ? AND created_at < ? AND id <> ?",
        (referral.referrer_id, start, end, referral.id),
    )


async def referrals_from_ip(
    conn: BaseDBAsyncClient, referral: ReferralRecord, ip_hash: str, since: datetime
) -> int:
    """The program's other referrals from this IP address since `since`."""
    return await _count(
        conn,
        "SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND ip_hash = ?"
        " AND created_at > ? AND id <> ?",
        (referral.program_id, ip_hash, since, referral.id),
    )


# --- rewards ----------------------------------------------------------------------------------


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
    row = await fetch_one(
        conn,
        f"SELECT {_gift.columns} FROM referral_rewards WHERE id = ? AND reward_status = ?"
        " AND reward_id IS NOT NULL",
        (reward_pk, CatalogueRewardStatus.PENDING.value),
    )
    return None if row is None else _gift(row)


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
    return await _count(
        conn,
        "SELECT COUNT(*) AS n FROM referral_rewards WHERE referral_id = ? AND side = ?"
        " AND order_id IS NOT NULL",
        (referral_id, side.value),
    )


async def referrer_rewards_left(conn: BaseDBAsyncClient, referral_id: int) -> int:
    """The referrer's rewards of the referral that were not cancelled."""
    return await _count(
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


async def lock_pending_lot(conn: BaseDBAsyncClient, transaction_id: int) -> PendingLot | None:
    """The still pending lot of the reward's points, row-locked so maturing keeps off it."""
    row = await fetch_one(
        conn,
        "UPDATE point_lots SET remaining = remaining WHERE transaction_id = ?"
        " AND pending_until IS NOT NULL RETURNING id, program_id, remaining",
        (transaction_id,),
    )
    if row is None:
        return None
    return PendingLot(int(row["id"]), int(row["program_id"]), int(row["remaining"]))


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


async def reward_owner(conn: BaseDBAsyncClient, reward_pk: int) -> int | None:
    row = await fetch_one(conn, "SELECT member_id FROM referral_rewards WHERE id = ?", (reward_pk,))
    return None if row is None else int(row["member_id"])


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
    row = await fetch_one(
        conn,
        "UPDATE referral_rewards SET status = ?, settled_at = ? WHERE id = ? AND status = ?"
        f" AND available_at <= ? RETURNING {_settled.columns}",
        (RewardStatus.PAID.value, now, reward_pk, RewardStatus.PENDING.value, now),
    )
    return None if row is None else _settled(row)


async def rewards_of(referral_id: int) -> list[ReferralRewardRecord]:
    rows = await fetch_all(
        connection(),
        f"SELECT {_reward.columns} FROM referral_rewards WHERE referral_id = ? ORDER BY id",
        (referral_id,),
    )
    return _reward.all(rows)


# --- numbers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A program's period [start, end)."""

    program_id: int
    start: datetime
    end: datetime

    def params(self) -> tuple[int, datetime, datetime]:
        return (self.program_id, self.start, self.end)


async def count_referrals(window: Window, at: str, condition: str = "") -> int:
    """The program's referrals whose `at` moment falls in the window (and meet `condition`)."""
    return await _count(
        connection(),
        f"SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND {at} >= ? AND {at} < ?"
        + condition,
        window.params(),
    )


async def count_claimed(window: Window, at: str, condition: str = "") -> int:
    return await count_referrals(window, at, f" AND {_CLAIMED}{condition}")


async def reward_sum(window: Window, column: str, condition: str, value: str) -> int:
    """The SUM of `column` over the program's rewards given in the window with `condition`."""
    return await _count(
        connection(),
        f"SELECT SUM({column}) AS n FROM referral_rewards WHERE program_id = ?"
        f" AND created_at >= ? AND created_at < ? AND {condition} = ?",
        (*window.params(), value),
    )


async def counts_by(
    window: Window, table: str, column: str, at: str = "created_at"
) -> dict[str, int]:
    """How many rows of `table` in the window per non-null value of `column`."""
    rows = await fetch_all(
        connection(),
        f"SELECT {column} AS value, COUNT(*) AS n FROM {table} WHERE program_id = ?"
        f" AND {at} >= ? AND {at} < ? AND {column} IS NOT NULL GROUP BY {column}",
        window.params(),
    )
    return {str(row["value"]): int(row["n"]) for row in rows}


async def top_referrers(window: Window, limit: int) -> list[tuple[int, int]]:
    """(referrer, qualified referrals) with the most referrals qualified in the window."""
    rows = await fetch_all(
        connection(),
        "SELECT referrer_id, COUNT(*) AS n FROM referrals WHERE program_id = ?"
        " AND qualified_at >= ? AND qualified_at < ? GROUP BY referrer_id"
        " ORDER BY COUNT(*) DESC, referrer_id LIMIT ?",
        (*window.params(), limit),
    )
    return [(int(row["referrer_id"]), int(row["n"])) for row in rows]


async def referrer_points(window: Window, member_id: int) -> int:
    """The referral points the member earned as a referrer in the window, not cancelled."""
    return await _count(
        connection(),
        "SELECT SUM(points) AS n FROM referral_rewards WHERE member_id = ? AND side = ?"
        " AND status <> ? AND created_at >= ? AND created_at < ?",
        (
            member_id,
            ReferralSide.REFERRER.value,
            RewardStatus.CANCELLED.value,
            window.start,
            window.end,
        ),
    )
