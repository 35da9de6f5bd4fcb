"""Plain async factories over the API: each returns what it made, nothing hidden."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.auth.api_keys import KeyKind
from app.services.access.api_keys import create_api_key, set_rate_limit
from tests.graphql.conftest import Api
from tests.graphql.helpers import rows, snapshot

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
    """A key of the program without the general rate limit in the way (tests fire many
    requests; the limits have tests of their own)."""
    created = await create_api_key(kind, slug, f"{kind} key of {slug}")
    await set_rate_limit(created.id, 100_000.0, 100_000)
    return created.secret


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
                "skus": ["TOTE-BAG"],
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
                "description": "test credit",
                "idempotencyKey": key or f"grant-{uuid.uuid4()}",
            }
        },
    )
    assert data["adjustPoints"]["userErrors"] == []


async def member_status(api: Api, member_id: str) -> dict[str, Any]:
    data = await api.data(MEMBER, {"id": member_id})
    member: dict[str, Any] = data["member"]
    return member


# --- Member tokens, program settings and raw posts (member access and hardening tests) -------

MEMBER_TOKEN = """
mutation($input: CreateMemberTokenInput!) {
  createMemberToken(input: $input) {
    token expiresAt
    userErrors { field message code }
  }
}"""

ROTATE_SECRET = """
mutation($input: RotateTokenSigningSecretInput!) {
  rotateTokenSigningSecret(input: $input) {
    keyId secret previousRetireAt
    userErrors { field message code }
  }
}"""

UPDATE_SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) {
    program { slug name corsOrigins corsAllowedHeaders trustedDocumentsOnly memberTokenMaxSeconds }
    userErrors { field message code }
  }
}"""


async def member_token(
    api: Api,
    customer_id: str,
    program_slug: str = "shop",
    *,
    key: str | None = None,
    lifetime_seconds: int | None = None,
) -> str:
    """A token from `createMemberToken` (admin key unless `key` is given)."""
    data = await api.data(
        MEMBER_TOKEN,
        {
            "input": {
                "programSlug": program_slug,
                "customerId": customer_id,
                "lifetimeSeconds": lifetime_seconds,
            }
        },
        key=key,
    )
    payload = data["createMemberToken"]
    assert payload["userErrors"] == [], payload
    token: str = payload["token"]
    return token


async def rotate_signing_secret(
    api: Api, program_slug: str = "shop", overlap_seconds: int = 3600
) -> dict[str, Any]:
    """`{keyId, secret, previousRetireAt}` of a new token-signing secret."""
    data = await api.data(
        ROTATE_SECRET, {"input": {"programSlug": program_slug, "overlapSeconds": overlap_seconds}}
    )
    payload: dict[str, Any] = data["rotateTokenSigningSecret"]
    assert payload["userErrors"] == [], payload
    return payload


async def update_program_settings(
    api: Api, program_slug: str = "shop", **fields: Any
) -> dict[str, Any]:
    data = await api.data(UPDATE_SETTINGS, {"input": {"programSlug": program_slug, **fields}})
    payload: dict[str, Any] = data["updateProgramSettings"]
    assert payload["userErrors"] == [], payload
    program: dict[str, Any] = payload["program"]
    return program


async def post_as(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A GraphQL POST with `key`, an optional member token and extra headers."""
    sent = {"Authorization": f"Bearer {key}", **(headers or {})}
    if token is not None:
        sent["X-Member-Token"] = token
    return await api.http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
    )


ALL_TABLES = (
    "action_records",
    "action_rules",
    "api_keys",
    "audit_log",
    "earning_rules",
    "expiry_warnings",
    "idempotency_records",
    "ledger_entries",
    "ledger_transactions",
    "member_signals",
    "members",
    "membership_firsts",
    "membership_plans",
    "memberships",
    "member_tiers",
    "orders",
    "outbox_events",
    "point_lots",
    "programs",
    "punch_card_progress",
    "punch_card_punches",
    "punch_card_rewards",
    "punch_cards",
    "redemptions",
    "referral_codes",
    "referral_rewards",
    "referral_settings",
    "referrals",
    "rewards",
    "experiments",
    "experiment_variants",
    "experiment_subjects",
    "experiment_effects",
    "segments",
    "segment_versions",
    "segment_members",
    "challenges",
    "challenge_progress",
    "challenge_contributions",
    "badges",
    "member_badges",
    "store_credit_movements",
    "tier_changes",
    "tier_entry_grants",
    "tier_assignments",
    "tier_settings",
    "tiers",
    "token_signing_secrets",
)


async def everything() -> dict[str, Any]:
    """`helpers.snapshot()` plus the row count of every table, to prove nothing was written."""
    counts: dict[str, int] = {}
    for table in ALL_TABLES:
        counts[table] = int((await rows(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"])
    return {**await snapshot(), "all_counts": counts}
