"""Punch cards: qualifying purchases punch, full cards give their reward, refunds take back."""

from __future__ import annotations

import asyncio
from typing import Any

from app.auth.api_keys import KeyKind
from app.db import from_json
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    RECORD_ORDER,
    create_program,
    create_reward,
    enroll,
    everything,
    member_token,
    order_input,
    post_as,
    program_key,
)
from tests.graphql.helpers import codes, global_id, pk_of, rows
from tests.graphql.rewards.factories import mark_used

CARD_FIELDS = """
    id name punchesNeeded skus categories minimumQuantity minimumPer active retiredAt
    reward { id name }
"""
CREATE = f"""
mutation($input: CreatePunchCardInput!) {{
  createPunchCard(input: $input) {{ punchCard {{ {CARD_FIELDS} }} userErrors {{ field code }} }}
}}"""
UPDATE = f"""
mutation($input: UpdatePunchCardInput!) {{
  updatePunchCard(input: $input) {{ punchCard {{ {CARD_FIELDS} }} userErrors {{ field code }} }}
}}"""
RETIRE = f"""
mutation($input: RetirePunchCardInput!) {{
  retirePunchCard(input: $input) {{ punchCard {{ {CARD_FIELDS} }} userErrors {{ field code }} }}
}}"""
SETTINGS = """
mutation($input: UpdatePunchCardSettingsInput!) {
  updatePunchCardSettings(input: $input) { settings { refundPolicy } userErrors { code } }
}"""
CARDS = """
query($id: ID!) {
  member(id: $id) {
    punchCards { card { id name active } punches punchesNeeded rewardsEarned }
    points { available lifetimeEarned lifetimeRedeemed }
  }
}"""
REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { order { status } userErrors { code } }
}"""
OPT_OUT = """
mutation($input: SetMemberOptOutInput!) {
  setMemberOptOut(input: $input) { member { optedOut } userErrors { code } }
}"""


async def create_card(
    api: Api, reward_id: str, *, key: str | None = None, **fields: Any
) -> dict[str, Any]:
    values = {
        "programSlug": "shop",
        "name": "Coffee card",
        "rewardId": reward_id,
        "punchesNeeded": 3,
        "skus": ["COFFEE"],
        **fields,
    }
    payload: dict[str, Any] = (await api.data(CREATE, {"input": values}, key=key))[
        "createPunchCard"
    ]
    return payload


async def set_policy(api: Api, policy: str) -> None:
    data = await api.data(SETTINGS, {"input": {"programSlug": "shop", "refundPolicy": policy}})
    assert data["updatePunchCardSettings"]["userErrors"] == []


def line(sku: str, quantity: int = 1, category: str | None = None) -> dict[str, Any]:
    return {"sku": sku, "category": category, "quantity": quantity, "unitPriceMinor": 300}


async def buy(api: Api, order_id: str, *lines: dict[str, Any], customer_id: str = "cust-1") -> Any:
    total = sum(item["quantity"] * item["unitPriceMinor"] for item in lines)
    data = await api.data(
        RECORD_ORDER,
        {
            "input": order_input(
                order_id=order_id, customer_id=customer_id, lines=list(lines), totalMinor=total
            )
        },
    )
    assert data["recordOrder"]["userErrors"] == [], data
    return data["recordOrder"]


async def refund(api: Api, order_id: str, key: str, **fields: Any) -> None:
    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": order_id, "idempotencyKey": key, **fields}},
    )
    assert data["refundOrder"]["userErrors"] == [], data


async def cards_of(api: Api, member_id: str) -> dict[str, Any]:
    member: dict[str, Any] = (await api.data(CARDS, {"id": member_id}))["member"]
    return member


def progress(member: dict[str, Any]) -> list[tuple[str, int, int, int]]:
    return [
        (c["card"]["name"], c["punches"], c["punchesNeeded"], c["rewardsEarned"])
        for c in member["punchCards"]
    ]


async def shop(api: Api, **card: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Program `shop`, member cust-1, a free coffee reward (50 points) and a punch card."""
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=50, name="Free coffee")
    created = await create_card(api, reward["id"], **card)
    assert created["userErrors"] == []
    return member, reward, created["punchCard"]


async def redemptions() -> list[dict[str, Any]]:
    return await rows("SELECT member_id, reward_id, status FROM redemptions ORDER BY id")


async def test_qualifying_lines_punch_and_a_full_card_gives_its_reward(api: Api) -> None:
    member, reward, _ = await shop(api, categories=["beans"])

    await buy(api, "order-1", line("COFFEE"), line("TEA", category="drinks"))
    after_one = await cards_of(api, member["id"])
    await buy(api, "order-2", line("COFFEE"), line("BEANS-1", category="beans"), line("COFFEE", 2))
    after_two = await cards_of(api, member["id"])

    assert progress(after_one) == [("Coffee card", 1, 3, 0)]
    # Three more punches: a full card (its reward given) and one carried to the next card.
    assert progress(after_two) == [("Coffee card", 1, 3, 1)]
    assert await redemptions() == [
        {"member_id": pk_of(member["id"]), "reward_id": pk_of(reward["id"]), "status": "ISSUED"}
    ]
    # The reward's cost is earned and redeemed at once: the balance is only the orders' points.
    assert after_two["points"]["lifetimeRedeemed"] == 50
    assert after_two["points"]["lifetimeEarned"] == after_two["points"]["available"] + 50
    events = await rows("SELECT type FROM outbox_events WHERE type LIKE 'punch_card.%' ORDER BY id")
    assert [e["type"] for e in events] == [
        "punch_card.created",
        "punch_card.punched",
        "punch_card.punched",
        "punch_card.completed",
    ]
    punches = await rows("SELECT line_index FROM punch_card_punches ORDER BY id")
    assert [p["line_index"] for p in punches] == [0, 0, 1, 2]
    assert await verify_ledger() == []


async def test_minimum_quantity_counts_per_line_or_per_order(api: Api) -> None:
    member, reward, _ = await shop(api, name="Per line", minimumQuantity=2, punchesNeeded=10)
    per_order = await create_card(
        api,
        reward["id"],
        name="Per order",
        minimumQuantity=2,
        minimumPer="ORDER",
        punchesNeeded=10,
    )
    assert per_order["userErrors"] == []

    await buy(api, "order-1", line("COFFEE"), line("COFFEE"))
    await buy(api, "order-2", line("COFFEE", 3), line("COFFEE", 2), line("TEA", 5))
    await buy(api, "order-3", line("COFFEE"), line("TEA", 4))

    assert progress(await cards_of(api, member["id"])) == [
        ("Per line", 2, 10, 0),
        ("Per order", 2, 10, 0),
    ]


async def test_a_re_reported_order_never_punches_twice(api: Api) -> None:
    member, _, _ = await shop(api)
    document = {"input": order_input(order_id="order-1", lines=[line("COFFEE")], totalMinor=300)}

    responses = await asyncio.gather(*(api.post(RECORD_ORDER, document) for _ in range(20)))
    await buy(api, "order-1", line("COFFEE"))

    assert {r.status_code for r in responses} == {200}
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 3, 0)]
    assert len(await rows("SELECT id FROM punch_card_punches")) == 1


async def test_an_opted_out_member_gets_no_punches(api: Api) -> None:
    member, _, _ = await shop(api)
    await buy(api, "order-1", line("COFFEE"))
    opted = await api.data(OPT_OUT, {"input": {"memberId": member["id"], "optedOut": True}})
    assert opted["setMemberOptOut"]["userErrors"] == []

    await buy(api, "order-2", line("COFFEE", 5))
    await buy(api, "order-3", line("COFFEE"))

    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 3, 0)]
    assert await redemptions() == []


async def test_a_refund_removes_the_punches_its_lines_no_longer_reach(api: Api) -> None:
    member, reward, _ = await shop(api, name="Per line", minimumQuantity=2, punchesNeeded=10)
    await create_card(
        api,
        reward["id"],
        name="Per order",
        minimumQuantity=4,
        minimumPer="ORDER",
        punchesNeeded=10,
    )
    await buy(api, "order-1", line("COFFEE", 3), line("COFFEE", 2))
    assert progress(await cards_of(api, member["id"])) == [
        ("Per line", 2, 10, 0),
        ("Per order", 1, 10, 0),
    ]

    await refund(api, "order-1", "refund-1", lines=[{"lineIndex": 0, "quantity": 1}])
    after_first = progress(await cards_of(api, member["id"]))
    await refund(api, "order-1", "refund-2", lines=[{"lineIndex": 1, "quantity": 1}])
    after_second = progress(await cards_of(api, member["id"]))
    await refund(api, "order-1", "refund-3", cancel=True)
    after_cancel = progress(await cards_of(api, member["id"]))

    # 2 + 2 units left: both line punches stand, and the order's 4 units still reach 4.
    assert after_first == [("Per line", 2, 10, 0), ("Per order", 1, 10, 0)]
    # Line 1 is down to 1 unit, and the order to 3: those punches go.
    assert after_second == [("Per line", 1, 10, 0), ("Per order", 0, 10, 0)]
    assert after_cancel == [("Per line", 0, 10, 0), ("Per order", 0, 10, 0)]
    removed = await rows(
        "SELECT COUNT(*) AS n FROM punch_card_punches WHERE removed_at IS NOT NULL"
    )
    assert int(removed[0]["n"]) == 3
    assert await verify_ledger() == []


async def test_a_partial_refund_by_amount_keeps_the_punch(api: Api) -> None:
    member, _, _ = await shop(api)
    await buy(api, "order-1", line("COFFEE", 2))

    await refund(api, "order-1", "refund-1", amountMinor=300)
    kept = progress(await cards_of(api, member["id"]))
    await refund(api, "order-1", "refund-2", amountMinor=300)

    assert kept == [("Coffee card", 1, 3, 0)]
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 0, 3, 0)]


async def test_keep_reward_leaves_the_reward_and_the_card_below_zero(api: Api) -> None:
    member, _, _ = await shop(api, punchesNeeded=2)
    await buy(api, "order-1", line("COFFEE"))
    await buy(api, "order-2", line("COFFEE"))

    await refund(api, "order-1", "refund-1")
    below_zero = progress(await cards_of(api, member["id"]))
    await buy(api, "order-3", line("COFFEE"))
    filled = progress(await cards_of(api, member["id"]))
    await buy(api, "order-4", line("COFFEE"))

    assert below_zero == [("Coffee card", -1, 2, 1)]
    assert filled == [("Coffee card", 0, 2, 1)]
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 2, 1)]
    assert [r["status"] for r in await redemptions()] == ["ISSUED"]
    assert await verify_ledger() == []


async def test_revoke_policy_takes_refunded_punches_from_the_current_card_first(
    api: Api,
) -> None:
    member, _, _ = await shop(api, punchesNeeded=2)
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    for n in range(3):
        await buy(api, f"order-{n}", line("COFFEE"))

    await refund(api, "order-0", "refund-1")

    # The member still has two standing purchases: a full card's worth, so the reward stays.
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 0, 2, 1)]
    assert [r["status"] for r in await redemptions()] == ["ISSUED"]


async def test_revoke_policy_cancels_an_unused_reward_whose_punches_were_refunded(
    api: Api,
) -> None:
    member, _, _ = await shop(api, punchesNeeded=2)
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    await buy(api, "order-1", line("COFFEE"))
    await buy(api, "order-2", line("COFFEE"))

    await refund(api, "order-1", "refund-1")

    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 2, 0)]
    assert [r["status"] for r in await redemptions()] == ["CANCELLED"]
    completions = await rows("SELECT status FROM punch_card_rewards")
    assert [c["status"] for c in completions] == ["REVOKED"]
    assert await verify_ledger() == []


async def test_revoke_policy_keeps_a_used_reward_and_the_card_falls_below_zero(
    api: Api,
) -> None:
    member, _, _ = await shop(api, punchesNeeded=2)
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    await buy(api, "order-1", line("COFFEE"))
    await buy(api, "order-2", line("COFFEE"))
    code = (await rows("SELECT code FROM redemptions"))[0]["code"]
    assert (await mark_used(api, code, "checkout-1"))["userErrors"] == []

    await refund(api, "order-1", "refund-1")

    assert progress(await cards_of(api, member["id"])) == [("Coffee card", -1, 2, 1)]
    assert [r["status"] for r in await redemptions()] == ["USED"]
    completions = await rows("SELECT status FROM punch_card_rewards")
    assert [c["status"] for c in completions] == ["GIVEN"]
    removed = await rows(
        "SELECT payload FROM outbox_events WHERE type = 'punch_card.punches_removed'"
    )
    assert [from_json(r["payload"])["rewardsRevoked"] for r in removed] == [0]
    assert await verify_ledger() == []


async def test_concurrent_orders_complete_each_card_exactly_once(api: Api) -> None:
    member, _, _ = await shop(api, punchesNeeded=5)
    inputs = [
        order_input(order_id=f"order-{n}", lines=[line("COFFEE")], totalMinor=300)
        for n in range(12)
    ]

    responses = await asyncio.gather(*(api.post(RECORD_ORDER, {"input": i}) for i in inputs))

    assert {r.status_code for r in responses} == {200}
    assert [r.json()["data"]["recordOrder"]["userErrors"] for r in responses] == [[]] * 12
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 2, 5, 2)]
    assert len(await redemptions()) == 2
    completions = await rows("SELECT status, punches FROM punch_card_rewards")
    assert [(c["status"], int(c["punches"])) for c in completions] == [("GIVEN", 5)] * 2
    assert await verify_ledger() == []


async def test_a_reward_out_of_stock_is_recorded_as_failed(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=50, stock=0)
    assert (await create_card(api, reward["id"], punchesNeeded=1))["userErrors"] == []

    await buy(api, "order-1", line("COFFEE"))

    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 0, 1, 0)]
    completions = await rows("SELECT status, failure, redemption_id FROM punch_card_rewards")
    assert completions == [{"status": "FAILED", "failure": "OUT_OF_STOCK", "redemption_id": None}]
    failed = await rows("SELECT type FROM outbox_events WHERE type = 'punch_card.reward_failed'")
    assert len(failed) == 1
    assert await redemptions() == []


async def test_bad_cards_are_refused_with_precise_codes_and_write_nothing(api: Api) -> None:
    await create_program(api)
    reward = await create_reward(api)
    inactive = await create_reward(api, active=False)
    secret = await program_key("shop", KeyKind.SECRET)
    before = await everything()

    no_filter = await create_card(api, reward["id"], skus=[])
    empty = await create_card(api, reward["id"], punchesNeeded=0, minimumQuantity=0)
    unknown = await create_card(api, global_id("Reward", 999))
    retired_reward = await create_card(api, inactive["id"])
    not_admin = await create_card(api, reward["id"], key=secret)

    assert [e["code"] for e in no_filter["userErrors"]] == ["REQUIRED"]
    assert sorted(codes(empty["userErrors"])) == ["INVALID_QUANTITY", "INVALID_QUANTITY"]
    assert codes(unknown["userErrors"]) == ["REWARD_NOT_FOUND"]
    assert codes(retired_reward["userErrors"]) == ["REWARD_INACTIVE"]
    assert codes(not_admin["userErrors"]) == ["FORBIDDEN"]
    after = await everything()
    after["all_counts"].pop("audit_log")
    before["all_counts"].pop("audit_log")
    assert after == before


async def test_updating_and_retiring_a_card(api: Api) -> None:
    member, _, card = await shop(api)
    await buy(api, "order-1", line("COFFEE"))

    updated = await api.data(
        UPDATE, {"input": {"id": card["id"], "skus": ["ESPRESSO"], "punchesNeeded": 4}}
    )
    await buy(api, "order-2", line("COFFEE"), line("ESPRESSO"))
    retired = await api.data(RETIRE, {"input": {"id": card["id"]}})
    await buy(api, "order-3", line("ESPRESSO"))
    listed = await api.data('query { punchCards(programSlug: "shop") { id } }')
    listed_all = await api.data(
        'query { punchCards(programSlug: "shop", includeRetired: true) { id active } }'
    )
    unknown = await api.data(RETIRE, {"input": {"id": global_id("PunchCard", 999)}})

    assert updated["updatePunchCard"]["punchCard"]["skus"] == ["ESPRESSO"]
    assert updated["updatePunchCard"]["punchCard"]["punchesNeeded"] == 4
    assert retired["retirePunchCard"]["punchCard"]["active"] is False
    assert retired["retirePunchCard"]["punchCard"]["retiredAt"] is not None
    assert listed["punchCards"] == []
    assert listed_all["punchCards"] == [{"id": card["id"], "active": False}]
    assert codes(unknown["retirePunchCard"]["userErrors"]) == ["PUNCH_CARD_NOT_FOUND"]
    # The retired card stays on the member's list with its punches: 1 + 1 espresso.
    member_cards = (await cards_of(api, member["id"]))["punchCards"]
    assert [(c["card"]["active"], c["punches"]) for c in member_cards] == [(False, 2)]


async def test_a_member_token_sees_its_own_cards(api: Api) -> None:
    _, _, card = await shop(api)
    await buy(api, "order-1", line("COFFEE", 1))
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    token = await member_token(api, "cust-1")

    response = await post_as(
        api,
        "query { me { punchCards { card { id name reward { name } } punches punchesNeeded"
        ' rewardsEarned } } punchCards(programSlug: "shop") { id } }',
        key=publishable,
        token=token,
    )

    data = response.json()["data"]
    assert data["me"]["punchCards"] == [
        {
            "card": {"id": card["id"], "name": "Coffee card", "reward": {"name": "Free coffee"}},
            "punches": 1,
            "punchesNeeded": 3,
            "rewardsEarned": 0,
        }
    ]
    assert data["punchCards"] == [{"id": card["id"]}]


async def test_the_refund_policy_is_a_program_setting(api: Api) -> None:
    await shop(api)

    default = await api.data('query { punchCardSettings(programSlug: "shop") { refundPolicy } }')
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    changed = await api.data('query { punchCardSettings(programSlug: "shop") { refundPolicy } }')

    assert default["punchCardSettings"] == {"refundPolicy": "KEEP_REWARD"}
    assert changed["punchCardSettings"] == {"refundPolicy": "REVOKE_UNUSED_REWARD"}
