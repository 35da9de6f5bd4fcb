"""Accounts and transaction kinds of the points ledger.

Every movement is a journal transaction whose entries sum to zero: the member's account on one
side and one of the program's accounts on the other. A member's balances are sums of entries:
available = sum(MEMBER_AVAILABLE), lifetime earned = -sum(PROGRAM_ISSUED), lifetime redeemed =
sum(PROGRAM_REDEEMED). Adjustments go to PROGRAM_ADJUSTED and count as neither. Purchase points
may first land on MEMBER_PENDING and move to MEMBER_AVAILABLE when they mature.
"""

from __future__ import annotations

from enum import StrEnum


class Account(StrEnum):
    MEMBER_AVAILABLE = "MEMBER_AVAILABLE"
    MEMBER_PENDING = "MEMBER_PENDING"
    PROGRAM_ISSUED = "PROGRAM_ISSUED"
    PROGRAM_REDEEMED = "PROGRAM_REDEEMED"
    PROGRAM_ADJUSTED = "PROGRAM_ADJUSTED"


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
