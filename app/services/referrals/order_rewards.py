"""The hooks of the orders service: a friend's order earns referral rewards, its delivery
restarts their return window, and its full refund cancels what is still pending."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.referrals import ReferralState, RejectionReason
from app.services.ledger.service import Movement, lock_member, post_movement
from app.services.programs.service import ProgramRecord
from app.services.referrals import repository, reward_repository
from app.services.referrals.payouts import apply_order, settle_reward
from app.services.referrals.records import FriendOrder
from app.services.referrals.reward_repository import PendingReward
from app.services.referrals.transitions import reject


async def on_order_recorded(
    conn: BaseDBAsyncClient,
    *,
    program: ProgramRecord,
    member_id: int,
    order_pk: int,
    total_minor: int,
    currency: str,
    exchange_rate: str | None,
    placed_at: datetime,
    now: datetime,
) -> None:
    """The hook of `record_order`, in its transaction: rewards the friend's order earns.
    One indexed read when the member was not referred."""
    referral = await repository.counted_referral_of(conn, member_id)
    if referral is None:
        return
    await apply_order(
        conn,
        await repository.get_settings(conn, program.id),
        referral,
        FriendOrder(order_pk, total_minor, currency, exchange_rate, placed_at),
        program_currency=program.currency,
        pending_days=program.pending_days,
        now=now,
    )


async def on_order_fulfilled(
    conn: BaseDBAsyncClient, *, order_pk: int, pending_until: datetime
) -> None:
    """The hook of `report_order_progress`: delivery restarts the return window of the
    referral rewards of the order too (never earlier than they were due)."""
    for reward in await reward_repository.pending_rewards_of_order(
        conn, order_pk, due_before=pending_until
    ):
        await reward_repository.postpone_reward(conn, reward, pending_until)


async def _cancel(conn: BaseDBAsyncClient, reward: PendingReward, now: datetime) -> bool:
    """Cancel one pending reward of the refunded order, taking back its pending points; a
    reward that is final already (its points matured, or a catalogue reward alone that is due)
    is settled instead. True when it was cancelled."""
    # The member, then the reward row, then the lot: the order settling takes them in.
    await lock_member(conn, reward.member_id)
    if not await reward_repository.lock_if_pending(conn, reward.id):
        return False
    lot = None
    if reward.transaction_id is not None:
        # The lot's row lock keeps the maturing job off it until we are done.
        lot = await reward_repository.lock_pending_lot(conn, reward.transaction_id)
        if lot is None:
            await settle_reward(conn, reward.id, now)
            return False
    elif reward.available_at <= now:
        await settle_reward(conn, reward.id, now)
        return False
    if not await reward_repository.cancel_reward(conn, reward.id, now):
        return False
    if lot is not None and lot.remaining > 0:
        await post_movement(
            conn,
            Movement(
                program_id=lot.program_id,
                member_id=reward.member_id,
                kind=TransactionKind.REFUND,
                points=-lot.remaining,
                counter_account=Account.PROGRAM_ISSUED,
                member_account=Account.MEMBER_PENDING,
                lot_id=lot.id,
                description="Referral reward cancelled: the order was refunded",
                event_details={"referralId": encode_id("Referral", reward.referral_id)},
            ),
            now,
        )
    return True


async def on_order_refunded(
    conn: BaseDBAsyncClient, *, order_pk: int, fully_refunded: bool, now: datetime
) -> None:
    """The hook of `refund_order`, in its transaction: a fully refunded (or cancelled) order
    cancels the referral rewards it earned that are still pending; a referral whose referrer
    reward is thereby gone is REJECTED (QUALIFYING_ORDER_REFUNDED). Final rewards stay."""
    if not fully_refunded:
        return
    touched: set[int] = set()
    for reward in await reward_repository.pending_rewards_of_order(conn, order_pk):
        if await _cancel(conn, reward, now):
            touched.add(reward.referral_id)
    for referral_id in sorted(touched):
        if await reward_repository.referrer_rewards_left(conn, referral_id) > 0:
            continue
        await reject(
            conn,
            referral_id,
            RejectionReason.QUALIFYING_ORDER_REFUNDED,
            now,
            only_in=ReferralState.QUALIFIED,
        )
