"""Reward kinds, their terms, and redemption codes: pure rules, no I/O.

Each kind carries only the terms that make sense for it (`check_terms` refuses the rest), so a
checkout reading a code's terms never has to guess which fields apply.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.actions import Frequency, period_window
from app.domain.errors import ErrorCode
from app.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, MAX_POINTS_PER_MOVEMENT
from app.domain.validation import Checker


class RewardKind(StrEnum):
    # Money off an order (`value_minor`), optionally only from `minimum_order_minor`.
    FIXED_DISCOUNT = "FIXED_DISCOUNT"
    # `percent_off` of the order, or of the chosen SKUs / categories, capped by `max_value_minor`.
    PERCENT_DISCOUNT = "PERCENT_DISCOUNT"
    # Shipping for free, optionally only up to `max_value_minor`.
    FREE_SHIPPING = "FREE_SHIPPING"
    # One product: the SKU, or any one of the SKUs listed.
    FREE_PRODUCT = "FREE_PRODUCT"
    # Points turned into `value_minor` on the member's store-credit balance.
    STORE_CREDIT = "STORE_CREDIT"
    # A variable number of points (min, max, step) for a discount at the program's rate.
    PAY_WITH_POINTS = "PAY_WITH_POINTS"
    # A donation of `value_minor` to `charity_name`, made in the member's name.
    CHARITY = "CHARITY"
    # Experiences and anything else the store describes and fulfils itself.
    CUSTOM = "CUSTOM"


# Kinds worth money: they need a value (or a cap) in a currency.
MONEY_KINDS = frozenset(
    {
        RewardKind.FIXED_DISCOUNT,
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.STORE_CREDIT,
        RewardKind.PAY_WITH_POINTS,
        RewardKind.CHARITY,
    }
)
# Kinds that may state a face value (a product's price, what an experience is worth).
FACE_VALUE_KINDS = frozenset({RewardKind.FREE_PRODUCT, RewardKind.CUSTOM})
# Kinds whose `value_minor` is fixed by the reward.
FIXED_VALUE_KINDS = frozenset(
    {RewardKind.FIXED_DISCOUNT, RewardKind.STORE_CREDIT, RewardKind.CHARITY}
)


class RewardUnavailable(StrEnum):
    """Why a reward given to a member (not bought) could not be given."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    # Inactive, retired or outside its window.
    REWARD_INACTIVE = "REWARD_INACTIVE"
    # A POOL reward whose uploaded codes are all handed out.
    POOL_EMPTY = "POOL_EMPTY"


class RedemptionStatus(StrEnum):
    ISSUED = "ISSUED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class RedemptionSource(StrEnum):
    # Bought by the member with points.
    PURCHASE = "PURCHASE"
    # Given by the program (referral, punch card, tier entry...): the member paid nothing.
    GIFT = "GIFT"


class CodeSource(StrEnum):
    # Laurel makes a random code per redemption.
    GENERATED = "GENERATED"
    # The next unused code the store uploaded for the reward.
    POOL = "POOL"


class LimitPeriod(StrEnum):
    """How a per-member limit counts: over all time, or per calendar period of the program."""

    EVER = "EVER"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


_FREQUENCY_OF = {
    LimitPeriod.DAY: Frequency.PER_DAY,
    LimitPeriod.WEEK: Frequency.PER_WEEK,
    LimitPeriod.MONTH: Frequency.PER_MONTH,
    LimitPeriod.YEAR: Frequency.PER_YEAR,
}


def limit_window_start(period: LimitPeriod, now: datetime, zone: str) -> datetime | None:
    """Start (UTC) of the period holding `now` in the program's zone; None for EVER."""
    if period is LimitPeriod.EVER:
        return None
    window = period_window(_FREQUENCY_OF[period], now, zone)
    assert window is not None
    return window[0]


# Crockford's base32 without I, L, O and U: nothing a shopper can misread when typing it.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RANDOM_CHARACTERS = 16
# Codes the store uploads: long enough that guessing one is as hopeless as the rate limit
# assumes (README, "Redemption codes").
POOL_CODE_MIN = 8
POOL_CODE_MAX = 64
MAX_CODES_PER_UPLOAD = 10_000
MAX_LIST_ITEMS = 100
SKU_MAX = 128
URL_MAX = 2000
MAX_PER_MEMBER_LIMIT = 1_000_000
MAX_CODE_VALID_DAYS = 3650
MAX_POINTS_PER_CURRENCY_UNIT = 1_000_000


def new_redemption_code() -> str:
    """16 random characters (80 bits) in groups of four, e.g. `7K2M-QX9D-...`."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_RANDOM_CHARACTERS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_RANDOM_CHARACTERS, 4))


def normalise_code(raw: str) -> str:
    """What a checkout sends, as stored: codes are compared without case or outer spaces."""
    return raw.strip().upper()


@dataclass(frozen=True)
class RewardTerms:
    """What a reward is worth and on what, as the admin gave it (checked by `check_terms`)."""

    kind: RewardKind
    cost_points: int
    value_minor: int | None = None
    currency: str | None = None
    minimum_order_minor: int | None = None
    percent_off: int | None = None
    max_value_minor: int | None = None
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    charity_name: str | None = None
    points_min: int | None = None
    points_max: int | None = None
    points_step: int | None = None


def check_terms(check: Checker, terms: RewardTerms) -> None:
    """Add every problem of `terms` for its kind to `check` (fields are `input.<name>`)."""
    kind = terms.kind

    def field(name: str) -> list[str]:
        return ["input", name]

    def refuse_unless(name: str, present: bool, allowed: bool) -> None:
        if present and not allowed:
            check.add(
                ErrorCode.INVALID_VALUE, f"{name} does not apply to {kind.value}", field(name)
            )

    def require(name: str, present: bool) -> None:
        if not present:
            check.add(ErrorCode.REQUIRED, f"{kind.value} needs {name}", field(name))

    def money(name: str, value: int | None, low: int = 0) -> None:
        if value is not None and not low <= value <= MAX_AMOUNT_MINOR:
            check.add(
                ErrorCode.INVALID_AMOUNT,
                f"{name} must be between {low} and {MAX_AMOUNT_MINOR}, got {value}",
                field(name),
            )

    check.int_range(
        field("costPoints"), terms.cost_points, 1, MAX_POINTS_PER_MOVEMENT, ErrorCode.INVALID_POINTS
    )
    money("valueMinor", terms.value_minor, 1)
    money("minimumOrderMinor", terms.minimum_order_minor)
    money("maxValueMinor", terms.max_value_minor, 1)
    if terms.currency is not None and terms.currency not in CURRENCY_EXPONENTS:
        check.add(
            ErrorCode.UNKNOWN_CURRENCY, f"unknown currency {terms.currency}", field("currency")
        )
    refuse_unless(
        "currency", terms.currency is not None, kind in MONEY_KINDS or kind in FACE_VALUE_KINDS
    )

    if kind in FIXED_VALUE_KINDS:
        require("valueMinor", terms.value_minor is not None)
    else:
        # A free product or a custom reward may state its face value (for reports and the
        # checkout); discounts that depend on the order have none.
        refuse_unless("valueMinor", terms.value_minor is not None, kind in FACE_VALUE_KINDS)
    refuse_unless(
        "minimumOrderMinor",
        terms.minimum_order_minor is not None,
        kind is RewardKind.FIXED_DISCOUNT,
    )
    refuse_unless(
        "maxValueMinor",
        terms.max_value_minor is not None,
        kind in (RewardKind.PERCENT_DISCOUNT, RewardKind.FREE_SHIPPING),
    )

    if kind is RewardKind.PERCENT_DISCOUNT:
        require("percentOff", terms.percent_off is not None)
        if terms.percent_off is not None and not 1 <= terms.percent_off <= 100:
            check.add(
                ErrorCode.INVALID_PERCENTAGE,
                f"percentOff must be between 1 and 100, got {terms.percent_off}",
                field("percentOff"),
            )
    else:
        refuse_unless("percentOff", terms.percent_off is not None, False)

    if kind is RewardKind.FREE_PRODUCT:
        require("skus", bool(terms.skus))
    refuse_unless(
        "skus",
        bool(terms.skus),
        kind in (RewardKind.FREE_PRODUCT, RewardKind.PERCENT_DISCOUNT),
    )
    refuse_unless("categories", bool(terms.categories), kind is RewardKind.PERCENT_DISCOUNT)

    if kind is RewardKind.CHARITY:
        require("charityName", terms.charity_name is not None)
    else:
        refuse_unless("charityName", terms.charity_name is not None, False)

    points = (terms.points_min, terms.points_max, terms.points_step)
    if kind is RewardKind.PAY_WITH_POINTS:
        _check_points_range(check, terms)
    else:
        for name, value in zip(("pointsMin", "pointsMax", "pointsStep"), points, strict=True):
            refuse_unless(name, value is not None, False)


def _check_points_range(check: Checker, terms: RewardTerms) -> None:
    low, high, step = terms.points_min, terms.points_max, terms.points_step
    for name, value in (("pointsMin", low), ("pointsMax", high), ("pointsStep", step)):
        if value is None:
            check.add(ErrorCode.REQUIRED, f"PAY_WITH_POINTS needs {name}", ["input", name])
        elif not 1 <= value <= MAX_POINTS_PER_MOVEMENT:
            check.add(
                ErrorCode.INVALID_POINTS,
                f"{name} must be between 1 and {MAX_POINTS_PER_MOVEMENT}, got {value}",
                ["input", name],
            )
    if low is None or high is None or step is None or min(low, high, step) < 1:
        return
    if high < low:
        check.add(ErrorCode.INVALID_POINTS, "pointsMax is below pointsMin", ["input", "pointsMax"])
    for name, value in (("pointsMin", low), ("pointsMax", high)):
        if value % step:
            check.add(
                ErrorCode.POINTS_OFF_STEP,
                f"{name} must be a multiple of pointsStep ({step}), got {value}",
                ["input", name],
            )
    if terms.cost_points != low:
        check.add(
            ErrorCode.INVALID_POINTS,
            "for PAY_WITH_POINTS costPoints is the smallest spend: it must equal pointsMin",
            ["input", "costPoints"],
        )


def check_points_spend(
    points: int, *, points_min: int, points_max: int, points_step: int
) -> tuple[ErrorCode, str] | None:
    """Why a pay-with-points spend of `points` is refused, or None when it is allowed."""
    if not points_min <= points <= points_max:
        return (
            ErrorCode.POINTS_OUT_OF_RANGE,
            f"points must be between {points_min} and {points_max}, got {points}",
        )
    if points % points_step:
        return ErrorCode.POINTS_OFF_STEP, f"points must be a multiple of {points_step}"
    return None


def discount_for_points(points: int, currency: str, points_per_unit: int) -> int:
    """The discount (minor units, rounded down) that `points` buy at the program's rate."""
    scale: int = 10 ** CURRENCY_EXPONENTS[currency]
    return points * scale // points_per_unit


def code_expires_at(created_at: datetime, valid_days: int | None) -> datetime | None:
    return None if valid_days is None else created_at + timedelta(days=valid_days)


class CodeProblem(StrEnum):
    """Why a code cannot be used now (the checkout's `reason`)."""

    USED = "USED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


def code_problem(
    status: RedemptionStatus, expires_at: datetime | None, now: datetime
) -> CodeProblem | None:
    """A code past its expiry is expired even before the job has marked it."""
    if status is RedemptionStatus.USED:
        return CodeProblem.USED
    if status is RedemptionStatus.CANCELLED:
        return CodeProblem.CANCELLED
    if status is RedemptionStatus.EXPIRED or (expires_at is not None and expires_at <= now):
        return CodeProblem.EXPIRED
    return None
