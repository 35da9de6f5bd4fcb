"""Plain factories and looks of the engagement tests."""

from __future__ import annotations

from typing import Any

from app.db import from_json
from app.services.core.events import list_events
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.graphql.helpers import pk_of, rows

CHALLENGE_FIELDS = """
    id name goal target action actionQualifier recurrence startsAt endsAt points status
    badge { id name }
"""
CREATE_CHALLENGE = f"""
mutation($input: CreateChallengeInput!) {{
  createChallenge(input: $input) {{
    challenge {{ {CHALLENGE_FIELDS} }} userErrors {{ field message code }}
  }}
}}"""
UPDATE_CHALLENGE = f"""
mutation($input: UpdateChallengeInput!) {{
  updateChallenge(input: $input) {{
    challenge {{ {CHALLENGE_FIELDS} }} userErrors {{ field message code }}
  }}
}}"""
PAUSE_CHALLENGE = """
mutation($input: SetChallengePausedInput!) {
  setChallengePaused(input: $input) { challenge { id status } userErrors { field code } }
}"""
ARCHIVE_CHALLENGE = """
mutation($input: ArchiveChallengeInput!) {
  archiveChallenge(input: $input) { challenge { id status archivedAt } userErrors { field code } }
}"""
CREATE_BADGE = """
mutation($input: CreateBadgeInput!) {
  createBadge(input: $input) {
    badge { id name milestone threshold active } userErrors { field message code }
  }
}"""
STANDING = """
query($id: ID!) {
  member(id: $id) {
    challenges {
      challenge { name } progress target completedAt period { key startsAt endsAt }
    }
    badges { badge { name milestone } awardedAt }
    points { available }
  }
}"""
REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { order { status } userErrors { code } }
}"""
RECORD_ACTION = """
mutation($input: RecordActionInput!) {
  recordAction(input: $input) { pointsEarned userErrors { field code } }
}"""
CREATE_ACTION_RULE = """
mutation($input: CreateActionRuleInput!) {
  createActionRule(input: $input) { rule { id } userErrors { field code } }
}"""

WINDOW = {"startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-02-01T00:00:00Z"}


async def shop(api: Api, **program: Any) -> dict[str, Any]:
    """A program "shop" (EUR, 1 point per euro) and its member cust-1."""
    await create_program(api, **program)
    return await enroll(api)


async def create_challenge(api: Api, **fields: Any) -> dict[str, Any]:
    values = {
        "programSlug": "shop",
        "name": "Three orders",
        "goal": "ORDER_COUNT",
        "target": 3,
        "points": 200,
        **WINDOW,
        **fields,
    }
    payload: dict[str, Any] = (await api.data(CREATE_CHALLENGE, {"input": values}))[
        "createChallenge"
    ]
    return payload


async def challenge(api: Api, **fields: Any) -> dict[str, Any]:
    payload = await create_challenge(api, **fields)
    assert payload["userErrors"] == [], payload["userErrors"]
    made: dict[str, Any] = payload["challenge"]
    return made


async def badge(api: Api, **fields: Any) -> dict[str, Any]:
    values = {"programSlug": "shop", "name": "Regular", **fields}
    payload = (await api.data(CREATE_BADGE, {"input": values}))["createBadge"]
    assert payload["userErrors"] == [], payload["userErrors"]
    made: dict[str, Any] = payload["badge"]
    return made


async def standing(api: Api, member_id: str) -> dict[str, Any]:
    member: dict[str, Any] = (await api.data(STANDING, {"id": member_id}))["member"]
    return member


async def progress_rows(member_id: str | None = None) -> list[tuple[str, int, bool]]:
    """(period, progress, completed) of every progress row (of one member), in order."""
    where = "" if member_id is None else f" WHERE member_id = {pk_of(member_id)}"
    found = await rows(
        "SELECT period_key, progress, completed_at FROM challenge_progress"
        + where
        + " ORDER BY challenge_id, period_key"
    )
    return [
        (row["period_key"], int(row["progress"]), row["completed_at"] is not None) for row in found
    ]


async def challenge_grants() -> list[tuple[int, int, str]]:
    """(member pk, points, description) of every CHALLENGE ledger transaction."""
    found = await rows(
        "SELECT member_id, points, description FROM ledger_transactions"
        " WHERE kind = 'CHALLENGE' ORDER BY id"
    )
    return [(int(row["member_id"]), int(row["points"]), row["description"]) for row in found]


async def event_payloads(event_type: str) -> list[dict[str, Any]]:
    found = await rows(f"SELECT payload FROM outbox_events WHERE type = '{event_type}' ORDER BY id")
    return [from_json(row["payload"]) for row in found]


async def all_events(program_pk: int) -> list[Any]:
    return await list_events(program_pk, after_id=None, limit=1000)
