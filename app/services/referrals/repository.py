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

from app.db import connection, fetch_all, fetch_all_in, fetch_one
from app.domain.referrals import (
    ReferralState,
    RejectionReason,
    SignalKind,
    normalise_email,
)
from app.models import ReferralSettings
from app.rows import Keyset, RecordT, RowMapper
from app.services.referrals.records import (
    Friend,
    FriendOrder,
    ReferralRecord,
    ReferralRewardRecord,
    ReferralSettingsRecord,
    Referrer,
    default_settings,
)

_settings = RowMapper(ReferralSettingsRecord)
referral_row = RowMapper(ReferralRecord)
_reward = RowMapper(ReferralRewardRecord)
_referrer = RowMapper(Referrer)
_friend = RowMapper(Friend)

# What an admin sets; program_id names the row, signal_salt is drawn once, updated_at is now.
_SETTABLE = tuple(
    field.name
    for field in fields(ReferralSettingsRecord)
    if field.name not in ("program_id", "signal_salt", "updated_at")
)
CLAIMED = "(claim_customer_id IS NOT NULL OR claim_email IS NOT NULL)"
_NEWEST_FIRST = Keyset(newest_first=True)
_COUNTED_STATES = (ReferralState.SIGNED_UP, ReferralState.QUALIFIED, ReferralState.REWARDED)


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


async def count(conn: BaseDBAsyncClient, statement: str, params: Sequence[Any]) -> int:
    """The `n` of a one-row aggregate; 0 for the SUM of no rows."""
    row = await fetch_one(conn, statement, params)
    assert row is not None
    return int(row["n"] or 0)


async def fetch_record(
    conn: BaseDBAsyncClient, mapper: RowMapper[RecordT], statement: str, params: Sequence[Any]
) -> RecordT | None:
    """The record of the statement's one row, if it has one."""
    row = await fetch_one(conn, statement, params)
    return None if row is None else mapper(row)


# --- settings ---------------------------------------------------------------------------------


async def get_settings(conn: BaseDBAsyncClient, program_id: int) -> ReferralSettingsRecord:
    row = await fetch_one(
        conn,
        f"SELECT {_settings.columns} FROM referral_settings WHERE program_id = ?",
        (program_id,),
    )
    return _settings(row) if row else default_settings(program_id)


async def settings_by_program(
    conn: BaseDBAsyncClient, program_ids: Sequence[int]
) -> dict[int, ReferralSettingsRecord]:
    """`get_settings` for many programs in one statement (the defaults where none are saved)."""
    rows = await fetch_all_in(
        conn, f"SELECT {_settings.columns} FROM referral_settings", "program_id", program_ids
    )
    saved = {record.program_id: record for record in map(_settings, rows)}
    return {
        program_id: saved.get(program_id) or default_settings(program_id)
        for program_id in program_ids
    }


async def lock_settings(
    conn: BaseDBAsyncClient, program_id: int, *, salt: str, now: datetime
) -> ReferralSettingsRecord:
    """The program's settings row, locked; made from the defaults with `salt` if it had none."""
    defaults = default_settings(program_id)
    # One INSERT ... ON CONFLICT statement, not a read then a create: two first saves of a
    # program's settings at once must not both insert (or one fail on the unique program_id).
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
    """An admin's change, to the row `lock_settings` holds."""
    row = ReferralSettings.filter(program_id=settings.program_id).using_db(conn)
    await row.update(
        **{name: _stored(getattr(settings, name)) for name in _SETTABLE}, updated_at=now
    )
    [saved] = await row.values(*_settings.column_names)
    return _settings(saved)


@dataclass(frozen=True)
class CatalogueReward:
    program_id: int
    active: bool


_catalogue_reward = RowMapper(CatalogueReward)


async def catalogue_reward(reward_id: int) -> CatalogueReward | None:
    return await fetch_record(
        connection(),
        _catalogue_reward,
        f"SELECT {_catalogue_reward.columns} FROM rewards WHERE id = ?",
        (reward_id,),
    )


# --- codes and signals ------------------------------------------------------------------------


async def code_of(conn: BaseDBAsyncClient, member_id: int) -> str | None:
    row = await fetch_one(conn, "SELECT code FROM referral_codes WHERE member_id = ?", (member_id,))
    return None if row is None else str(row["code"])


async def codes_by_member(conn: BaseDBAsyncClient, member_ids: Sequence[int]) -> dict[int, str]:
    """`code_of` for many members in one statement, by member id (those with a code)."""
    rows = await fetch_all_in(
        conn, "SELECT member_id, code FROM referral_codes", "member_id", member_ids
    )
    return {int(row["member_id"]): str(row["code"]) for row in rows}


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
    return await fetch_record(
        connection(),
        _referrer,
        "SELECT m.id, m.program_id, m.customer_id, m.email, c.code FROM referral_codes c"
        " JOIN members m ON m.id = c.member_id WHERE c.program_id = ? AND c.code = ?",
        (program_id, code),
    )


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
    return await fetch_record(
        connection(),
        _friend,
        "SELECT id AS member_id, customer_id, email, enrolled_at, FALSE AS just_enrolled"
        " FROM members WHERE program_id = ?"
        + (" AND customer_id = ?" if by_customer else " AND LOWER(email) = ? ORDER BY id LIMIT 1"),
        (program_id, customer_id if by_customer else (email or "").lower()),
    )


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
        f"SELECT referrer_id FROM referrals WHERE friend_id = ? AND {CLAIMED}"
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
    return await fetch_record(
        conn,
        referral_row,
        "INSERT INTO referrals (program_id, referrer_id, friend_id, friend_customer_id,"
        " friend_email, claim_customer_id, claim_email, state, rejection_reason, source,"
        " ip_hash, created_at, signed_up_at, rejected_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT DO NOTHING RETURNING {referral_row.columns}",
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


def _in_state(only_in: ReferralState | None) -> tuple[str, tuple[str, ...]]:
    """The condition (and its parameter) that the referral is in `only_in`, if given."""
    return ("", ()) if only_in is None else (" AND state = ?", (only_in.value,))


async def _referral_where(
    conn: BaseDBAsyncClient, condition: str, params: Sequence[Any]
) -> ReferralRecord | None:
    return await fetch_record(
        conn,
        referral_row,
        f"SELECT {referral_row.columns} FROM referrals WHERE {condition}",
        params,
    )


async def _update(
    conn: BaseDBAsyncClient,
    referral_id: int,
    assignments: str,
    params: Sequence[Any],
    *,
    only_in: ReferralState | None = None,
) -> ReferralRecord | None:
    """Set `assignments` on the referral (in `only_in` state, if given) and read it back."""
    guard, guard_params = _in_state(only_in)
    return await fetch_record(
        conn,
        referral_row,
        f"UPDATE referrals SET {assignments} WHERE id = ?{guard} RETURNING {referral_row.columns}",
        (*params, referral_id, *guard_params),
    )


async def update_referral_in(
    conn: BaseDBAsyncClient, referral_id: int, only_in: ReferralState | None, /, **columns: Any
) -> ReferralRecord | None:
    """Set `columns` (named as the record's fields) on the referral if it is in `only_in`
    (in any state if None)."""
    return await _update(
        conn,
        referral_id,
        ", ".join(f"{name} = ?" for name in columns),
        [_stored(value) for value in columns.values()],
        only_in=only_in,
    )


async def update_referral(
    conn: BaseDBAsyncClient, referral_id: int, /, **columns: Any
) -> ReferralRecord:
    updated = await update_referral_in(conn, referral_id, None, **columns)
    assert updated is not None
    return updated


async def lock_referral(conn: BaseDBAsyncClient, referral_id: int) -> ReferralRecord:
    locked = await _update(conn, referral_id, "state = state", ())
    assert locked is not None
    return locked


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
        (friend_id, now, ReferralState.INVITED.value, ReferralState.SIGNED_UP.value, ip_hash),
    )
    assert signed_up is not None
    return signed_up


async def get_referral(
    conn: BaseDBAsyncClient, referral_id: int, *, only_in: ReferralState | None = None
) -> ReferralRecord | None:
    guard, guard_params = _in_state(only_in)
    return await _referral_where(conn, f"id = ?{guard}", (referral_id, *guard_params))


async def counted_referral_of(conn: BaseDBAsyncClient, friend_id: int) -> ReferralRecord | None:
    """The referral whose rewards the friend's orders may earn (one indexed read)."""
    return await _referral_where(
        conn,
        "friend_id = ? AND state IN (?, ?, ?) ORDER BY id LIMIT 1",
        (friend_id, *(state.value for state in _COUNTED_STATES)),
    )


async def invitation_for(
    conn: BaseDBAsyncClient, program_id: int, customer_id: str, email: str | None
) -> ReferralRecord | None:
    """An invitation (INVITED or HELD) waiting for the customer who just enrolled."""
    return await _referral_where(
        conn,
        "program_id = ? AND friend_id IS NULL"
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


async def referral_of_friend(member_id: int) -> ReferralRecord | None:
    """The referral that counts for this member as a friend, else the last refused one."""
    return await _referral_where(
        connection(),
        f"friend_id = ? ORDER BY CASE WHEN {CLAIMED} THEN 0 ELSE 1 END, id DESC LIMIT 1",
        (member_id,),
    )


async def list_referrals(
    program_id: int,
    *,
    referrer_id: int | None,
    state: ReferralState | None,
    before_id: int | None,
    limit: int,
) -> list[ReferralRecord]:
    """Newest first, by keyset on the id."""
    where = "program_id = ?"
    params: list[Any] = [program_id]
    if referrer_id is not None:
        where += " AND referrer_id = ?"
        params.append(referrer_id)
    if state is not None:
        where += " AND state = ?"
        params.append(state.value)
    rows = await fetch_all(
        connection(),
        f"SELECT {referral_row.columns} FROM referrals WHERE {where}{_NEWEST_FIRST.clause}",
        (*params, *_NEWEST_FIRST.params(before_id, limit)),
    )
    return referral_row.all(rows)


async def claims_by_referrer(
    conn: BaseDBAsyncClient, referral: ReferralRecord, start: datetime, end: datetime
) -> int:
    """The referrer's other referrals holding a claim, made in [start, end)."""
    return await count(
        conn,
        f"SELECT COUNT(*) AS n FROM referrals WHERE referrer_id = ? AND {CLAIMED}"
        " AND created_at >= ? AND created_at < ? AND id <> ?",
        (referral.referrer_id, start, end, referral.id),
    )


async def referrals_from_ip(
    conn: BaseDBAsyncClient, referral: ReferralRecord, ip_hash: str, since: datetime
) -> int:
    """The program's other referrals from this IP address since `since`."""
    return await count(
        conn,
        "SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND ip_hash = ?"
        " AND created_at > ? AND id <> ?",
        (referral.program_id, ip_hash, since, referral.id),
    )
