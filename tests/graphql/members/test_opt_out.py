"""setMemberOptOut: an opted-out member earns nothing, keeps its balances and may redeem."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.api_keys import KeyKind
from app.services.actions import service as actions_service
from app.services.ledger.verify import verify_ledger
from tests.graphql.actions.test_actions import action_rule, record
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    member_status,
    order_input,
    program_key,
)
from tests.graphql.helpers import codes, global_id, rows, snapshot

OPT_OUT = """
mutation($input: SetMemberOptOutInput!) {
  setMemberOptOut(input: $input) {
    member { id optedOut optedOutAt points { available } }
    userErrors { field message code }
  }
}"""

RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order {
      pointsEarned
      earning {
        points baseMinor noPointsReason
        lines { index baseMinor points components { source } }
      }
    }
    userErrors { field message code }
  }
}"""

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { pointsReversed userErrors { code } }
}"""


async def opt_out(
    api: Api,
    member_id: str,
    opted_out: bool,
    idempotency_key: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {"memberId": member_id, "optedOut": opted_out}
    if idempotency_key is not None:
        values["idempotencyKey"] = idempotency_key
    data = await api.data(OPT_OUT, {"input": values}, key=api_key)
    payload: dict[str, Any] = data["setMemberOptOut"]
    return payload


async def order(api: Api, **overrides: Any) -> dict[str, Any]:
    data = await api.data(RECORD_ORDER, {"input": order_input(**overrides)})
    assert data["recordOrder"]["userErrors"] == []
    result: dict[str, Any] = data["recordOrder"]["order"]
    return result


async def test_an_opted_out_member_earns_nothing_from_orders(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 40)

    out = await opt_out(api, member["id"], True)
    recorded = await order(api)

    assert out["userErrors"] == []
    assert out["member"]["optedOut"] is True
    assert out["member"]["optedOutAt"] is not None
    assert out["member"]["points"]["available"] == 40
    assert recorded["pointsEarned"] == 0
    assert recorded["earning"] == {
        "points": 0,
        "baseMinor": 2500,
        "noPointsReason": "MEMBER_OPTED_OUT",
        "lines": [{"index": 0, "baseMinor": 2500, "points": 0, "components": []}],
    }
    assert (await member_status(api, member["id"]))["points"]["available"] == 40
    refunded = await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r"}}
    )
    assert refunded["refundOrder"] == {"pointsReversed": 0, "userErrors": []}

    back = await opt_out(api, member["id"], False)
    again = await order(api, order_id="order-2")

    assert (back["member"]["optedOut"], back["member"]["optedOutAt"]) == (False, None)
    assert again["pointsEarned"] == 25
    assert again["earning"]["noPointsReason"] is None
    assert (await member_status(api, member["id"]))["points"]["available"] == 65
    assert await verify_ledger() == []


async def test_an_opted_out_member_cannot_earn_from_actions_but_may_redeem(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api)
    await grant_points(api, member["id"], 100)
    reward = await create_reward(api, cost_points=60)
    await opt_out(api, member["id"], True)
    before = await snapshot()

    refused = await record(api, member["id"], "k1", reference="review-1")

    assert codes(refused["userErrors"]) == ["MEMBER_OPTED_OUT"]
    assert refused["userErrors"][0]["field"] == ["input", "memberId"]
    assert await snapshot() == before
    preview = await api.gql(
        "query($m: ID!) { previewActionPoints(memberId: $m, action: PRODUCT_REVIEW) }",
        {"m": member["id"]},
    )
    assert preview["errors"][0]["extensions"]["code"] == "MEMBER_OPTED_OUT"

    redeemed = await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}},
    )
    assert redeemed["redeemReward"]["userErrors"] == []
    assert redeemed["redeemReward"]["redemption"]["member"]["points"]["available"] == 40


async def test_opting_out_is_idempotent_and_keyed_requests_replay(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    first = await opt_out(api, member["id"], True, idempotency_key="k")
    before = await snapshot()

    replay = await opt_out(api, member["id"], True, idempotency_key="k")
    reused = await opt_out(api, member["id"], False, idempotency_key="k")
    unkeyed = await opt_out(api, member["id"], True)

    assert replay["member"] == first["member"]
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    assert unkeyed["member"]["optedOutAt"] == first["member"]["optedOutAt"]
    assert await snapshot() == before


async def test_who_may_set_the_opt_out(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    member = await enroll(api)
    secret = await program_key("shop")
    other_secret = await program_key("other")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    by_secret = await opt_out(api, member["id"], True, api_key=secret)
    by_other = await opt_out(api, member["id"], False, api_key=other_secret)
    by_publishable = await opt_out(api, member["id"], False, api_key=publishable)
    unknown = await opt_out(api, global_id("Member", 999), True)

    assert by_secret["member"]["optedOut"] is True
    assert codes(by_other["userErrors"]) == ["MEMBER_NOT_FOUND"]
    assert codes(by_publishable["userErrors"]) == ["FORBIDDEN"]
    assert codes(unknown["userErrors"]) == ["MEMBER_NOT_FOUND"]


async def test_an_opt_out_committed_while_an_action_is_checked_stops_its_award(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api)
    real_require_member = actions_service.require_member  # type: ignore[attr-defined]

    async def read_then_opt_out(*args: Any, **kwargs: Any) -> Any:
        # The action has read the member (not opted out yet); the opt-out commits right after.
        read = await real_require_member(*args, **kwargs)
        await opt_out(api, member["id"], True)
        return read

    monkeypatch.setattr(actions_service, "require_member", read_then_opt_out)
    before_points = await rows("SELECT points_available FROM members")

    refused = await record(api, member["id"], "k1", reference="review-1")

    assert codes(refused["userErrors"]) == ["MEMBER_OPTED_OUT"]
    assert await rows("SELECT points_available FROM members") == before_points
    assert await rows("SELECT id FROM action_records") == []
