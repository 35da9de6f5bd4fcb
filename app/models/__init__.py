"""Tortoise models: columns, relations and indexes only; the rules live in domain/ and services/.

Table names are fixed so the hand-written SQL of the hot paths (services/ledger.py) and the
migrations can name them.
"""

from app.models.access import AuditLogEntry, TokenSigningSecret
from app.models.actions import ActionRecord, ActionRule
from app.models.analytics import AnalyticsDay, AnalyticsSummary
from app.models.api_keys import ApiKey
from app.models.backtests import BacktestJob
from app.models.bulk import BulkOperation
from app.models.earning_rules import EarningRule
from app.models.engagement import (
    Badge,
    Challenge,
    ChallengeContribution,
    ChallengeProgress,
    MemberBadge,
)
from app.models.events import OutboxEvent
from app.models.experiments import (
    Experiment,
    ExperimentEffect,
    ExperimentSubject,
    ExperimentVariant,
)
from app.models.expiry import ExpiryWarning
from app.models.idempotency import IdempotencyRecord
from app.models.imports import ImportJob
from app.models.ledger import LedgerEntry, LedgerTransaction, PointLot
from app.models.members import Member, MemberSearchTerm
from app.models.memberships import Membership, MembershipFirst, MembershipPlan
from app.models.orders import Order
from app.models.persisted_queries import PersistedQuery, TrustedDocument
from app.models.programs import Program
from app.models.punch_cards import PunchCard, PunchCardProgress, PunchCardPunch, PunchCardReward
from app.models.rate_limits import RateLimitBucket
from app.models.referrals import (
    MemberSignal,
    Referral,
    ReferralCode,
    ReferralReward,
    ReferralSettings,
)
from app.models.rewards import Redemption, RedemptionSettings, Reward, RewardCode
from app.models.segments import Segment, SegmentMember, SegmentVersion
from app.models.store_credit import StoreCreditMovement
from app.models.tiers import (
    MemberTier,
    Tier,
    TierAssignment,
    TierChange,
    TierEntryGrant,
    TierSettings,
)
from app.models.translations import Translation
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookFanOut

__all__ = [
    "ActionRecord",
    "ActionRule",
    "AnalyticsDay",
    "AnalyticsSummary",
    "ApiKey",
    "AuditLogEntry",
    "BacktestJob",
    "Badge",
    "BulkOperation",
    "Challenge",
    "ChallengeContribution",
    "ChallengeProgress",
    "EarningRule",
    "Experiment",
    "ExperimentEffect",
    "ExperimentSubject",
    "ExperimentVariant",
    "ExpiryWarning",
    "IdempotencyRecord",
    "ImportJob",
    "LedgerEntry",
    "LedgerTransaction",
    "Member",
    "MemberBadge",
    "MemberSearchTerm",
    "MemberSignal",
    "MemberTier",
    "Membership",
    "MembershipFirst",
    "MembershipPlan",
    "Order",
    "OutboxEvent",
    "PersistedQuery",
    "PointLot",
    "Program",
    "PunchCard",
    "PunchCardProgress",
    "PunchCardPunch",
    "PunchCardReward",
    "RateLimitBucket",
    "Redemption",
    "RedemptionSettings",
    "Referral",
    "ReferralCode",
    "ReferralReward",
    "ReferralSettings",
    "Reward",
    "RewardCode",
    "Segment",
    "SegmentMember",
    "SegmentVersion",
    "StoreCreditMovement",
    "Tier",
    "TierAssignment",
    "TierChange",
    "TierEntryGrant",
    "TierSettings",
    "TokenSigningSecret",
    "Translation",
    "TrustedDocument",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookFanOut",
]
