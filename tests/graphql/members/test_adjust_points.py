"""adjustPoints: admin credits and debits with a reason, outside lifetime earned and redeemed."""

from __future__ import annotations

from typing import Any

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    create_program,
    enroll,
    member_status,
    program_key,
    record_order,
)
from tests.graphql.helpers import codes, global_id, snapshot


async def adjust(
    api: Api,
    member_id: str,
    points: int,
    reason: str = "Goodwill for a late parcel",
    key: str = "adjust-1",
    *,
    api_key: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    data = await api.data(
        ADJUST,
        {
            "input": {
                "memberId": member_id,
                "points": points,
                "reason": reason,
                "idempotencyKey": key,
                **({} if description is None else {"description": description}),
            }
        },
        key=api_key,
    )
    payload: dict[str, Any] = data["adjustPoints"]
    return payload


async def earned_member(api: Api) -> dict[str, Any]:
    """A member of `shop` who earned 25 points with order-1."""
    await create_program(api)
    member = await enroll(api)
    await record_order(api)
    return member


async def test_a_credit_adds_available_points_but_not_lifetime_earned(api: Api) -> None:
    member = await earned_member(api)

    payload = await adjust(api, member["id"], 100)

    assert payload["userErrors"] == []
    expected = {"available": 125, "pending": 0, "lifetimeEarned": 25, "lifetimeRedeemed": 0}
    assert payload["member"] == {"id": member["id"], "points": expected}
    status = await member_status(api, member["id"])
    assert status["points"] == expected
    # The reason is staff's note: the member reads a neutral description (defect: the note).
    assert status["activity"]["edges"][0]["node"] == {
        "kind": "ADJUST",
        "points": 100,
        "description": "Points adjusted by the store",
        "orderId": None,
    }
    assert len(status["activity"]["edges"]) == 2


async def test_a_debit_takes_available_points_but_not_lifetime_redeemed(api: Api) -> None:
    member = await earned_member(api)

    payload = await adjust(
        api,
        member["id"],
        -20,
        reason="Counted the coat twice (ticket 4411)",
        description="Correction of order-1",
    )

    assert payload["userErrors"] == []
    expected = {"available": 5, "pending": 0, "lifetimeEarned": 25, "lifetimeRedeemed": 0}
    assert payload["member"]["points"] == expected
    status = await member_status(api, member["id"])
    assert status["points"] == expected
    assert status["activity"]["edges"][0]["node"] == {
        "kind": "ADJUST",
        "points": -20,
        "description": "Correction of order-1",
        "orderId": None,
    }


async def test_a_debit_may_take_the_balance_to_exactly_zero(api: Api) -> None:
    member = await earned_member(api)

    payload = await adjust(api, member["id"], -25)

    assert payload["userErrors"] == []
    assert payload["member"]["points"]["available"] == 0


async def test_the_reason_is_trimmed_and_limits_are_inclusive(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    credit = await adjust(
        api, member["id"], 1_000_000_000, reason="r" * 500, description="d" * 500, key="a-1"
    )
    debit = await adjust(
        api, member["id"], -1_000_000_000, reason="  x  ", description="  Undo  ", key="a-2"
    )

    assert credit["userErrors"] == debit["userErrors"] == []
    assert credit["member"]["points"]["available"] == 1_000_000_000
    assert debit["member"]["points"]["available"] == 0
    edges = (await member_status(api, member["id"]))["activity"]["edges"]
    assert [edge["node"]["description"] for edge in edges] == ["Undo", "d" * 500]


async def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(api: Api) -> None:
    member = await earned_member(api)
    before = await snapshot()

    payload = await adjust(api, member["id"], -26)

    assert payload["member"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "points"],
            "message": "the member has fewer than 26 points available",
            "code": "BALANCE_WOULD_BE_NEGATIVE",
        }
    ]
    assert await snapshot() == before
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 25
    assert len(status["activity"]["edges"]) == 1


async def test_bad_adjustments_are_refused_with_precise_codes_and_write_nothing(
    api: Api,
) -> None:
    member = await earned_member(api)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"points": 0}, "INVALID_POINTS", ["input", "points"]),
        ({"points": 1_000_000_001}, "INVALID_POINTS", ["input", "points"]),
        ({"points": -1_000_000_001}, "INVALID_POINTS", ["input", "points"]),
        ({"reason": ""}, "REQUIRED", ["input", "reason"]),
        ({"reason": "   "}, "REQUIRED", ["input", "reason"]),
        ({"reason": "r" * 501}, "TOO_LONG", ["input", "reason"]),
        ({"key": ""}, "REQUIRED", ["input", "idempotencyKey"]),
        ({"key": "k" * 256}, "TOO_LONG", ["input", "idempotencyKey"]),
        ({"member_id": "!!!"}, "INVALID_ID", ["input", "memberId"]),
        ({"member_id": global_id("Reward", 1)}, "INVALID_ID", ["input", "memberId"]),
        ({"member_id": global_id("Member", 999_999)}, "MEMBER_NOT_FOUND", ["input", "memberId"]),
    ]
    before = await snapshot()
    for overrides, code, field in cases:
        values: dict[str, Any] = {"member_id": member["id"], "points": 10, **overrides}
        member_id = values.pop("member_id")
        points = values.pop("points")
        payload = await adjust(api, member_id, points, **values)

        assert payload["member"] is None, overrides
        errors = payload["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], overrides
    assert await snapshot() == before


async def test_every_problem_of_an_adjustment_is_reported_at_once(api: Api) -> None:
    member = await earned_member(api)
    before = await snapshot()

    payload = await adjust(api, member["id"], 0, reason="", key="")

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("REQUIRED", ["input", "reason"]),
        ("REQUIRED", ["input", "idempotencyKey"]),
        ("INVALID_POINTS", ["input", "points"]),
    ]
    assert await snapshot() == before


async def test_the_same_idempotency_key_replays_the_adjustment_once(api: Api) -> None:
    member = await earned_member(api)
    first = await adjust(api, member["id"], 100)
    after_first = await snapshot()

    replay = await adjust(api, member["id"], 100)

    assert replay == first
    assert replay["member"]["points"]["available"] == 125
    assert await snapshot() == after_first
    status = await member_status(api, member["id"])
    assert [edge["node"]["kind"] for edge in status["activity"]["edges"]] == [
        "ADJUST",
        "EARN_ORDER",
    ]


async def test_the_same_idempotency_key_with_other_input_is_refused(api: Api) -> None:
    member = await earned_member(api)
    other = await enroll(api, customer_id="cust-2")
    await adjust(api, member["id"], 100)
    before = await snapshot()

    payloads = [
        await adjust(api, member["id"], 101),
        await adjust(api, member["id"], 100, reason="Another reason"),
        await adjust(api, other["id"], 100),
    ]

    for payload in payloads:
        assert payload["member"] is None
        assert payload["userErrors"] == [
            {
                "field": ["input", "idempotencyKey"],
                "message": "this idempotencyKey was already used with different input",
                "code": "IDEMPOTENCY_KEY_REUSED",
            }
        ]
    assert await snapshot() == before


async def test_a_refused_debit_does_not_burn_its_idempotency_key(api: Api) -> None:
    member = await earned_member(api)
    refused = await adjust(api, member["id"], -50, key="debit-1")
    await record_order(api, order_id="order-2")

    retried = await adjust(api, member["id"], -50, key="debit-1")

    assert codes(refused["userErrors"]) == ["BALANCE_WOULD_BE_NEGATIVE"]
    assert retried["userErrors"] == []
    assert retried["member"]["points"]["available"] == 0


async def test_program_keys_may_not_adjust_points(api: Api) -> None:
    member = await earned_member(api)
    keys = [await program_key("shop", kind) for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE)]
    before = await snapshot()

    for key in keys:
        payload = await adjust(api, member["id"], 100, api_key=key)

        assert payload == {
            "member": None,
            "userErrors": [
                {"field": None, "message": "this needs an admin key", "code": "FORBIDDEN"}
            ],
        }
    assert await snapshot() == before


async def test_the_staff_note_is_in_the_event_for_admins_and_never_for_the_member(
    api: Api,
) -> None:
    member = await earned_member(api)
    await adjust(api, member["id"], 10, reason="VIP complaint, see ticket 77", description="Sorry!")

    events = await api.data(
        '{ events(programSlug: "shop", first: 50, type: "points.adjusted") {'
        " edges { node { payload } } } }"
    )
    [event] = [edge["node"]["payload"] for edge in events["events"]["edges"]]
    status = await member_status(api, member["id"])

    assert (event["staffNote"], event["description"]) == ("VIP complaint, see ticket 77", "Sorry!")
    assert "VIP complaint" not in str(status)
