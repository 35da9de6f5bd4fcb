"""Member tokens and member sessions: a publishable key plus `X-Member-Token` acts as one
customer of one program, and for nothing else.

Every refused token is HTTP 401 before any GraphQL runs, and every refused operation writes
nothing (`everything()` compares every table and balance before and after).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.auth.api_keys import KeyKind
from app.clock import ManualClock, using
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    MEMBER_TOKEN,
    REDEEM,
    create_program,
    create_reward,
    enroll,
    everything,
    grant_points,
    member_token,
    order_input,
    post_as,
    program_key,
    record_order,
    rotate_signing_secret,
)
from tests.graphql.helpers import codes, top_level_codes

ME = """
{
  me {
    id customerId
    points { available lifetimeRedeemed }
    activity(first: 5) { edges { node { kind points } } }
  }
}"""

CREATE_ACTION_RULE = """
mutation($input: CreateActionRuleInput!) {
  createActionRule(input: $input) { rule { id } userErrors { field message code } }
}"""

RECORD_ACTION = """
mutation($input: RecordActionInput!) {
  recordAction(input: $input) {
    pointsEarned alreadyRecorded member { id points { available } }
    userErrors { field message code }
  }
}"""

PREVIEW = """
query($input: PreviewOrderInput!) {
  previewOrderPoints(input: $input) { points baseMinor }
}"""


@dataclass
class Shop:
    """Program `shop` (members A = cust-a and B = cust-b with 300 points each, a reward of 100
    points) and program `other` (its own cust-a)."""

    secret_key: str
    publishable_key: str
    other_publishable_key: str
    a: dict[str, Any]
    b: dict[str, Any]
    other_a: dict[str, Any]
    reward: dict[str, Any]


async def shop(api: Api) -> Shop:
    await create_program(api, "shop")
    await create_program(api, "other")
    a = await enroll(api, "shop", "cust-a")
    b = await enroll(api, "shop", "cust-b")
    other_a = await enroll(api, "other", "cust-a")
    await grant_points(api, a["id"], 300)
    await grant_points(api, b["id"], 300)
    await grant_points(api, other_a["id"], 300)
    return Shop(
        secret_key=await program_key("shop"),
        publishable_key=await program_key("shop", KeyKind.PUBLISHABLE),
        other_publishable_key=await program_key("other", KeyKind.PUBLISHABLE),
        a=a,
        b=b,
        other_a=other_a,
        reward=await create_reward(api, "shop", cost_points=100),
    )


def sign(
    secret: str,
    kid: str | None,
    *,
    program: str = "shop",
    sub: Any = "cust-a",
    iat: Any = None,
    lifetime: int = 600,
    algorithm: str = "HS256",
    **extra: Any,
) -> str:
    """A member token signed the way a store's backend would, with PyJWT."""
    issued = int(time.time()) if iat is None else iat
    claims: dict[str, Any] = {"program": program, "sub": sub, "iat": issued}
    if isinstance(issued, int):
        claims["exp"] = issued + lifetime
    claims.update(extra)
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers)


async def me(api: Api, shop: Shop, token: str) -> dict[str, Any] | None:
    response = await post_as(api, ME, key=shop.publishable_key, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] | None = body["data"]["me"]
    return result


def redeem_input(member_id: str, reward_id: str, key: str = "redeem-1") -> dict[str, Any]:
    return {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": key}}


# --- Tokens -----------------------------------------------------------------------------------


async def test_create_member_token_gives_a_token_that_opens_me(api: Api) -> None:
    s = await shop(api)

    response = await api.post(
        MEMBER_TOKEN,
        {"input": {"programSlug": "shop", "customerId": "cust-a"}},
        key=s.secret_key,
    )
    payload = response.json()["data"]["createMemberToken"]
    token = payload["token"]

    assert payload["userErrors"] == []
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert header["kid"].startswith("ts_")
    assert (claims["program"], claims["sub"]) == ("shop", "cust-a")
    # The program's memberTokenMaxSeconds (900 by default) is the default lifetime.
    assert claims["exp"] - claims["iat"] == 900
    assert datetime.fromisoformat(payload["expiresAt"]).timestamp() == claims["exp"]
    assert abs(claims["iat"] - time.time()) < 5
    assert await me(api, s, token) == {
        "id": s.a["id"],
        "customerId": "cust-a",
        "points": {"available": 300, "lifetimeRedeemed": 0},
        "activity": {"edges": [{"node": {"kind": "ADJUST", "points": 300}}]},
    }

    short = await member_token(api, "cust-b", key=s.secret_key, lifetime_seconds=60)
    short_claims = jwt.decode(short, options={"verify_signature": False})
    assert short_claims["exp"] - short_claims["iat"] == 60
    assert jwt.get_unverified_header(short)["kid"] == header["kid"]
    me_b = await me(api, s, short)
    assert me_b is not None
    assert (me_b["id"], me_b["customerId"]) == (s.b["id"], "cust-b")


async def test_create_member_token_refuses_bad_lifetimes_and_other_programs(api: Api) -> None:
    s = await shop(api)
    await member_token(api, "cust-a", key=s.secret_key)  # makes the first signing secret
    before = await everything()

    async def refused(input: dict[str, Any], key: str | None) -> list[dict[str, Any]]:
        body = await api.data(MEMBER_TOKEN, {"input": input}, key=key)
        payload = body["createMemberToken"]
        assert (payload["token"], payload["expiresAt"]) == (None, None)
        errors: list[dict[str, Any]] = payload["userErrors"]
        return errors

    too_long = await refused(
        {"programSlug": "shop", "customerId": "cust-a", "lifetimeSeconds": 901}, s.secret_key
    )
    too_short = await refused(
        {"programSlug": "shop", "customerId": "cust-a", "lifetimeSeconds": 59}, s.secret_key
    )
    foreign = await refused({"programSlug": "other", "customerId": "cust-a"}, s.secret_key)
    publishable = await refused({"programSlug": "shop", "customerId": "cust-a"}, s.publishable_key)

    assert [(e["field"], e["code"]) for e in too_long] == [
        (["input", "lifetimeSeconds"], "INVALID_VALUE")
    ]
    assert [(e["field"], e["code"]) for e in too_short] == [
        (["input", "lifetimeSeconds"], "INVALID_VALUE")
    ]
    assert codes(foreign) == ["PROGRAM_NOT_FOUND"]
    assert codes(publishable) == ["FORBIDDEN"]
    assert await everything() == before


async def test_a_token_signed_by_the_store_with_the_rotated_secret_works(api: Api) -> None:
    s = await shop(api)
    rotated = await rotate_signing_secret(api, "shop")

    token = sign(rotated["secret"], rotated["keyId"])

    assert rotated["keyId"].startswith("ts_")
    assert len(rotated["secret"]) >= 32
    found = await me(api, s, token)
    assert found is not None
    assert (found["id"], found["customerId"], found["points"]["available"]) == (
        s.a["id"],
        "cust-a",
        300,
    )
    # createMemberToken signs with that same (current) secret.
    made = await member_token(api, "cust-a", key=s.secret_key)
    assert jwt.get_unverified_header(made)["kid"] == rotated["keyId"]
    jwt.decode(made, rotated["secret"], algorithms=["HS256"])


async def test_invalid_tokens_are_refused_with_401_and_nothing_is_written(api: Api) -> None:
    s = await shop(api)
    rotated = await rotate_signing_secret(api, "shop")
    other = await rotate_signing_secret(api, "other")
    secret, kid = rotated["secret"], rotated["keyId"]
    now = int(time.time())
    before = await everything()
    cases = {
        "wrong signature": (sign("x" * 64, kid), "not valid"),
        "unknown kid": (sign(secret, "ts_unknown"), "names no signing secret"),
        "no kid": (sign(secret, None), "names no signing secret"),
        "other program's slug in the claim": (sign(secret, kid, program="other"), "another"),
        "other program's secret and kid": (
            sign(other["secret"], other["keyId"], program="other"),
            "names no signing secret",
        ),
        "other program's secret, this program's claim": (
            sign(other["secret"], other["keyId"]),
            "names no signing secret",
        ),
        "longer than memberTokenMaxSeconds": (sign(secret, kid, lifetime=901), "allows 900"),
        "issued in the future": (sign(secret, kid, iat=now + 120), "future"),
        "expired long ago": (sign(secret, kid, iat=now - 1000, lifetime=300), "expired"),
        "HS512": (sign(secret, kid, algorithm="HS512"), "not valid"),
        "alg none": (
            jwt.encode(
                {"program": "shop", "sub": "cust-a", "iat": now, "exp": now + 60},
                None,
                algorithm="none",
                headers={"kid": kid},
            ),
            "not valid",
        ),
        "no sub": (
            jwt.encode(
                {"program": "shop", "iat": now, "exp": now + 60},
                secret,
                algorithm="HS256",
                headers={"kid": kid},
            ),
            "not valid",
        ),
        "empty sub": (sign(secret, kid, sub=""), "customer id"),
        "sub too long": (sign(secret, kid, sub="c" * 129), "customer id"),
        "exp not an integer": (
            sign(secret, kid, iat=float(now), exp=float(now + 60)),
            "integers",
        ),
        "not a JWT": ("not-a-jwt", "not a JWT"),
        "three garbage parts": ("a.b.c", "not a JWT"),
        "empty": ("", "not a JWT"),
        "too long": ("x" * 5000, "too long"),
    }

    for name, (token, message) in cases.items():
        response = await post_as(
            api,
            REDEEM,
            redeem_input(s.a["id"], s.reward["id"], key=f"r-{name}"),
            key=s.publishable_key,
            token=token,
        )
        assert response.status_code == 401, (name, response.text)
        [error] = response.json()["errors"]
        code = "MEMBER_TOKEN_EXPIRED" if name == "expired long ago" else "INVALID_MEMBER_TOKEN"
        assert error["extensions"]["code"] == code, name
        assert message in error["message"], (name, error["message"])
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]
        assert response.headers["www-authenticate"] == (
            f'Bearer error="invalid_token", error_description="{code}"'
        )
        assert response.headers["x-laurel-error"] == code

    assert await everything() == before


async def test_a_member_token_goes_with_a_publishable_key_only(api: Api) -> None:
    s = await shop(api)
    token = await member_token(api, "cust-a", key=s.secret_key)
    before = await everything()

    for key in (s.secret_key, api.admin_key):
        response = await post_as(
            api, REDEEM, redeem_input(s.a["id"], s.reward["id"]), key=key, token=token
        )
        assert response.status_code == 401, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert error["message"] == "a member token goes with a publishable key"

    # Another program's publishable key does not take this program's token.
    response = await post_as(api, ME, key=s.other_publishable_key, token=token)
    assert response.status_code == 401
    assert top_level_codes(response.json()) == ["INVALID_MEMBER_TOKEN"]
    # And a bad key with a good token is still a bad key.
    response = await post_as(api, ME, key="laurel_pk_nope", token=token)
    assert response.status_code == 401
    assert top_level_codes(response.json()) == ["UNAUTHENTICATED"]
    assert await everything() == before


async def test_a_token_expires_with_thirty_seconds_of_skew(api: Api) -> None:
    s = await shop(api)
    token = await member_token(api, "cust-a", key=s.secret_key, lifetime_seconds=60)
    expires = datetime.fromtimestamp(
        jwt.decode(token, options={"verify_signature": False})["exp"], UTC
    )
    before = await everything()

    with using(ManualClock(expires + timedelta(seconds=29))):
        still = await me(api, s, token)
    with using(ManualClock(expires + timedelta(seconds=30))):
        response = await post_as(
            api,
            REDEEM,
            redeem_input(s.a["id"], s.reward["id"]),
            key=s.publishable_key,
            token=token,
        )

    assert still is not None and still["customerId"] == "cust-a"
    assert response.status_code == 401
    [error] = response.json()["errors"]
    # Told apart from a bad token, in the body and in a header: get a new token and retry.
    assert error["extensions"]["code"] == "MEMBER_TOKEN_EXPIRED"
    assert error["message"] == "the member token has expired: get a new one"
    assert response.headers["x-laurel-error"] == "MEMBER_TOKEN_EXPIRED"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert await everything() == before


async def test_a_rotated_out_secret_works_during_the_overlap_only(api: Api) -> None:
    s = await shop(api)
    old = await rotate_signing_secret(api, "shop", overlap_seconds=3600)
    new = await rotate_signing_secret(api, "shop", overlap_seconds=120)
    retire_at = datetime.fromisoformat(new["previousRetireAt"])

    assert abs(retire_at.timestamp() - (time.time() + 120)) < 5
    assert (await me(api, s, sign(old["secret"], old["keyId"])) or {})["customerId"] == "cust-a"
    assert (await me(api, s, sign(new["secret"], new["keyId"])) or {})["customerId"] == "cust-a"

    with using(ManualClock(retire_at - timedelta(seconds=1))) as clock:
        moment = int(clock.now().timestamp())
        during = await me(api, s, sign(old["secret"], old["keyId"], iat=moment))
    with using(ManualClock(retire_at + timedelta(seconds=1))) as clock:
        moment = int(clock.now().timestamp())
        refused = await post_as(
            api, ME, key=s.publishable_key, token=sign(old["secret"], old["keyId"], iat=moment)
        )
        current = await me(api, s, sign(new["secret"], new["keyId"], iat=moment))

    assert during is not None and during["customerId"] == "cust-a"
    assert refused.status_code == 401
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_MEMBER_TOKEN"
    assert error["message"] == "the member token was signed with a retired secret"
    assert current is not None and current["customerId"] == "cust-a"


async def test_a_shorter_token_limit_applies_to_tokens_already_signed(api: Api) -> None:
    s = await shop(api)
    rotated = await rotate_signing_secret(api, "shop")
    token = sign(rotated["secret"], rotated["keyId"], lifetime=600)
    assert (await me(api, s, token) or {})["customerId"] == "cust-a"

    data = await api.data(
        """mutation($input: UpdateProgramSettingsInput!) {
          updateProgramSettings(input: $input) {
            program { memberTokenMaxSeconds } userErrors { code }
          }
        }""",
        {"input": {"programSlug": "shop", "memberTokenMaxSeconds": 300}},
    )
    assert data["updateProgramSettings"] == {
        "program": {"memberTokenMaxSeconds": 300},
        "userErrors": [],
    }
    # The verifier caches program keys for api_key_cache_seconds; a new kid forces a re-read.
    fresh = await rotate_signing_secret(api, "shop")
    response = await post_as(
        api,
        ME,
        key=s.publishable_key,
        token=sign(fresh["secret"], fresh["keyId"], lifetime=600),
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == (
        "the member token lives 600 s; the program allows 300"
    )
    assert (await me(api, s, sign(fresh["secret"], fresh["keyId"], lifetime=300)) or {})[
        "customerId"
    ] == "cust-a"


async def test_me_is_null_until_the_customer_enrols(api: Api) -> None:
    s = await shop(api)
    token = await member_token(api, "cust-new", key=s.secret_key)

    assert await me(api, s, token) is None

    await enroll(api, "shop", "cust-new")
    found = await me(api, s, token)
    assert found is not None
    assert (found["customerId"], found["points"]["available"]) == ("cust-new", 0)


async def test_me_without_a_member_token_is_forbidden(api: Api) -> None:
    s = await shop(api)

    for key in (s.publishable_key, s.secret_key, api.admin_key):
        response = await post_as(api, ME, key=key)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] == {"me": None}
        [error] = body["errors"]
        assert (error["extensions"]["code"], error["path"]) == ("FORBIDDEN", ["me"])


# --- What a member session may do ------------------------------------------------------------


async def test_a_member_redeems_for_itself_only(api: Api) -> None:
    s = await shop(api)
    other_reward = await create_reward(api, "other", cost_points=100)
    token = await member_token(api, "cust-a", key=s.secret_key)

    before = await everything()
    for member_id, reward_id in (
        (s.b["id"], s.reward["id"]),
        (s.other_a["id"], other_reward["id"]),
        (s.other_a["id"], s.reward["id"]),
    ):
        refused = await post_as(
            api,
            REDEEM,
            redeem_input(member_id, reward_id),
            key=s.publishable_key,
            token=token,
        )
        payload = refused.json()["data"]["redeemReward"]
        assert payload["redemption"] is None
        assert codes(payload["userErrors"]) == ["FORBIDDEN"]
    foreign_reward = await post_as(
        api,
        REDEEM,
        redeem_input(s.a["id"], other_reward["id"]),
        key=s.publishable_key,
        token=token,
    )
    assert codes(foreign_reward.json()["data"]["redeemReward"]["userErrors"]) == [
        "REWARD_NOT_FOUND"
    ]
    assert await everything() == before

    response = await post_as(
        api, REDEEM, redeem_input(s.a["id"], s.reward["id"]), key=s.publishable_key, token=token
    )
    payload = response.json()["data"]["redeemReward"]
    assert payload["userErrors"] == []
    assert payload["redemption"]["pointsSpent"] == 100
    assert payload["redemption"]["member"]["points"] == {
        "available": 200,
        "lifetimeRedeemed": 100,
    }
    me_a = await me(api, s, token)
    assert me_a is not None and me_a["points"]["available"] == 200
    b = await me(api, s, await member_token(api, "cust-b", key=s.secret_key))
    assert b is not None and b["points"]["available"] == 300


async def test_a_member_records_only_self_service_actions_for_itself(api: Api) -> None:
    s = await shop(api)
    for rule in (
        {
            "name": "Newsletter",
            "action": "NEWSLETTER_SIGNUP",
            "points": 25,
            "frequency": "ONCE_EVER",
            "selfService": True,
        },
        {"name": "Review", "action": "PRODUCT_REVIEW", "points": 50, "frequency": "UNLIMITED"},
    ):
        created = await api.data(
            CREATE_ACTION_RULE, {"input": {"programSlug": "shop", "rule": rule}}
        )
        assert created["createActionRule"]["userErrors"] == []
    token = await member_token(api, "cust-a", key=s.secret_key)

    async def record(member_id: str, action: str, key: str, **extra: Any) -> dict[str, Any]:
        response = await post_as(
            api,
            RECORD_ACTION,
            {"input": {"memberId": member_id, "action": action, "idempotencyKey": key, **extra}},
            key=s.publishable_key,
            token=token,
        )
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()["data"]["recordAction"]
        return payload

    before = await everything()
    for_b = await record(s.b["id"], "NEWSLETTER_SIGNUP", "k1")
    not_self_service = await record(s.a["id"], "PRODUCT_REVIEW", "k2", reference="rev-1")
    backdated = await record(
        s.a["id"], "NEWSLETTER_SIGNUP", "k3", occurredAt="2026-01-01T00:00:00+00:00"
    )
    assert await everything() == before

    assert [(e["field"], e["code"]) for e in for_b["userErrors"]] == [(None, "FORBIDDEN")]
    assert [(e["field"], e["code"]) for e in not_self_service["userErrors"]] == [
        (["input", "action"], "FORBIDDEN")
    ]
    assert [(e["field"], e["code"]) for e in backdated["userErrors"]] == [
        (["input", "occurredAt"], "FORBIDDEN")
    ]
    for refused in (for_b, not_self_service, backdated):
        assert (refused["pointsEarned"], refused["member"]) == (0, None)

    signed_up = await record(s.a["id"], "NEWSLETTER_SIGNUP", "k4")
    assert signed_up["userErrors"] == []
    assert (signed_up["pointsEarned"], signed_up["alreadyRecorded"]) == (25, False)
    assert signed_up["member"] == {"id": s.a["id"], "points": {"available": 325}}
    # The store's backend may still report the review for the member.
    review = await api.data(
        RECORD_ACTION,
        {
            "input": {
                "memberId": s.a["id"],
                "action": "PRODUCT_REVIEW",
                "idempotencyKey": "k5",
                "reference": "rev-1",
            }
        },
        key=s.secret_key,
    )
    assert review["recordAction"]["pointsEarned"] == 50


async def test_a_member_token_reads_and_writes_nothing_else(api: Api) -> None:
    s = await shop(api)
    await record_order(api, customer_id="cust-a", order_id="o-1")
    member_a = await api.data(
        "query($id: ID!) { member(id: $id) { activity(first: 1) { edges { node { id } } } } }",
        {"id": s.a["id"]},
    )
    activity_id = member_a["member"]["activity"]["edges"][0]["node"]["id"]
    token = await member_token(api, "cust-a", key=s.secret_key)
    before = await everything()

    # Queries refused with a FORBIDDEN error and a null field.
    forbidden_queries: list[tuple[str, str, dict[str, Any]]] = [
        ("member", "query($id: ID!) { member(id: $id) { id } }", {"id": s.a["id"]}),
        ("member", "query($id: ID!) { member(id: $id) { id } }", {"id": s.b["id"]}),
        (
            "memberByCustomerId",
            'query($c: String!) { memberByCustomerId(programSlug: "shop", customerId: $c) { id } }',
            {"c": "cust-b"},
        ),
        ("node", "query($id: ID!) { node(id: $id) { id } }", {"id": s.b["id"]}),
        ("node", "query($id: ID!) { node(id: $id) { id } }", {"id": s.a["id"]}),
        ("node", "query($id: ID!) { node(id: $id) { id } }", {"id": activity_id}),
        ("events", '{ events(programSlug: "shop") { edges { node { id } } } }', {}),
        ("auditLog", "{ auditLog { edges { node { id } } } }", {}),
        ("earningRules", '{ earningRules(programSlug: "shop") { id } }', {}),
        ("actionRules", '{ actionRules(programSlug: "shop") { id } }', {}),
        ("rewards", '{ rewards(programSlug: "shop", includeInactive: true) { id } }', {}),
        (
            "previewActionPoints",
            "query($id: ID!) { previewActionPoints(memberId: $id, action: PRODUCT_REVIEW) }",
            {"id": s.a["id"]},
        ),
        ("referralSettings", '{ referralSettings(programSlug: "shop") { enabled } }', {}),
        ("referrals", '{ referrals(programSlug: "shop") { edges { node { id } } } }', {}),
    ]
    for field, query, variables in forbidden_queries:
        response = await post_as(api, query, variables, key=s.publishable_key, token=token)
        assert response.status_code == 200, (field, response.text)
        body = response.json()
        assert top_level_codes(body) == ["FORBIDDEN"], (field, variables, body)
        assert body["data"] is None or body["data"].get(field) is None, (field, body)

    mutations: list[tuple[str, str, dict[str, Any]]] = [
        (
            "adjustPoints",
            ADJUST,
            {
                "memberId": s.a["id"],
                "points": 1000,
                "reason": "self-service",
                "idempotencyKey": "adj",
            },
        ),
        ("recordOrder", RECORD_ORDER_ID, order_input(customer_id="cust-a", order_id="o-2")),
        (
            "refundOrder",
            "mutation($input: RefundOrderInput!) { refundOrder(input: $input)"
            " { pointsReversed userErrors { code } } }",
            {"programSlug": "shop", "orderId": "o-1", "idempotencyKey": "ref"},
        ),
        ("createMemberToken", MEMBER_TOKEN, {"programSlug": "shop", "customerId": "cust-b"}),
        (
            "enrollMember",
            "mutation($input: EnrollMemberInput!) { enrollMember(input: $input)"
            " { member { id } userErrors { code } } }",
            {"programSlug": "shop", "customerId": "cust-c"},
        ),
        (
            "setMemberOptOut",
            "mutation($input: SetMemberOptOutInput!) { setMemberOptOut(input: $input)"
            " { member { id } userErrors { code } } }",
            {"memberId": s.a["id"], "optedOut": True},
        ),
        (
            "reportOrderProgress",
            "mutation($input: ReportOrderProgressInput!) { reportOrderProgress(input: $input)"
            " { order { id } userErrors { code } } }",
            {"programSlug": "shop", "orderId": "o-1", "paidAt": "2026-11-21T10:00:00+00:00"},
        ),
        (
            "updateProgramSettings",
            "mutation($input: UpdateProgramSettingsInput!) { updateProgramSettings(input: $input)"
            " { program { id } userErrors { code } } }",
            {"programSlug": "shop", "corsOrigins": ["https://evil.example"]},
        ),
        (
            "rotateTokenSigningSecret",
            "mutation($input: RotateTokenSigningSecretInput!) {"
            " rotateTokenSigningSecret(input: $input) { secret userErrors { code } } }",
            {"programSlug": "shop"},
        ),
        (
            "createReward",
            "mutation($input: CreateRewardInput!) { createReward(input: $input)"
            " { reward { id } userErrors { code } } }",
            {
                "programSlug": "shop",
                "name": "Free",
                "kind": "FREE_PRODUCT",
                "costPoints": 1,
                "skus": ["FREE"],
            },
        ),
    ]
    for field, mutation, input in mutations:
        response = await post_as(
            api, mutation, {"input": input}, key=s.publishable_key, token=token
        )
        assert response.status_code == 200, (field, response.text)
        body = response.json()
        assert "errors" not in body, (field, body)
        assert codes(body["data"][field]["userErrors"]) == ["FORBIDDEN"], (field, body)

    assert await everything() == before

    # What a member session may read: the public program and what a cart would earn.
    preview = await post_as(
        api,
        PREVIEW,
        {
            "input": {
                "programSlug": "shop",
                "currency": "EUR",
                "lines": [{"sku": "S", "category": "c", "quantity": 2, "unitPriceMinor": 1250}],
            }
        },
        key=s.publishable_key,
        token=token,
    )
    assert preview.json() == {"data": {"previewOrderPoints": {"points": 25, "baseMinor": 2500}}}
    foreign_preview = await post_as(
        api,
        PREVIEW,
        {
            "input": {
                "programSlug": "other",
                "currency": "EUR",
                "lines": [{"sku": "S", "category": "c", "quantity": 1, "unitPriceMinor": 100}],
            }
        },
        key=s.publishable_key,
        token=token,
    )
    assert top_level_codes(foreign_preview.json()) == ["PROGRAM_NOT_FOUND"]
    programs = await post_as(api, "{ programs { slug } }", key=s.publishable_key, token=token)
    assert programs.json() == {"data": {"programs": [{"slug": "shop"}]}}
    assert await everything() == before


RECORD_ORDER_ID = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) { order { id } userErrors { code } }
}"""


REFERRAL_SETTINGS = """
mutation($input: UpdateReferralSettingsInput!) {
  updateReferralSettings(input: $input) { userErrors { field message code } }
}"""


def dig(body: dict[str, Any], *path: str | int) -> Any:
    """The value at `path` in a response body, or None where the path stops."""
    value: Any = body
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value


async def test_me_does_not_lead_to_another_members_data(api: Api) -> None:
    s = await shop(api)
    configured = await api.data(
        REFERRAL_SETTINGS,
        {
            "input": {
                "programSlug": "shop",
                "enabled": True,
                "urlTemplate": "https://shop.test/invite/{code}",
                "referrer": {"points": 500, "trigger": "FIRST_ORDER"},
                "friend": {"points": 100, "trigger": "SIGNUP"},
            }
        },
    )
    assert configured["updateReferralSettings"]["userErrors"] == []
    code = (
        await api.data("query($id: ID!) { member(id: $id) { referralCode } }", {"id": s.a["id"]})
    )["member"]["referralCode"]
    friend = await api.data(
        "mutation($input: EnrollMemberInput!) { enrollMember(input: $input)"
        " { member { id } userErrors { code } } }",
        {
            "input": {
                "programSlug": "shop",
                "customerId": "cust-friend",
                "email": "friend@example.org",
                "referralCode": code,
            }
        },
    )
    assert friend["enrollMember"]["userErrors"] == []
    token_a = await member_token(api, "cust-a", key=s.secret_key)
    token_friend = await member_token(api, "cust-friend", key=s.secret_key)

    as_referrer = await post_as(
        api,
        "{ me { referrals { edges { node { friend { email points { available } } } } } } }",
        key=s.publishable_key,
        token=token_a,
    )
    as_friend = await post_as(
        api,
        "{ me { referredBy { referrer { customerId points { available } } } } }",
        key=s.publishable_key,
        token=token_friend,
    )

    assert dig(as_referrer.json(), "data", "me", "referrals", "edges", 0, "node", "friend") is None
    assert dig(as_friend.json(), "data", "me", "referredBy", "referrer") is None


async def test_me_lists_the_rewards_the_member_can_redeem_now(api: Api) -> None:
    shop_ = await shop(api)
    await create_reward(api, "shop", cost_points=250, name="Scarf")
    await create_reward(api, "shop", cost_points=400, name="Jacket")
    await create_reward(api, "shop", cost_points=50, stock=0, name="Sold out mug")
    await create_reward(api, "shop", cost_points=10, active=False, name="Retired pin")
    token = await member_token(api, "cust-a")
    query = "{ me { availableRewards { name costPoints } } }"

    response = await post_as(api, query, key=shop_.publishable_key, token=token)

    assert response.json()["data"]["me"]["availableRewards"] == [
        {"name": "Tote bag", "costPoints": 100},
        {"name": "Scarf", "costPoints": 250},
    ]


async def test_a_members_idempotency_keys_live_apart_from_the_stores(api: Api) -> None:
    shop_ = await shop(api)
    token = await member_token(api, "cust-a")
    variables = redeem_input(shop_.a["id"], shop_.reward["id"], key="order-1001")

    by_member = await post_as(api, REDEEM, variables, key=shop_.publishable_key, token=token)
    by_store = await post_as(api, REDEEM, variables, key=shop_.secret_key)

    # The store's request with the same key is its own redemption, not the member's replayed.
    first = by_member.json()["data"]["redeemReward"]
    second = by_store.json()["data"]["redeemReward"]
    assert first["userErrors"] == [] and second["userErrors"] == []
    assert first["redemption"]["code"] != second["redemption"]["code"]
    assert second["redemption"]["member"]["points"]["available"] == 100


async def test_a_new_token_comes_with_its_member(api: Api) -> None:
    s = await shop(api)
    document = (
        "mutation($input: CreateMemberTokenInput!) { createMemberToken(input: $input) {"
        " token member { id customerId } userErrors { code } } }"
    )

    enrolled = await api.data(document, {"input": {"programSlug": "shop", "customerId": "cust-a"}})
    stranger = await api.data(
        document, {"input": {"programSlug": "shop", "customerId": "not-enrolled"}}
    )

    assert enrolled["createMemberToken"]["member"] == {"id": s.a["id"], "customerId": "cust-a"}
    assert stranger["createMemberToken"]["member"] is None
    assert stranger["createMemberToken"]["token"]
