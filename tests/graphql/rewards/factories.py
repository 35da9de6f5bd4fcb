"""Documents and factories for the reward catalogue and redemption-code tests."""

from __future__ import annotations

from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.helpers import rows, snapshot

REWARD_FIELDS = """
  id name kind costPoints valueMinor currency stock active minimumOrderMinor percentOff
  maxValueMinor skus categories charityName pointsMin pointsMax pointsStep perMemberLimit
  limitPeriod startsAt endsAt retiredAt codeSource codeValidDays imageUrls requiredTiers
  requiredSegments
"""

CREATE = f"""
mutation($input: CreateRewardInput!) {{
  createReward(input: $input) {{
    reward {{ {REWARD_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

UPDATE = f"""
mutation($input: UpdateRewardInput!) {{
  updateReward(input: $input) {{
    reward {{ {REWARD_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

RETIRE = """
mutation($input: RetireRewardInput!) {
  retireReward(input: $input) {
    reward { id retiredAt }
    userErrors { field message code }
  }
}"""

REDEMPTION_FIELDS = """
  id code pointsSpent status source valueMinor currency charityName expiresAt usedAt orderId
  cancelledAt expiredAt member { id customerId } reward { id name kind }
"""

REDEEM = f"""
mutation($input: RedeemRewardInput!) {{
  redeemReward(input: $input) {{
    redemption {{ {REDEMPTION_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

VALIDATE = f"""
query($slug: String!, $code: String!) {{
  validateRedemptionCode(programSlug: $slug, code: $code) {{
    code usable reason redemption {{ {REDEMPTION_FIELDS} }}
  }}
}}"""

MARK_USED = """
mutation($input: MarkRedemptionUsedInput!) {
  markRedemptionUsed(input: $input) {
    redemption { id code status orderId usedAt }
    alreadyUsed
    userErrors { field message code }
  }
}"""

CANCEL = """
mutation($input: CancelRedemptionInput!) {
  cancelRedemption(input: $input) {
    redemption { id status cancelledAt source }
    userErrors { field message code }
  }
}"""

UPLOAD = """
mutation($input: UploadRewardCodesInput!) {
  uploadRewardCodes(input: $input) {
    added duplicates available
    userErrors { field message code }
  }
}"""

SETTINGS = """
mutation($input: UpdateRedemptionSettingsInput!) {
  updateRedemptionSettings(input: $input) {
    settings { expiredCodesReturnPoints pointsPerCurrencyUnit }
    userErrors { field message code }
  }
}"""

MEMBER_POINTS = """
query($id: ID!) {
  member(id: $id) { points { available pending lifetimeEarned lifetimeRedeemed } }
}"""


def reward_input(**overrides: Any) -> dict[str, Any]:
    """A FIXED_DISCOUNT of 5.00 for 100 points, unless overridden."""
    values: dict[str, Any] = {
        "programSlug": "shop",
        "name": "Five off",
        "kind": "FIXED_DISCOUNT",
        "costPoints": 100,
        "valueMinor": 500,
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


async def make_reward(api: Api, **overrides: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": reward_input(**overrides)})
    payload = data["createReward"]
    assert payload["userErrors"] == [], payload
    reward: dict[str, Any] = payload["reward"]
    return reward


async def redeem(
    api: Api,
    member_id: str,
    reward_id: str,
    key: str = "redeem-1",
    *,
    points: int | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "memberId": member_id,
        "rewardId": reward_id,
        "idempotencyKey": key,
    }
    if points is not None:
        variables["points"] = points
    data = await api.data(REDEEM, {"input": variables}, key=api_key)
    payload: dict[str, Any] = data["redeemReward"]
    return payload


async def redeemed(api: Api, member_id: str, reward_id: str, key: str = "r-1") -> dict[str, Any]:
    payload = await redeem(api, member_id, reward_id, key)
    assert payload["userErrors"] == [], payload
    redemption: dict[str, Any] = payload["redemption"]
    return redemption


async def mark_used(
    api: Api, code: str, order_id: str, *, slug: str = "shop", key: str | None = None
) -> dict[str, Any]:
    data = await api.data(
        MARK_USED,
        {"input": {"programSlug": slug, "code": code, "orderId": order_id}},
        key=key,
    )
    payload: dict[str, Any] = data["markRedemptionUsed"]
    return payload


async def cancel(api: Api, redemption_id: str, *, key: str | None = None) -> dict[str, Any]:
    data = await api.data(CANCEL, {"input": {"id": redemption_id}}, key=key)
    payload: dict[str, Any] = data["cancelRedemption"]
    return payload


async def points_of(api: Api, member_id: str) -> dict[str, Any]:
    points: dict[str, Any] = (await api.data(MEMBER_POINTS, {"id": member_id}))["member"]["points"]
    return points


async def catalogue_state() -> dict[str, Any]:
    """`snapshot()` plus every redemption's state and every pool code, to prove a refused
    request wrote nothing."""
    return {
        **await snapshot(),
        "redemptions": await rows("SELECT id, status, points_spent FROM redemptions ORDER BY id"),
        "codes": await rows("SELECT id, code, redemption_id FROM reward_codes ORDER BY id"),
        "settings": await rows("SELECT * FROM redemption_settings ORDER BY id"),
    }
