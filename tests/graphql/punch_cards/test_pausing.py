"""Pausing and resuming a punch card: a paused card takes no punches and members keep theirs;
resumed, purchases punch it again. Retired cards stay retired; refusals write nothing."""

from __future__ import annotations

from typing import Any

from app.auth.api_keys import KeyKind
from app.domain.roles import StaffRole
from app.services.access.api_keys import create_api_key, set_rate_limit
from tests.graphql.conftest import Api
from tests.graphql.factories import everything, program_key
from tests.graphql.helpers import codes, global_id, rows
from tests.graphql.punch_cards.test_punch_cards import RETIRE, buy, cards_of, line, shop

PAUSE = """
mutation($input: SetPunchCardPausedInput!) {
  setPunchCardPaused(input: $input) {
    punchCard { id active paused retiredAt } userErrors { field code message }
  }
}"""
LISTED = """query {
  active: punchCards(programSlug: "shop") { id }
  all: punchCards(programSlug: "shop", includeRetired: true) { id active paused }
}"""


async def set_paused(api: Api, card_id: str, paused: bool, key: str | None = None) -> Any:
    return (await api.data(PAUSE, {"input": {"id": card_id, "paused": paused}}, key=key))[
        "setPunchCardPaused"
    ]


async def punches(api: Api, member_id: str) -> list[int]:
    return [c["punches"] for c in (await cards_of(api, member_id))["punchCards"]]


async def test_a_paused_card_takes_no_punches_until_it_is_resumed(api: Api) -> None:
    member, _, card = await shop(api)
    await buy(api, "order-1", line("COFFEE"))

    paused = await set_paused(api, card["id"], True)
    again = await set_paused(api, card["id"], True)
    await buy(api, "order-2", line("COFFEE"))
    listed_while_paused = await api.data(LISTED)
    kept_while_paused = await punches(api, member["id"])
    resumed = await set_paused(api, card["id"], False)
    await buy(api, "order-3", line("COFFEE"))

    assert paused == {
        "punchCard": {"id": card["id"], "active": False, "paused": True, "retiredAt": None},
        "userErrors": [],
    }
    assert again == paused
    # Hidden from storefronts' list while paused, shown to admins as paused.
    assert listed_while_paused == {
        "active": [],
        "all": [{"id": card["id"], "active": False, "paused": True}],
    }
    assert kept_while_paused == [1]  # order-2 punched nothing
    assert resumed["punchCard"] == {
        "id": card["id"],
        "active": True,
        "paused": False,
        "retiredAt": None,
    }
    assert await punches(api, member["id"]) == [2]
    audited = await rows(
        "SELECT operation, succeeded FROM audit_log WHERE operation = 'setPunchCardPaused'"
        " ORDER BY id"
    )
    assert audited == [{"operation": "setPunchCardPaused", "succeeded": True}] * 3
    events = await rows(
        "SELECT type FROM outbox_events WHERE type LIKE 'punch_card.%' AND type <> "
        "'punch_card.punched' ORDER BY id"
    )
    # One event per change of state; the repeated pause changed nothing.
    assert [e["type"] for e in events] == [
        "punch_card.created",
        "punch_card.updated",
        "punch_card.updated",
    ]


async def test_a_paused_card_can_be_retired_and_a_retired_one_not_resumed(api: Api) -> None:
    _, _, card = await shop(api)
    await set_paused(api, card["id"], True)

    retired = (await api.data(RETIRE, {"input": {"id": card["id"]}}))["retirePunchCard"]
    before = await everything()
    resumed = await set_paused(api, card["id"], False)
    after = await everything()

    assert retired["punchCard"]["active"] is False
    assert retired["punchCard"]["retiredAt"] is not None
    assert resumed["punchCard"] is None
    assert [(e["field"], e["code"]) for e in resumed["userErrors"]] == [
        (["input", "id"], "INVALID_VALUE")
    ]
    assert "retired" in resumed["userErrors"][0]["message"]
    for state in (before, after):
        state["all_counts"].pop("audit_log")
    assert after == before


async def test_refusals_write_nothing(api: Api) -> None:
    _, _, card = await shop(api)
    secret = await program_key("shop", KeyKind.SECRET)
    read_only = await create_api_key(KeyKind.ADMIN, None, "viewer", role=StaffRole.READ_ONLY)
    await set_rate_limit(read_only.id, 100_000.0, 100_000)
    before = await everything()

    unknown = await set_paused(api, global_id("PunchCard", 999), True)
    by_secret = await set_paused(api, card["id"], True, key=secret)
    by_read_only = await set_paused(api, card["id"], True, key=read_only.secret)

    assert codes(unknown["userErrors"]) == ["PUNCH_CARD_NOT_FOUND"]
    assert codes(by_secret["userErrors"]) == ["FORBIDDEN"]
    assert by_read_only["punchCard"] is None
    assert codes(by_read_only["userErrors"]) == ["FORBIDDEN"]
    after = await everything()
    for state in (before, after):
        state["all_counts"].pop("audit_log")
    assert after == before
    listed = await api.data(LISTED)
    assert listed["all"] == [{"id": card["id"], "active": True, "paused": False}]
