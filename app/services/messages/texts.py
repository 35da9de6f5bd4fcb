"""What Laurel says to members, in their language: activity summaries, tier requirements, and
the messages of the user errors a member can meet (catalogue.py has the mechanism).

Error codes never change with the language; only the message does. Errors only staff meet
(configuration, imports, webhooks) keep their precise English message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.domain.errors import ErrorCode
from app.domain.ledger import TransactionKind
from app.domain.tiers import TierMetric
from app.services.messages.catalogue import N_, Messages

_Summary = Callable[[Messages, int, str | None], str]


def _earned(m: Messages, n: int, order: str | None) -> str:
    if order:
        return m.ngettext(
            "{count} point for order {order}", "{count} points for order {order}", n, order=order
        )
    return m.ngettext("{count} point for a purchase", "{count} points for a purchase", n)


def _adjusted(m: Messages, n: int, order: str | None) -> str:
    # n is the absolute amount; the sign is the caller's (see activity_summary).
    return m.ngettext("{count} point added by the store", "{count} points added by the store", n)


def _removed(m: Messages, n: int, order: str | None) -> str:
    return m.ngettext(
        "{count} point removed by the store", "{count} points removed by the store", n
    )


def _matured(m: Messages, n: int, order: str | None) -> str:
    if order:
        return m.gettext("Points from order {order} can now be spent", order=order)
    return m.gettext("Pending points can now be spent")


def _refunded(m: Messages, n: int, order: str | None) -> str:
    if order:
        return m.ngettext(
            "{count} point taken back for a refund of order {order}",
            "{count} points taken back for a refund of order {order}",
            n,
            order=order,
        )
    return m.ngettext(
        "{count} point taken back for a refund", "{count} points taken back for a refund", n
    )


_SUMMARIES: dict[TransactionKind, _Summary] = {
    TransactionKind.EARN_ORDER: _earned,
    TransactionKind.REDEEM: lambda m, n, _: m.ngettext(
        "{count} point spent on a reward", "{count} points spent on a reward", n
    ),
    TransactionKind.ADJUST: _adjusted,
    TransactionKind.MATURE: _matured,
    TransactionKind.REFUND: _refunded,
    TransactionKind.ACTION: lambda m, n, _: m.ngettext(
        "{count} point for an action", "{count} points for an action", n
    ),
    TransactionKind.EXPIRE: lambda m, n, _: m.ngettext(
        "{count} point expired", "{count} points expired", n
    ),
    TransactionKind.DEBT_RECOVERY: lambda m, n, _: m.ngettext(
        "{count} point paid back what a refund could not take",
        "{count} points paid back what a refund could not take",
        n,
    ),
    TransactionKind.REFERRAL: lambda m, n, _: m.ngettext(
        "{count} point for a referral", "{count} points for a referral", n
    ),
    TransactionKind.PUNCH_CARD: lambda m, n, _: m.gettext("A full punch card's reward"),
    TransactionKind.STORE_CREDIT_ISSUE: lambda m, n, _: m.gettext("Store credit added"),
    TransactionKind.STORE_CREDIT_SPEND: lambda m, n, _: m.gettext("Store credit spent"),
    TransactionKind.STORE_CREDIT_REFUND: lambda m, n, _: m.gettext("Store credit given back"),
    TransactionKind.TIER_REWARD: lambda m, n, _: m.gettext("A reward for reaching a new tier"),
    TransactionKind.MEMBERSHIP_REWARD: lambda m, n, _: m.gettext("A membership's welcome reward"),
    TransactionKind.REDEMPTION_CANCELLED: lambda m, n, _: m.ngettext(
        "{count} point returned from a cancelled reward",
        "{count} points returned from a cancelled reward",
        n,
    ),
    TransactionKind.CHALLENGE: lambda m, n, _: m.ngettext(
        "{count} point for completing a challenge",
        "{count} points for completing a challenge",
        n,
    ),
    TransactionKind.IMPORT: lambda m, n, _: m.ngettext(
        "{count} point carried over from the previous program",
        "{count} points carried over from the previous program",
        n,
    ),
}


def activity_summary(
    messages: Messages, kind: TransactionKind, points: int, order: str | None
) -> str:
    """One movement of a member's points, said in the reader's language."""
    if kind is TransactionKind.ADJUST and points < 0:
        return _removed(messages, -points, order)
    return _SUMMARIES[kind](messages, abs(points), order)


def reach_requirement(
    messages: Messages, metric: TierMetric, needed: int, currency: str | None, tier: str
) -> str:
    """What a member still needs to reach `tier`."""
    m = messages
    if metric is TierMetric.MONEY_SPENT:
        amount = m.money(needed, currency or "EUR")
        return m.gettext("Spend {amount} more to reach {tier}", amount=amount, tier=tier)
    if metric is TierMetric.ORDERS:
        return m.ngettext(
            "Place {count} more order to reach {tier}",
            "Place {count} more orders to reach {tier}",
            needed,
            tier=tier,
        )
    if metric is TierMetric.REFERRALS:
        return m.ngettext(
            "Refer {count} more friend to reach {tier}",
            "Refer {count} more friends to reach {tier}",
            needed,
            tier=tier,
        )
    return m.ngettext(
        "Earn {count} more point to reach {tier}",
        "Earn {count} more points to reach {tier}",
        needed,
        tier=tier,
    )


def keep_requirement(
    messages: Messages,
    metric: TierMetric,
    needed: int,
    currency: str | None,
    tier: str,
    by: datetime | None,
) -> str:
    """What a member still needs, by `by`, to keep `tier` (0: nothing, it is secured)."""
    m = messages
    if needed <= 0:
        if by is None:
            return m.gettext("{tier} is yours", tier=tier)
        return m.gettext("{tier} is yours through {date}", tier=tier, date=m.date(by))
    when = m.date(by) if by is not None else ""
    if metric is TierMetric.MONEY_SPENT:
        amount = m.money(needed, currency or "EUR")
        return m.gettext(
            "Spend {amount} more by {date} to keep {tier}", amount=amount, date=when, tier=tier
        )
    if metric is TierMetric.ORDERS:
        return m.ngettext(
            "Place {count} more order by {date} to keep {tier}",
            "Place {count} more orders by {date} to keep {tier}",
            needed,
            date=when,
            tier=tier,
        )
    if metric is TierMetric.REFERRALS:
        return m.ngettext(
            "Refer {count} more friend by {date} to keep {tier}",
            "Refer {count} more friends by {date} to keep {tier}",
            needed,
            date=when,
            tier=tier,
        )
    return m.ngettext(
        "Earn {count} more point by {date} to keep {tier}",
        "Earn {count} more points by {date} to keep {tier}",
        needed,
        date=when,
        tier=tier,
    )


def points_text(messages: Messages, points: int) -> str:
    """A number of points, with the plural form of the language (1 балл, 2 балла, 5 баллов)."""
    return messages.ngettext("{count} point", "{count} points", points)


_ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.MEMBER_NOT_FOUND: N_("We could not find your membership."),
    ErrorCode.MEMBER_OPTED_OUT: N_("You have left the program: join again to earn."),
    ErrorCode.MEMBER_ERASED: N_("This membership has been erased."),
    ErrorCode.MEMBER_TOKEN_EXPIRED: N_("Your session has expired: please reload."),
    ErrorCode.FORBIDDEN: N_("You are not allowed to do this."),
    ErrorCode.PROGRAM_NOT_FOUND: N_("This rewards program does not exist."),
    ErrorCode.REWARD_NOT_FOUND: N_("This reward does not exist."),
    ErrorCode.REWARD_INACTIVE: N_("This reward is not available right now."),
    ErrorCode.REWARD_RETIRED: N_("This reward is no longer offered."),
    ErrorCode.REWARD_NOT_STARTED: N_("This reward is not available yet."),
    ErrorCode.REWARD_ENDED: N_("This reward is no longer available."),
    ErrorCode.REWARD_OUT_OF_STOCK: N_("This reward is out of stock."),
    ErrorCode.REWARD_LIMIT_REACHED: N_("You have redeemed this reward as often as allowed."),
    ErrorCode.REWARD_TIER_RESTRICTED: N_("This reward is for members of other tiers."),
    ErrorCode.REWARD_SEGMENT_RESTRICTED: N_("This reward is not offered to you."),
    ErrorCode.REWARD_NOT_IN_VARIANT: N_("This reward is not offered to you."),
    ErrorCode.REWARD_POOL_EMPTY: N_("This reward has run out of codes."),
    ErrorCode.INSUFFICIENT_POINTS: N_("You do not have enough points for this."),
    ErrorCode.POINTS_OWED: N_(
        "Points taken back by a refund must be earned back before you can redeem."
    ),
    ErrorCode.POINTS_OFF_STEP: N_("Choose a number of points the reward allows."),
    ErrorCode.POINTS_OUT_OF_RANGE: N_("Choose a number of points the reward allows."),
    ErrorCode.ACTION_NOT_REWARDED: N_("This action does not earn points."),
    ErrorCode.ACTION_LIMIT_REACHED: N_(
        "You have already earned points for this as often as allowed."
    ),
    ErrorCode.ACTION_CAP_REACHED: N_("You have earned all the points this gives."),
    ErrorCode.REFERRAL_CODE_NOT_FOUND: N_("This referral code is not valid."),
    ErrorCode.REFERRALS_DISABLED: N_("Referrals are not open right now."),
    ErrorCode.REDEMPTION_NOT_FOUND: N_("This reward code does not exist."),
    ErrorCode.REDEMPTION_NOT_CANCELLABLE: N_("This reward can no longer be cancelled."),
    ErrorCode.CODE_CHECKS_RATE_LIMITED: N_("Too many attempts: try again later."),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: N_("This request was already sent with other details."),
    ErrorCode.INVALID_VALUE: N_("This value is not valid."),
    ErrorCode.INVALID_ID: N_("This value is not valid."),
    ErrorCode.INVALID_LOCALE: N_("This language is not valid."),
    ErrorCode.REQUIRED: N_("This is required."),
    ErrorCode.TOO_LONG: N_("This is too long."),
}

# The codes a member can meet, whose message is translated.
MEMBER_FACING_CODES = frozenset(_ERROR_MESSAGES)


def error_message(messages: Messages, code: ErrorCode) -> str | None:
    """The member-facing message of `code` in the reader's language; None for errors only
    staff meet (their English message is kept)."""
    message = _ERROR_MESSAGES.get(code)
    return None if message is None else messages.gettext(message)
