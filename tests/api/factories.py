"""Plain async factories over the API: each returns what it made, nothing hidden."""

from __future__ import annotations

import uuid
from typing import Any

from app.auth.api_keys import KeyKind
from app.services.api_keys import create_api_key
from tests.api.conftest import Api

CREATE_PROGRAM = """
mutation($input: CreateProgramInput!) {
  createProgram(input: $input) {
    program { id slug currency pointsPerCurrencyUnit }
    userErrors { field message code }
  }
}"""

CREATE_REWARD = """
mutation($input: CreateRewardInput!) {
  createReward(input: $input) {
    reward { id name costPoints stock active }
    userErrors { field message code }
  }
}"""

ENROLL = """
mutation($input: EnrollMemberInput!) {
  enrollMember(input: $input) {
    member {
      id customerId email name birthday
      points { available pending lifetimeEarned lifetimeRedeemed }
    }
    userErrors { field message code }
  }
}"""

RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id orderId pointsEarned totalMinor currency member { id points { available } } }
    alreadyRecorded
    userErrors { field message code }
  }
}"""

REDEEM = """
mutation($input: RedeemRewardInput!) {
  redeemReward(input: $input) {
    redemption { id code pointsSpent status member { points { available lifetimeRedeemed } } }
    userErrors { field message code }
  }
}"""

ADJUST = """
mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    member { id points { available pending lifetimeEarned lifetimeRedeemed } }
    userErrors { field message code }
  }
}"""

MEMBER = """
query($id: ID!) {
  member(id: $id) {
    id customerId
    points { available pending lifetimeEarned lifetimeRedeemed }
    activity(first: 10) {
      edges { cursor node { kind points description orderId } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""


async def create_program(
    api: Api,
    slug: str = "shop",
    currency: str = "EUR",
    points_per_currency_unit: int = 1,
    **settings: Any,
) -> dict[str, Any]:
    data = await api.data(
        CREATE_PROGRAM,
        {
            "input": {
                "slug": slug,
                "name": f"{slug} rewards",
                "currency": currency,
                "pointsPerCurrencyUnit": points_per_currency_unit,
                **settings,
            }
        },
    )
    assert data["createProgram"]["userErrors"] == []
    program: dict[str, Any] = data["createProgram"]["program"]
    return program


async def program_key(slug: str, kind: KeyKind = KeyKind.SECRET) -> str:
    return (await create_api_key(kind, slug, f"{kind} key of {slug}")).secret


async def create_reward(
    api: Api,
    program_slug: str = "shop",
    cost_points: int = 100,
    stock: int | None = None,
    active: bool = True,
    name: str = "Tote bag",
) -> dict[str, Any]:
    data = await api.data(
        CREATE_REWARD,
        {
            "input": {
                "programSlug": program_slug,
                "name": name,
                "kind": "FREE_PRODUCT",
                "costPoints": cost_points,
                "stock": stock,
                "active": active,
            }
        },
    )
    assert data["createReward"]["userErrors"] == []
    reward: dict[str, Any] = data["createReward"]["reward"]
    return reward


async def enroll(
    api: Api, program_slug: str = "shop", customer_id: str = "cust-1", **fields: Any
) -> dict[str, Any]:
    data = await api.data(
        ENROLL, {"input": {"programSlug": program_slug, "customerId": customer_id, **fields}}
    )
    assert data["enrollMember"]["userErrors"] == []
    member: dict[str, Any] = data["enrollMember"]["member"]
    return member


def order_input(
    order_id: str = "order-1",
    customer_id: str = "cust-1",
    program_slug: str = "shop",
    unit_price_minor: int = 1250,
    quantity: int = 2,
    currency: str = "EUR",
    **overrides: Any,
) -> dict[str, Any]:
    """A consistent order: the total is the lines' sum unless overridden."""
    values: dict[str, Any] = {
        "programSlug": program_slug,
        "customerId": customer_id,
        "orderId": order_id,
        "currency": currency,
        "totalMinor": unit_price_minor * quantity,
        "lines": [
            {
                "sku": "SKU-1",
                "category": "shoes",
                "quantity": quantity,
                "unitPriceMinor": unit_price_minor,
            }
        ],
        "placedAt": "2026-11-20T10:00:00+00:00",
    }
    values.update(overrides)
    return values


async def record_order(api: Api, **overrides: Any) -> dict[str, Any]:
    data = await api.data(RECORD_ORDER, {"input": order_input(**overrides)})
    result: dict[str, Any] = data["recordOrder"]
    return result


async def grant_points(api: Api, member_id: str, points: int, key: str | None = None) -> None:
    data = await api.data(
        ADJUST,
        {
            "input": {
                "memberId": member_id,
                "points": points,
                "reason": "test credit",
                "idempotencyKey": key or f"grant-{uuid.uuid4()}",
            }
        },
    )
    assert data["adjustPoints"]["userErrors"] == []


async def member_status(api: Api, member_id: str) -> dict[str, Any]:
    data = await api.data(MEMBER, {"id": member_id})
    member: dict[str, Any] = data["member"]
    return member
