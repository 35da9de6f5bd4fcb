"""Challenge progress: the hooks that count orders, actions and referrals, and completion.

Each hook runs inside the transaction of what it counts (app/services/orders/service.py
`_announce_order`, app/services/orders/refunds.py `_refund`, app/services/actions/service.py
`award_action`, app/services/referrals/payouts.py `advance`), so progress moves with it or not
at all.

Once: what a source adds is a contribution row unique per (progress row, source), the source
being "order:<pk>", "action:<pk>" or "referral:<pk>", so a source counts once per period. The
member row is locked first (as every writer of the member's points does), which serialises
concurrent orders of one member on PostgreSQL; SQLite runs one write transaction at a time.
Completion is claimed by a guarded update (`completed_at IS NULL`) that also stores the grant's
key (member, challenge, period; unique): one writer wins, and only it posts the points, awards
the badge and writes `challenge.completed`.

Refunds: an order's contribution to a period not yet completed shrinks with it. ORDER_COUNT: a
wholly refunded or cancelled order stops counting (a partial refund keeps it). SPEND: the
contribution falls in proportion to the money refunded. A completed period stays completed,
with its points and badge: what it gave is not taken back.

Opted-out members make no progress. Paused and archived challenges count nothing.

Segments: a challenge that names segments (`eligible_segments`) counts a source only for a
member in one of them at the source's moment (the order's `placedAt`, the action's time, the
referral's completion), asked live inside the transaction, so the member's rows are those the
source has just written (an order that brings the member into a segment counts). Only the
segments that the running challenges name are evaluated, in one statement per hook; when none
names a segment, nothing is asked.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_all, fetch_one
from app.domain.engagement import (
    ChallengeGoal,
    ChallengePeriod,
    ChallengeStatus,
    action_counts,
    grant_key,
    period_of,
)
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import convert_minor, parse_exchange_rate
from app.services.core.config_cache import cached
from app.services.core.events import append_event
from app.services.engagement.badges import award_badge, has_order_milestones, on_order_counted
from app.services.engagement.challenges import ChallengeRecord, challenge_row
from app.services.ledger.service import Movement, lock_member_row, post_movement
from app.services.segments.membership import segments_of_member


async def _running(
    conn: BaseDBAsyncClient, program_id: int, goals: tuple[ChallengeGoal, ...]
) -> list[ChallengeRecord]:
    """The program's active challenges of `goals` (cached while its configuration is)."""

    async def load() -> tuple[ChallengeRecord, ...]:
        marks = ", ".join("?" for _ in goals)
        rows = await fetch_all(
            conn,
            f"SELECT {challenge_row.columns} FROM challenges WHERE program_id = ? AND status = ?"
            f" AND goal IN ({marks}) ORDER BY id",
            (program_id, ChallengeStatus.ACTIVE.value, *(goal.value for goal in goals)),
        )
        return tuple(challenge_row.all(rows))

    return list(await cached("challenges.running", program_id, load, key=goals))


async def _open_to_member(
    conn: BaseDBAsyncClient,
    program_id: int,
    member_id: int,
    challenges: list[ChallengeRecord],
    at: datetime,
) -> list[ChallengeRecord]:
    """The challenges the member may progress on at `at`: those naming no segment, and those
    naming one the member is in (no query when none names a segment)."""
    wanted = sorted({key for challenge in challenges for key in challenge.eligible_segments})
    if not wanted:
        return challenges
    segments = await segments_of_member(conn, program_id, member_id, wanted, at)
    return [challenge for challenge in challenges if challenge.open_to(segments)]


async def _can_progress(conn: BaseDBAsyncClient, member_id: int) -> bool:
    """Lock the member (first, as every writer does) and tell whether they may progress."""
    member = await lock_member_row(conn, member_id, "opted_out_at")
    return member is not None and member["opted_out_at"] is None


async def _zone(conn: BaseDBAsyncClient, program_id: int) -> str:
    row = await fetch_one(conn, "SELECT time_zone FROM programs WHERE id = ?", (program_id,))
    assert row is not None
    return str(row["time_zone"])


def _spend_in_program_currency(
    total_minor: int, currency: str, program_currency: str, exchange_rate: str | None
) -> int:
    """The order's total in the program's currency, at the rate it was recorded with."""
    if currency == program_currency:
        return total_minor
    rate = None if exchange_rate is None else parse_exchange_rate(exchange_rate)
    if rate is None or rate <= Decimal(0):
        return 0
    return convert_minor(total_minor, currency, program_currency, rate)


async def on_order_recorded(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    program_currency: str,
    zone: str,
    member_id: int,
    order_pk: int,
    total_minor: int,
    currency: str,
    exchange_rate: str | None,
    placed_at: datetime,
    now: datetime,
) -> None:
    """Count a newly recorded order for ORDER_COUNT and SPEND challenges (in the period its
    `placed_at` falls in), then the order milestones of badges."""
    challenges = await _running(conn, program_id, (ChallengeGoal.ORDER_COUNT, ChallengeGoal.SPEND))
    # Most orders meet neither: two indexed reads and no lock then.
    if not challenges and not await has_order_milestones(conn, program_id):
        return
    if not await _can_progress(conn, member_id):
        return
    spend = _spend_in_program_currency(total_minor, currency, program_currency, exchange_rate)
    challenges = await _open_to_member(conn, program_id, member_id, challenges, placed_at)
    for challenge in challenges:
        period = period_of(
            challenge.recurrence, challenge.starts_at, challenge.ends_at, placed_at, zone
        )
        amount = 1 if challenge.goal is ChallengeGoal.ORDER_COUNT else spend
        if period is None or amount <= 0:
            continue
        await _contribute(
            conn, challenge, member_id, period, source=f"order:{order_pk}", amount=amount, now=now
        )
    await on_order_counted(conn, program_id=program_id, member_id=member_id, now=now)


async def on_order_refunded(
    conn: BaseDBAsyncClient,
    *,
    member_id: int,
    order_pk: int,
    total_minor: int,
    refunded_before_minor: int,
    refunded_after_minor: int,
    whole_order: bool,
    now: datetime,
) -> None:
    """Shrink the order's contributions to periods not yet completed (see the module doc)."""
    contributions = await fetch_all(
        conn,
        "SELECT c.id, c.amount, c.progress_id, ch.goal FROM challenge_contributions c"
        " JOIN challenge_progress p ON p.id = c.progress_id"
        " JOIN challenges ch ON ch.id = p.challenge_id"
        " WHERE c.source = ? AND p.member_id = ? AND p.completed_at IS NULL AND c.amount > 0"
        " ORDER BY c.id",
        (f"order:{order_pk}", member_id),
    )
    if not contributions:
        return
    await lock_member_row(conn, member_id)
    left_before = total_minor - refunded_before_minor
    left_after = max(total_minor - refunded_after_minor, 0)
    for contribution in contributions:
        amount = int(contribution["amount"])
        if whole_order or left_after == 0:
            kept = 0
        elif ChallengeGoal(contribution["goal"]) is ChallengeGoal.ORDER_COUNT:
            kept = amount
        else:
            kept = amount * left_after // left_before if left_before > 0 else 0
        taken = amount - kept
        if taken <= 0:
            continue
        # Guarded: a period completed meanwhile keeps its count (completion is final).
        changed = await fetch_one(
            conn,
            "UPDATE challenge_progress SET progress = progress - ?, updated_at = ?"
            " WHERE id = ? AND completed_at IS NULL RETURNING id",
            (taken, now, contribution["progress_id"]),
        )
        if changed is not None:
            await fetch_one(
                conn,
                "UPDATE challenge_contributions SET amount = ? WHERE id = ? RETURNING id",
                (kept, contribution["id"]),
            )


async def on_action_awarded(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    action: str,
    qualifier: str,
    action_record_pk: int,
    occurred_at: datetime,
    now: datetime,
) -> None:
    """Count an action that earned (a recorded action_records row) for ACTION_COUNT
    challenges of its kind, in the period its `occurred_at` falls in."""
    challenges = [
        challenge
        for challenge in await _running(conn, program_id, (ChallengeGoal.ACTION_COUNT,))
        if action_counts(challenge.action, challenge.action_qualifier, action, qualifier)
    ]
    if not challenges or not await _can_progress(conn, member_id):
        return
    challenges = await _open_to_member(conn, program_id, member_id, challenges, occurred_at)
    if not challenges:
        return
    zone = await _zone(conn, program_id)
    for challenge in challenges:
        period = period_of(
            challenge.recurrence, challenge.starts_at, challenge.ends_at, occurred_at, zone
        )
        if period is not None:
            await _contribute(
                conn,
                challenge,
                member_id,
                period,
                source=f"action:{action_record_pk}",
                amount=1,
                now=now,
            )


async def on_referral_completed(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    referrer_id: int,
    referral_id: int,
    now: datetime,
) -> None:
    """Count a referral that became REWARDED for the referrer's REFERRAL_COUNT challenges, in
    the period running now."""
    challenges = await _running(conn, program_id, (ChallengeGoal.REFERRAL_COUNT,))
    if not challenges or not await _can_progress(conn, referrer_id):
        return
    challenges = await _open_to_member(conn, program_id, referrer_id, challenges, now)
    if not challenges:
        return
    zone = await _zone(conn, program_id)
    for challenge in challenges:
        period = period_of(challenge.recurrence, challenge.starts_at, challenge.ends_at, now, zone)
        if period is not None:
            await _contribute(
                conn,
                challenge,
                referrer_id,
                period,
                source=f"referral:{referral_id}",
                amount=1,
                now=now,
            )


async def _contribute(
    conn: BaseDBAsyncClient,
    challenge: ChallengeRecord,
    member_id: int,
    period: ChallengePeriod,
    *,
    source: str,
    amount: int,
    now: datetime,
) -> None:
    """Add `amount` from `source` to the member's period (once), completing it on reaching
    the target."""
    await fetch_one(
        conn,
        "INSERT INTO challenge_progress (program_id, member_id, challenge_id, period_key,"
        " period_start, period_end, progress, completed_at, grant_key, transaction_id,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, NULL, NULL, ?)"
        " ON CONFLICT (member_id, challenge_id, period_key) DO NOTHING RETURNING id",
        (
            challenge.program_id,
            member_id,
            challenge.id,
            period.key,
            period.start,
            period.end,
            now,
        ),
    )
    progress_row = await fetch_one(
        conn,
        "SELECT id FROM challenge_progress WHERE member_id = ? AND challenge_id = ?"
        " AND period_key = ?",
        (member_id, challenge.id, period.key),
    )
    assert progress_row is not None
    progress_id = int(progress_row["id"])
    counted = await fetch_one(
        conn,
        "INSERT INTO challenge_contributions (progress_id, source, amount, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (progress_id, source) DO NOTHING RETURNING id",
        (progress_id, source, amount, now),
    )
    if counted is None:
        return
    updated = await fetch_one(
        conn,
        "UPDATE challenge_progress SET progress = progress + ?, updated_at = ? WHERE id = ?"
        " RETURNING progress, completed_at",
        (amount, now, progress_id),
    )
    assert updated is not None
    if updated["completed_at"] is None and int(updated["progress"]) >= challenge.target:
        await _complete(conn, challenge, member_id, progress_id, period, now)


async def _complete(
    conn: BaseDBAsyncClient,
    challenge: ChallengeRecord,
    member_id: int,
    progress_id: int,
    period: ChallengePeriod,
    now: datetime,
) -> None:
    key = grant_key(challenge.id, member_id, period.key)
    claimed = await fetch_one(
        conn,
        "UPDATE challenge_progress SET completed_at = ?, grant_key = ?"
        " WHERE id = ? AND completed_at IS NULL RETURNING progress",
        (now, key, progress_id),
    )
    if claimed is None:
        return
    challenge_id = encode_id("Challenge", challenge.id)
    if challenge.points > 0:
        posted = await post_movement(
            conn,
            Movement(
                program_id=challenge.program_id,
                member_id=member_id,
                kind=TransactionKind.CHALLENGE,
                points=challenge.points,
                counter_account=Account.PROGRAM_ISSUED,
                description=f"Challenge completed: {challenge.name}",
                event_details={"challengeId": challenge_id, "grantKey": key},
            ),
            now,
        )
        await fetch_one(
            conn,
            "UPDATE challenge_progress SET transaction_id = ? WHERE id = ? RETURNING id",
            (posted.transaction_id, progress_id),
        )
    badge_awarded = False
    if challenge.badge_id is not None:
        badge_awarded = await award_badge(
            conn,
            program_id=challenge.program_id,
            member_id=member_id,
            badge_id=challenge.badge_id,
            source=f"challenge:{challenge.id}:{period.key}",
            now=now,
            details={"challengeId": challenge_id},
        )
    await append_event(
        conn,
        program_id=challenge.program_id,
        member_id=member_id,
        event_type="challenge.completed",
        payload={
            "challengeId": challenge_id,
            "memberId": encode_id("Member", member_id),
            "name": challenge.name,
            "goal": challenge.goal.value,
            "target": challenge.target,
            "progress": int(claimed["progress"]),
            "period": period.key,
            "periodStart": period.start.isoformat(),
            "pointsAwarded": challenge.points,
            **(
                {"badgeId": encode_id("Badge", challenge.badge_id)}
                if challenge.badge_id is not None and badge_awarded
                else {}
            ),
            "grantKey": key,
        },
        now=now,
    )
