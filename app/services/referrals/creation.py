"""How referrals come to be: a code at enrolment, `recordReferral`, an invitation taken up.

Creating one locks the referrer's member row first (the caller does), so the per-referrer limit
counts what committed before. Refusals are recorded as REJECTED referrals with their reason;
only referrals that were not refused at once hold a claim on the friend, so of two concurrent
referrals of one friend the database lets exactly one claim them and the other is rejected
ALREADY_REFERRED. Suspicious referrals are HELD until an admin reviews them.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.referrals import (
    ReferralState,
    RejectionReason,
    SignalKind,
    Signals,
    new_code,
)
from app.services.ledger.service import lock_member
from app.services.programs.service import ProgramRecord
from app.services.referrals import fraud, repository
from app.services.referrals.payouts import after_signup
from app.services.referrals.records import (
    SOURCE_ENROLMENT,
    Friend,
    ReferralRecord,
    ReferralSettingsRecord,
    Referrer,
)
from app.services.referrals.transitions import announce, hold

MAX_CODE_ATTEMPTS = 8


async def ensure_code(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> str:
    """The member's code, made now if they have none. A new code that collides with another
    member's is drawn again; two requests making one member's code at once agree on one."""
    for _ in range(MAX_CODE_ATTEMPTS):
        existing = await repository.code_of(conn, member_id)
        if existing is not None:
            return existing
        made = await repository.insert_code(conn, program_id, member_id, new_code(), now)
        if made is not None:
            return made
    raise RuntimeError(f"no free referral code for member {member_id}")


async def _claim_or_reject(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: Friend,
    *,
    source: str,
    ip_hash: str | None,
    now: datetime,
) -> ReferralRecord:
    """The new referral holding its claim on the friend, or REJECTED with the reason."""

    async def insert(
        claimed: bool, state: ReferralState, rejection: RejectionReason | None
    ) -> ReferralRecord | None:
        return await repository.insert_referral(
            conn,
            program_id=settings.program_id,
            referrer_id=referrer.id,
            friend=friend,
            claimed=claimed,
            state=state,
            rejection=rejection,
            source=source,
            ip_hash=ip_hash,
            now=now,
        )

    rejection = await fraud.rejection(conn, settings, referrer, friend, now)
    if rejection is None:
        fresh = ReferralState.INVITED if friend.member_id is None else ReferralState.SIGNED_UP
        referral = await insert(True, fresh, None)
        if referral is not None:
            return referral
        rejection = RejectionReason.ALREADY_REFERRED
    rejected = await insert(False, ReferralState.REJECTED, rejection)
    assert rejected is not None
    await announce(conn, rejected, "referral.rejected", now, reason=rejection.value)
    return rejected


async def create(
    conn: BaseDBAsyncClient,
    *,
    settings: ReferralSettingsRecord,
    referrer: Referrer,
    friend: Friend,
    friend_signals: Signals | None,
    source: str,
    now: datetime,
) -> ReferralRecord:
    """Create a referral inside the caller's transaction (the referrer's row is locked):
    rejected, invited, held or signed up with its sign-up rewards paid."""
    friend_hashes = fraud.signal_hashes(settings, friend_signals)
    ip_hash = fraud.ip_hash_of(friend_hashes)
    if friend.member_id is not None:
        await repository.store_signals(
            conn, settings.program_id, friend.member_id, friend_hashes, now
        )
    referral = await _claim_or_reject(
        conn, settings, referrer, friend, source=source, ip_hash=ip_hash, now=now
    )
    if referral.state is ReferralState.REJECTED:
        return referral
    await announce(conn, referral, "referral.created", now)
    reason = await fraud.hold_reason(conn, settings, referral, friend_hashes, ip_hash, now)
    if reason is not None:
        return await hold(conn, referral, reason, now)
    if referral.state is ReferralState.SIGNED_UP:
        await announce(conn, referral, "referral.signed_up", now)
        referral = await after_signup(conn, settings, referral, now)
    return referral


async def _take_up_invitation(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    invitation: ReferralRecord,
    member_id: int,
    hashes: list[tuple[SignalKind, str]],
    now: datetime,
) -> bool:
    """The invited friend enrolled: the invitation signs up (a held one stays held), then is
    held or pays its sign-up rewards. True when points moved."""
    await lock_member(conn, invitation.referrer_id)
    signed_up = await repository.sign_up(
        conn, invitation.id, member_id, ip_hash=fraud.ip_hash_of(hashes), now=now
    )
    if signed_up.state is not ReferralState.SIGNED_UP:
        return False
    await announce(conn, signed_up, "referral.signed_up", now)
    new_ip = signed_up.ip_hash if invitation.ip_hash is None else None
    reason = await fraud.hold_reason(
        conn, settings, signed_up, hashes, new_ip, now, at_creation=False
    )
    if reason is not None:
        await hold(conn, signed_up, reason, now)
        return False
    await after_signup(conn, settings, signed_up, now)
    return True


async def on_member_enrolled(
    conn: BaseDBAsyncClient,
    *,
    program: ProgramRecord,
    member_id: int,
    customer_id: str,
    email: str | None,
    referrer: Referrer | None,
    signals: Signals | None,
    now: datetime,
) -> bool:
    """The hook of `enroll_member`, in its transaction: the member's code, their signals, an
    invitation waiting for them, and the referral of the code they came with. True when points
    moved."""
    settings = await repository.get_settings(conn, program.id)
    if settings.enabled:
        await ensure_code(conn, program.id, member_id, now)
    hashes = fraud.signal_hashes(settings, signals)
    await repository.store_signals(conn, program.id, member_id, hashes, now)
    moved = False
    invitation = await repository.invitation_for(conn, program.id, customer_id, email)
    if invitation is not None:
        moved = await _take_up_invitation(conn, settings, invitation, member_id, hashes, now)
        if referrer is not None and referrer.id == invitation.referrer_id:
            # The code of the one who invited them: the invitation is that referral.
            return moved
    if referrer is not None:
        await lock_member(conn, referrer.id)
        await create(
            conn,
            settings=settings,
            referrer=referrer,
            friend=Friend(
                member_id=member_id,
                customer_id=customer_id,
                email=email,
                enrolled_at=now,
                just_enrolled=True,
            ),
            friend_signals=signals,
            source=SOURCE_ENROLMENT,
            now=now,
        )
        moved = True
    return moved
