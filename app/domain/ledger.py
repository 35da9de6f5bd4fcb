"""Accounts and transaction kinds of the points ledger.

Every movement is a journal transaction whose entries sum to zero: the member's account on one
side and one of the program's accounts on the other. A member's balances are sums of entries:
available = sum(MEMBER_AVAILABLE), lifetime earned = -sum(PROGRAM_ISSUED), lifetime redeemed =
sum(PROGRAM_REDEEMED). Adjustments go to PROGRAM_ADJUSTED and count as neither. Purchase points
may first land on MEMBER_PENDING and move to MEMBER_AVAILABLE when they mature. Expired points
go to PROGRAM_EXPIRED.

MEMBER_DEBT holds what a refund could not take back under the NEGATIVE_BALANCE policy (its sum
is minus the debt). A credit of available points to an indebted member is followed, in the same
database transaction, by a DEBT_RECOVERY transaction moving points from MEMBER_AVAILABLE to
MEMBER_DEBT, so a member owing points never has any available.

Store credit is money, not points: integer minor units of the program's currency, on its own
two accounts. MEMBER_STORE_CREDIT is the member's spendable balance (store credit balance =
sum(MEMBER_STORE_CREDIT)); PROGRAM_STORE_CREDIT is its counter side, the program's liability
(minus what it has issued net of what came back). STORE_CREDIT_ISSUE (goodwill credit, points
turned into credit) and STORE_CREDIT_REFUND (a checkout spend given back) credit the member,
STORE_CREDIT_SPEND (the checkout) debits it. A journal transaction is either points or store
credit, never both: each sums to zero on its own accounts, and a store-credit transaction's
`points` is 0 (`laurel verify-ledger` checks both).
"""

from __future__ import annotations

from enum import StrEnum


class Account(StrEnum):
    MEMBER_AVAILABLE = "MEMBER_AVAILABLE"
    MEMBER_PENDING = "MEMBER_PENDING"
    PROGRAM_ISSUED = "PROGRAM_ISSUED"
    PROGRAM_REDEEMED = "PROGRAM_REDEEMED"
    PROGRAM_ADJUSTED = "PROGRAM_ADJUSTED"
    MEMBER_DEBT = "MEMBER_DEBT"
    PROGRAM_EXPIRED = "PROGRAM_EXPIRED"
    MEMBER_STORE_CREDIT = "MEMBER_STORE_CREDIT"
    PROGRAM_STORE_CREDIT = "PROGRAM_STORE_CREDIT"


class TransactionKind(StrEnum):
    EARN_ORDER = "EARN_ORDER"
    REDEEM = "REDEEM"
    ADJUST = "ADJUST"
    # Pending points of an order becoming available after the return window.
    MATURE = "MATURE"
    # Points of refunded order lines taken back.
    REFUND = "REFUND"
    # Points for an action: a review, a sign-up, a birthday...
    ACTION = "ACTION"
    # What was left of lots whose time ran out.
    EXPIRE = "EXPIRE"
    # New points paying back a refund's shortfall.
    DEBT_RECOVERY = "DEBT_RECOVERY"
    # Points for a referral: the referrer's for a friend, or the friend's welcome.
    REFERRAL = "REFERRAL"
    # Points paying for a punch card's reward (earned and redeemed at once, see give_reward).
    PUNCH_CARD = "PUNCH_CARD"
    # Store credit (money, see above): added, spent at the checkout, a spend given back.
    STORE_CREDIT_ISSUE = "STORE_CREDIT_ISSUE"
    STORE_CREDIT_SPEND = "STORE_CREDIT_SPEND"
    STORE_CREDIT_REFUND = "STORE_CREDIT_REFUND"
    # A tier's entry reward (points, or the cost of a catalogue reward given): never counts
    # towards a tier itself.
    TIER_REWARD = "TIER_REWARD"
    # The cost of a paid membership's welcome reward, given: never counts towards a tier.
    MEMBERSHIP_REWARD = "MEMBERSHIP_REWARD"
    # A redemption undone before use (cancelled, or expired under the program's refund
    # setting): the points it spent come back; for a given reward, the gift is taken back.
    REDEMPTION_CANCELLED = "REDEMPTION_CANCELLED"
    # Points a completed challenge gives (app/domain/engagement.py): never counts towards a
    # tier (the orders, actions and referrals that completed it already do).
    CHALLENGE = "CHALLENGE"
    # An opening balance carried over from another program (`laurel import balances`): one
    # transaction per member, a lot per imported lot with its own expiry.
    IMPORT = "IMPORT"


STORE_CREDIT_ACCOUNTS = frozenset({Account.MEMBER_STORE_CREDIT, Account.PROGRAM_STORE_CREDIT})
STORE_CREDIT_KINDS = frozenset(
    {
        TransactionKind.STORE_CREDIT_ISSUE,
        TransactionKind.STORE_CREDIT_SPEND,
        TransactionKind.STORE_CREDIT_REFUND,
    }
)


# Kinds that are the member's own doing: earning or spending restarts the inactivity clock.
MEMBER_ACTIVITY_KINDS = frozenset(
    {TransactionKind.EARN_ORDER, TransactionKind.ACTION, TransactionKind.REDEEM}
)
