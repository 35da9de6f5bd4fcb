"""The one exception tree of the domain; graphql/core/mutations.py maps it to `userErrors`."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    PROGRAM_NOT_FOUND = "PROGRAM_NOT_FOUND"
    SLUG_TAKEN = "SLUG_TAKEN"
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
    MEMBER_ALREADY_ENROLLED = "MEMBER_ALREADY_ENROLLED"
    MEMBER_OPTED_OUT = "MEMBER_OPTED_OUT"
    REWARD_NOT_FOUND = "REWARD_NOT_FOUND"
    RULE_NOT_FOUND = "RULE_NOT_FOUND"
    ACTION_NOT_REWARDED = "ACTION_NOT_REWARDED"
    ACTION_LIMIT_REACHED = "ACTION_LIMIT_REACHED"
    ACTION_CAP_REACHED = "ACTION_CAP_REACHED"
    REWARD_INACTIVE = "REWARD_INACTIVE"
    REWARD_OUT_OF_STOCK = "REWARD_OUT_OF_STOCK"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    # The member owes points a refund took back (NEGATIVE_BALANCE): no redemption until repaid.
    POINTS_OWED = "POINTS_OWED"
    BALANCE_WOULD_BE_NEGATIVE = "BALANCE_WOULD_BE_NEGATIVE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_POINTS = "INVALID_POINTS"
    POINTS_LIMIT_EXCEEDED = "POINTS_LIMIT_EXCEEDED"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    LINES_TOTAL_MISMATCH = "LINES_TOTAL_MISMATCH"
    ORDER_ALREADY_RECORDED = "ORDER_ALREADY_RECORDED"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    LINE_NOT_IN_ORDER = "LINE_NOT_IN_ORDER"
    REFUND_EXCEEDS_QUANTITY = "REFUND_EXCEEDS_QUANTITY"
    REFUND_EXCEEDS_AMOUNT = "REFUND_EXCEEDS_AMOUNT"
    ORDER_ALREADY_REFUNDED = "ORDER_ALREADY_REFUNDED"
    ORDER_PROGRESS_CONFLICT = "ORDER_PROGRESS_CONFLICT"
    INVALID_ID = "INVALID_ID"
    # A connection's `after` that is not a cursor of that connection (stale, foreign, made up).
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_VALUE = "INVALID_VALUE"
    # A trusted document whose id is not the SHA-256 of its text.
    DOCUMENT_ID_MISMATCH = "DOCUMENT_ID_MISMATCH"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    FORBIDDEN = "FORBIDDEN"
    # Referrals: an unknown or foreign code, a program whose referrals are off or that is
    # inactive, an unknown referral, and a review of a referral that is not held.
    REFERRAL_CODE_NOT_FOUND = "REFERRAL_CODE_NOT_FOUND"
    REFERRALS_DISABLED = "REFERRALS_DISABLED"
    REFERRAL_NOT_FOUND = "REFERRAL_NOT_FOUND"
    REFERRAL_NOT_HELD = "REFERRAL_NOT_HELD"
    # Store credit: a spend over the balance, a refund of an unknown spend or over what it spent.
    INSUFFICIENT_STORE_CREDIT = "INSUFFICIENT_STORE_CREDIT"
    STORE_CREDIT_SPEND_NOT_FOUND = "STORE_CREDIT_SPEND_NOT_FOUND"
    REFUND_EXCEEDS_SPEND = "REFUND_EXCEEDS_SPEND"
    PUNCH_CARD_NOT_FOUND = "PUNCH_CARD_NOT_FOUND"
    # Tiers: a tier name that is not one of the program's active tiers.
    TIER_NOT_FOUND = "TIER_NOT_FOUND"
    # Tiers: retiring a tier a reward still requires; assigning a tier below what the member
    # already holds by their history (an assignment is a floor, never a cap); clearing when no
    # assignment is in force.
    TIER_IN_USE = "TIER_IN_USE"
    TIER_BELOW_EARNED = "TIER_BELOW_EARNED"
    TIER_ASSIGNMENT_NOT_FOUND = "TIER_ASSIGNMENT_NOT_FOUND"
    # Paid memberships: an unknown or inactive plan, a member without a live membership of the
    # plan, and a start while one is live.
    MEMBERSHIP_PLAN_NOT_FOUND = "MEMBERSHIP_PLAN_NOT_FOUND"
    MEMBERSHIP_PLAN_INACTIVE = "MEMBERSHIP_PLAN_INACTIVE"
    MEMBERSHIP_NOT_FOUND = "MEMBERSHIP_NOT_FOUND"
    MEMBERSHIP_ALREADY_ACTIVE = "MEMBERSHIP_ALREADY_ACTIVE"
    # The reward catalogue and its codes (app/services/rewards/service.py, redemption_codes.py).
    INVALID_PERCENTAGE = "INVALID_PERCENTAGE"
    POINTS_OFF_STEP = "POINTS_OFF_STEP"
    POINTS_OUT_OF_RANGE = "POINTS_OUT_OF_RANGE"
    REWARD_RETIRED = "REWARD_RETIRED"
    REWARD_NOT_STARTED = "REWARD_NOT_STARTED"
    REWARD_ENDED = "REWARD_ENDED"
    REWARD_LIMIT_REACHED = "REWARD_LIMIT_REACHED"
    REWARD_TIER_RESTRICTED = "REWARD_TIER_RESTRICTED"
    REWARD_POOL_EMPTY = "REWARD_POOL_EMPTY"
    REWARD_NOT_POOLED = "REWARD_NOT_POOLED"
    REDEMPTION_NOT_FOUND = "REDEMPTION_NOT_FOUND"
    # A live subscription's member token expired: connect again with a new one.
    MEMBER_TOKEN_EXPIRED = "MEMBER_TOKEN_EXPIRED"  # noqa: S105 - a code, not a secret
    WEBHOOK_ENDPOINT_NOT_FOUND = "WEBHOOK_ENDPOINT_NOT_FOUND"
    WEBHOOK_DELIVERY_NOT_FOUND = "WEBHOOK_DELIVERY_NOT_FOUND"
    # An endpoint URL whose host is loopback, private or otherwise not public.
    UNSAFE_URL = "UNSAFE_URL"
    REDEMPTION_CODE_NOT_FOUND = "REDEMPTION_CODE_NOT_FOUND"
    REDEMPTION_ALREADY_USED = "REDEMPTION_ALREADY_USED"
    REDEMPTION_CANCELLED = "REDEMPTION_CANCELLED"
    REDEMPTION_EXPIRED = "REDEMPTION_EXPIRED"
    REDEMPTION_NOT_CANCELLABLE = "REDEMPTION_NOT_CANCELLABLE"
    CODE_CHECKS_RATE_LIMITED = "CODE_CHECKS_RATE_LIMITED"
    # A reward configured to be given (punch card, tier entry, welcome) that gifts cannot be.
    REWARD_NOT_GIFTABLE = "REWARD_NOT_GIFTABLE"
    # No longer returned now that segments exist; kept so clients that name it still parse.
    SEGMENTS_UNAVAILABLE = "SEGMENTS_UNAVAILABLE"
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND"
    SEGMENT_KEY_TAKEN = "SEGMENT_KEY_TAKEN"
    # A segment that earning rules or rewards still target cannot be archived.
    SEGMENT_IN_USE = "SEGMENT_IN_USE"
    # The reward is for members of segments this member is not in.
    REWARD_SEGMENT_RESTRICTED = "REWARD_SEGMENT_RESTRICTED"
    UNKNOWN_ATTRIBUTE = "UNKNOWN_ATTRIBUTE"
    CARD_NUMBER_TAKEN = "CARD_NUMBER_TAKEN"
    MEMBER_ERASED = "MEMBER_ERASED"
    # Engagement (app/services/engagement/): an unknown challenge or badge, and a change to
    # an archived one (archiving is final).
    CHALLENGE_NOT_FOUND = "CHALLENGE_NOT_FOUND"
    CHALLENGE_ARCHIVED = "CHALLENGE_ARCHIVED"
    BADGE_NOT_FOUND = "BADGE_NOT_FOUND"
    BADGE_ARCHIVED = "BADGE_ARCHIVED"
    # Experiments (app/services/experiments): an unknown experiment; variant weights that are
    # not positive or do not sum to 10,000; a rule or reward another experiment already tests;
    # a start or stop the experiment's status does not allow; a reward an experiment keeps from
    # this member (another variant's, or one of a stopped experiment).
    EXPERIMENT_NOT_FOUND = "EXPERIMENT_NOT_FOUND"
    INVALID_WEIGHTS = "INVALID_WEIGHTS"
    EXPERIMENT_SUBJECT_TAKEN = "EXPERIMENT_SUBJECT_TAKEN"
    EXPERIMENT_STATUS_CONFLICT = "EXPERIMENT_STATUS_CONFLICT"
    REWARD_NOT_IN_VARIANT = "REWARD_NOT_IN_VARIANT"
    # A locale that is no BCP 47 language tag (`sv`, `sv-SE`, `ro`, `ru-RU`...).
    INVALID_LOCALE = "INVALID_LOCALE"
    BULK_OPERATION_NOT_FOUND = "BULK_OPERATION_NOT_FOUND"
    # Done, failed or cancelled already: there is nothing left to cancel.
    BULK_OPERATION_FINISHED = "BULK_OPERATION_FINISHED"


class DomainError(Exception):
    """An expected failure: bad input or a rule that refuses the request. Nothing was written."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class CombinedInputError(DomainError):
    """Several input problems found at once, so the client can fix them in one round trip."""

    def __init__(self, errors: list[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = errors
