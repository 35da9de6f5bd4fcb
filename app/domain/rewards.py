"""Reward kinds and redemption codes."""

from __future__ import annotations

import secrets
from enum import StrEnum


class RewardKind(StrEnum):
    FIXED_DISCOUNT = "FIXED_DISCOUNT"
    PERCENT_DISCOUNT = "PERCENT_DISCOUNT"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"
    CUSTOM = "CUSTOM"


class RewardUnavailable(StrEnum):
    """Why a reward given to a member (not bought) could not be given."""

    OUT_OF_STOCK = "OUT_OF_STOCK"
    REWARD_INACTIVE = "REWARD_INACTIVE"


class RedemptionStatus(StrEnum):
    ISSUED = "ISSUED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


# Crockford's base32 without I, L, O and U: nothing a shopper can misread when typing it.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_RANDOM_CHARACTERS = 16


def new_redemption_code() -> str:
    """16 random characters (80 bits) in groups of four, e.g. `7K2M-QX9D-...`."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_RANDOM_CHARACTERS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_RANDOM_CHARACTERS, 4))
