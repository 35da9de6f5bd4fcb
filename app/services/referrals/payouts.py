"""What a referral pays, and the states its payments move it through.

Rewards are points through the ledger (kind REFERRAL), in the transaction of what triggered
them: the friend's enrolment, or the friend's order. Order rewards are pending until the order's
return window has passed; `settle_reward` makes them final. A side's catalogue reward is given
when its reward is final (`_give_catalogue_reward`): out of stock or inactive then, it is recorded
FAILED with the reason (event `referral.reward_failed`), the points are paid anyway and nothing
retries it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import convert_minor, parse_exchange_rate
from app.domain.referrals import (
    ReferralSide,
    ReferralState,
    ReferralTrigger,
    SideRule,
)
from app.domain.rewards import RewardUnavailable
from app.domain.tiers import TierChangeReason
from app.services.core.events import append_event
from app.services.engagement.progress import (
    on_referral_completed as challenges_on_referral_completed,
)
from app.services.ledger.service import (
    Movement,
    lock_member,
    lock_owner,
    mature_lot,
    post_movement,
)
from app.services.referrals import repository, reward_repository
from app.services.referrals.records import FriendOrder, ReferralRecord, ReferralSettingsRecord
from app.services.referrals.transitions import announce
from app.services.rewards.gifts import GiveReward, give_reward
from app.services.tiers.service import member_multiplier, multiplied_points
from app.services.tiers.service import on_member_activity as on_tier_activity

SIGNUP_REF = "signup"
_SIGNUP_DESCRIPTIONS = {
    ReferralSide.FRIEND: "Welcome reward for joining through a referral",
    ReferralSide.REFERRER: "Referral reward: a friend joined",
}
_ORDER_DESCRIPTIONS = {
    ReferralSide.FRIEND: "Referral reward for your order",
    ReferralSide.REFERRER: "Referral reward: a friend's order",
}


def _in_program_currency(order: FriendOrder, program_currency: str) -> int:
    """The order's value in the program's currency, at the rate the order came with."""
    rate = None if order.exchange_rate is None else parse_exchange_rate(order.exchange_rate)
    if rate is None or order.currency == program_currency:
        return order.total_minor
    return convert_minor(order.total_minor, order.currency, program_currency, rate)


async def _pay(
    conn: BaseDBAsyncClient,
    *,
    referral: ReferralRecord,
    side: ReferralSide,
    rule: SideRule,
    trigger_ref: str,
    order_pk: int | None,
    pending_until: datetime | None,
    description: str,
    now: datetime,
) -> bool:
    """Pay one side once per trigger: its points, and its catalogue reward once the reward is
    final (now, or when `settle_reward` ends the pending period). False when it was paid
    before or the member opted out."""
    member_id = referral.referrer_id if side is ReferralSide.REFERRER else referral.friend_id
    assert member_id is not None
    if not await repository.takes_rewards(conn, member_id):
        return False
    # The member's tier (or paid membership) multiplier when the reward is earned, as on
    # purchases and actions; what the row records is what the ledger gets (and a reversal takes).
    points = multiplied_points(
        rule.points, await member_multiplier(conn, referral.program_id, member_id, now)
    )
    reward_pk = await reward_repository.insert_reward(
        conn,
        referral=referral,
        member_id=member_id,
        side=side,
        trigger_ref=trigger_ref,
        order_pk=order_pk,
        points=points,
        catalogue_reward_id=rule.reward_id,
        pending_until=pending_until,
        now=now,
    )
    if reward_pk is None:
        return False
    if points > 0:
        posted = await post_movement(
            conn,
            Movement(
                program_id=referral.program_id,
                member_id=member_id,
                kind=TransactionKind.REFERRAL,
                points=points,
                counter_account=Account.PROGRAM_ISSUED,
                member_account=Account.MEMBER_PENDING
                if pending_until is not None
                else Account.MEMBER_AVAILABLE,
                pending_until=pending_until,
                description=description,
                event_details={
                    "referralId": encode_id("Referral", referral.id),
                    "side": side.value,
                },
            ),
            now,
        )
        await reward_repository.set_reward_transaction(conn, reward_pk, posted.transaction_id)
    if rule.reward_id is not None and pending_until is None:
        await _give_catalogue_reward(conn, reward_pk, now)
    return True


async def _give_catalogue_reward(conn: BaseDBAsyncClient, reward_pk: int, now: datetime) -> bool:
    """Give the PENDING catalogue reward of a referral reward, in the caller's transaction
    (`give_reward`). Out of stock or inactive: FAILED with the reason, nothing moves. True when
    it was given.
    """
    gift = await reward_repository.pending_gift(conn, reward_pk)
    if gift is None:
        return False
    referral_gid = encode_id("Referral", gift.referral_id)
    given = await give_reward(
        conn,
        GiveReward(
            program_id=gift.program_id,
            member_id=gift.member_id,
            reward_id=gift.reward_id,
            kind=TransactionKind.REFERRAL,
            reason="Referral reward",
            event_details={"referralId": referral_gid, "side": gift.side.value},
        ),
        now,
    )
    if isinstance(given, RewardUnavailable):
        await reward_repository.gift_failed(conn, reward_pk, given)
        await append_event(
            conn,
            program_id=gift.program_id,
            member_id=gift.member_id,
            event_type="referral.reward_failed",
            payload={
                "referralId": referral_gid,
                "memberId": encode_id("Member", gift.member_id),
                "side": gift.side.value,
                "rewardId": encode_id("Reward", gift.reward_id),
                "reason": given.value,
            },
            now=now,
        )
        return False
    await reward_repository.gift_given(
        conn, reward_pk, value_minor=given.value_minor, redemption_id=given.redemption_id
    )
    return True


async def advance(
    conn: BaseDBAsyncClient,
    referral: ReferralRecord,
    state: ReferralState,
    now: datetime,
    *,
    qualified: bool = False,
) -> ReferralRecord:
    """Move the referral to QUALIFIED or REWARDED, announcing each step."""
    updated = await repository.update_referral(
        conn,
        referral.id,
        state=state,
        qualified_at=now if qualified else referral.qualified_at,
        rewarded_at=now if state is ReferralState.REWARDED else referral.rewarded_at,
    )
    if qualified:
        await announce(conn, updated, "referral.qualified", now)
    if state is ReferralState.REWARDED:
        await announce(conn, updated, "referral.rewarded", now)
        # A successful referral counts for the referrer's tier (REFERRALS metric).
        await on_tier_activity(
            conn,
            program_id=updated.program_id,
            member_id=updated.referrer_id,
            reason=TierChangeReason.REFERRAL,
            now=now,
        )
        # And for the referrer's REFERRAL_COUNT challenges (app/services/engagement/).
        await challenges_on_referral_completed(
            conn,
            program_id=updated.program_id,
            referrer_id=updated.referrer_id,
            referral_id=updated.id,
            now=now,
        )
    return updated


async def after_signup(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referral: ReferralRecord,
    now: datetime,
) -> ReferralRecord:
    """Sign-up rewards of a SIGNED_UP referral; a SIGNUP trigger of the referrer completes it."""
    for side in (ReferralSide.FRIEND, ReferralSide.REFERRER):
        rule = settings.rule(side)
        if not (rule.rewards and rule.trigger is ReferralTrigger.SIGNUP):
            continue
        await _pay(
            conn,
            referral=referral,
            side=side,
            rule=rule,
            trigger_ref=SIGNUP_REF,
            order_pk=None,
            pending_until=None,
            description=_SIGNUP_DESCRIPTIONS[side],
            now=now,
        )
        if side is ReferralSide.REFERRER:
            referral = await advance(conn, referral, ReferralState.REWARDED, now, qualified=True)
    return referral


async def apply_order(
    conn: BaseDBAsyncClient,
    settings: ReferralSettingsRecord,
    referral: ReferralRecord,
    order: FriendOrder,
    *,
    program_currency: str,
    pending_days: int,
    now: datetime,
) -> ReferralRecord:
    """Rewards one order of the friend earns each side; the referrer's first makes the
    referral QUALIFIED (REWARDED at once when the order's return window is already over).
    Every rewarded order uses up a slot, also when a refund cancels it later."""
    # Both members before anything else: giving the friend a stocked reward takes the
    # program's reward lock (`reward_gifts.lock_reward_rows`), after which no other member
    # row may be locked, or this waits on the referrer while the referrer's own order waits
    # on that lock.
    await lock_member(conn, referral.referrer_id)
    value_minor = _in_program_currency(order, program_currency)
    until = order.placed_at + timedelta(days=pending_days)
    pending_until = until if until > now else None
    for side in (ReferralSide.FRIEND, ReferralSide.REFERRER):
        rule = settings.rule(side)
        if not rule.order_counts(
            value_minor, await reward_repository.rewarded_orders(conn, referral.id, side)
        ):
            continue
        paid = await _pay(
            conn,
            referral=referral,
            side=side,
            rule=rule,
            trigger_ref=f"order:{order.id}",
            order_pk=order.id,
            pending_until=pending_until,
            description=_ORDER_DESCRIPTIONS[side],
            now=now,
        )
        if paid and side is ReferralSide.REFERRER and referral.state is ReferralState.SIGNED_UP:
            referral = await advance(
                conn,
                referral,
                ReferralState.QUALIFIED if pending_until else ReferralState.REWARDED,
                now,
                qualified=True,
            )
    return referral


async def catch_up(
    conn: BaseDBAsyncClient, referral: ReferralRecord, now: datetime
) -> ReferralRecord:
    """An approved referral earns what it would have: sign-up rewards, then the friend's
    orders that are not refunded, oldest first."""
    program = await repository.program_terms(conn, referral.program_id)
    settings = await repository.get_settings(conn, referral.program_id)
    referral = await after_signup(conn, settings, referral, now)
    assert referral.friend_id is not None
    for order in await repository.unrefunded_orders(conn, referral.friend_id):
        referral = await apply_order(
            conn,
            settings,
            referral,
            order,
            program_currency=program.currency,
            pending_days=program.pending_days,
            now=now,
        )
    return referral


async def settle_reward(conn: BaseDBAsyncClient, reward_id: int, now: datetime) -> bool:
    """Make a due pending reward final (maturing its points if the maturing job has not yet,
    and giving its catalogue reward); the referrer's makes its referral REWARDED. False when it
    was settled (or cancelled) already."""
    # Locks in one order everywhere: the member, then the reward row, then the lot (maturing
    # and refunds take the member before the lot too), so settling cannot deadlock with them.
    if not await lock_owner(conn, "referral_rewards", reward_id):
        return False
    settled = await reward_repository.settle_if_due(conn, reward_id, now)
    if settled is None:
        return False
    if settled.transaction_id is not None:
        lot_id = await reward_repository.pending_lot_id(conn, settled.transaction_id)
        if lot_id is not None:
            await mature_lot(conn, lot_id, now)
    await _give_catalogue_reward(conn, reward_id, now)
    if settled.side is ReferralSide.REFERRER:
        qualified = await repository.get_referral(
            conn, settled.referral_id, only_in=ReferralState.QUALIFIED
        )
        if qualified is not None:
            await advance(conn, qualified, ReferralState.REWARDED, now)
    return True
