"""Staff roles are enforced by the API (app/domain/roles.py, app/graphql/core/roles.py): a key
whose role may not make a change is refused with FORBIDDEN and nothing is written, whatever a
page shows; a support key adjusts points only within its limit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from app.auth.api_keys import KeyKind
from app.domain.errors import DomainError
from app.domain.roles import DEFAULT_POINTS_ADJUSTMENT_LIMIT, Permission, StaffRole
from app.graphql.core.roles import MUTATION_PERMISSIONS
from app.graphql.schema import schema
from app.services.access.api_keys import create_api_key, set_rate_limit
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    CREATE_REWARD,
    create_program,
    enroll,
    everything,
    grant_points,
    member_status,
)
from tests.graphql.helpers import codes, top_level_codes

VIEWER = "{ viewer { kind role pointsAdjustmentLimit } }"
EXPORT = "query($id: ID!) { memberDataExport(id: $id) }"
PAUSE_RULE = """mutation($input: SetEarningRulePausedInput!) {
  setEarningRulePaused(input: $input) { rule { paused } userErrors { field code message } }
}"""
ASSIGN_TIER = """mutation($input: AssignMemberTierInput!) {
  assignMemberTier(input: $input) { userErrors { field code message } }
}"""
AUDIT = "{ auditLog(first: 5) { edges { node { apiKeyId operation succeeded } } } }"


async def staff_key(role: StaffRole | None, limit: int | None = None) -> tuple[int, str]:
    created = await create_api_key(
        KeyKind.ADMIN, None, f"{role} staff", role=role, points_adjustment_limit=limit
    )
    await set_rate_limit(created.id, 100_000.0, 100_000)
    return created.id, created.secret


def reward_input() -> dict[str, Any]:
    return {
        "input": {
            "programSlug": "shop",
            "name": "Tote bag",
            "kind": "FREE_PRODUCT",
            "skus": ["TOTE-BAG"],
            "costPoints": 100,
        }
    }


def adjustment(member_id: str, points: int) -> dict[str, Any]:
    return {
        "input": {
            "memberId": member_id,
            "points": points,
            "reason": "goodwill",
            "description": "A gift from the store",
            "idempotencyKey": str(uuid.uuid4()),
        }
    }


def test_every_mutation_of_the_schema_names_its_permission() -> None:
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    assert set(mutation_type.fields) == set(MUTATION_PERMISSIONS)


@pytest.mark.parametrize("role", list(StaffRole))
def test_what_each_role_may_do(role: StaffRole) -> None:
    from app.domain.roles import role_allows

    allowed = {p for p in Permission if role_allows(role, p)}
    expected = {
        StaffRole.OWNER: set(Permission),
        StaffRole.MARKETING: {Permission.CONFIGURE_PROGRAM, Permission.RESEND_WEBHOOKS},
        StaffRole.SUPPORT: {
            Permission.MANAGE_MEMBERS,
            Permission.ADJUST_POINTS,
            Permission.PERSONAL_DATA,
            Permission.RESEND_WEBHOOKS,
        },
        StaffRole.READ_ONLY: set(),
    }[role]
    assert allowed == expected


async def test_a_forged_program_change_with_a_support_key_is_refused_and_writes_nothing(
    api: Api,
) -> None:
    await create_program(api)
    support_id, support = await staff_key(StaffRole.SUPPORT)
    before = await everything()

    body = await api.gql(CREATE_REWARD, reward_input(), key=support)

    assert "errors" not in body
    assert body["data"]["createReward"]["reward"] is None
    assert codes(body["data"]["createReward"]["userErrors"]) == ["FORBIDDEN"]
    after = await everything()
    # Only the audit log moved: the refused attempt is recorded against the support key.
    assert after["all_counts"].pop("audit_log") == before["all_counts"].pop("audit_log") + 1
    assert after == before
    log = await api.data(AUDIT)
    assert log["auditLog"]["edges"][0]["node"] == {
        "apiKeyId": support_id,
        "operation": "createReward",
        "succeeded": False,
    }


async def test_a_support_key_adjusts_within_its_limit_and_is_refused_above_it(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    _, support = await staff_key(StaffRole.SUPPORT, limit=50)

    within = await api.data(ADJUST, adjustment(member["id"], 50), key=support)
    debit = await api.data(ADJUST, adjustment(member["id"], -20), key=support)
    over = await api.data(ADJUST, adjustment(member["id"], 51), key=support)
    over_debit = await api.data(ADJUST, adjustment(member["id"], -51), key=support)

    assert within["adjustPoints"]["userErrors"] == []
    assert debit["adjustPoints"]["userErrors"] == []
    assert over["adjustPoints"]["userErrors"] == [
        {
            "field": ["input", "points"],
            "code": "POINTS_LIMIT_EXCEEDED",
            "message": "the support role may adjust at most 50 points at a time",
        }
    ]
    assert codes(over_debit["adjustPoints"]["userErrors"]) == ["POINTS_LIMIT_EXCEEDED"]
    assert over["adjustPoints"]["member"] is None
    assert (await member_status(api, member["id"]))["points"]["available"] == 30


async def test_a_support_key_without_a_limit_of_its_own_takes_the_default(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    _, support = await staff_key(StaffRole.SUPPORT)

    at = await api.data(
        ADJUST, adjustment(member["id"], DEFAULT_POINTS_ADJUSTMENT_LIMIT), key=support
    )
    above = await api.data(
        ADJUST, adjustment(member["id"], DEFAULT_POINTS_ADJUSTMENT_LIMIT + 1), key=support
    )

    assert at["adjustPoints"]["userErrors"] == []
    assert codes(above["adjustPoints"]["userErrors"]) == ["POINTS_LIMIT_EXCEEDED"]


async def test_the_owner_adjusts_without_a_limit(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    _, owner = await staff_key(StaffRole.OWNER)

    data = await api.data(ADJUST, adjustment(member["id"], 1_000_000), key=owner)

    assert data["adjustPoints"]["userErrors"] == []
    assert data["adjustPoints"]["member"]["points"]["available"] == 1_000_000


async def test_marketing_configures_the_program_but_may_not_touch_members(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10)
    _, marketing = await staff_key(StaffRole.MARKETING)

    reward = await api.data(CREATE_REWARD, reward_input(), key=marketing)
    adjust = await api.data(ADJUST, adjustment(member["id"], 5), key=marketing)
    tier = await api.data(
        ASSIGN_TIER,
        {
            "input": {
                "memberId": member["id"],
                "tierName": "Gold",
                "reason": "VIP",
                "idempotencyKey": "tier-1",
            }
        },
        key=marketing,
    )
    export = await api.gql(EXPORT, {"id": member["id"]}, key=marketing)

    assert reward["createReward"]["userErrors"] == []
    assert codes(adjust["adjustPoints"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(tier["assignMemberTier"]["userErrors"]) == ["FORBIDDEN"]
    assert top_level_codes(export) == ["FORBIDDEN"]
    assert export["data"]["memberDataExport"] is None
    assert (await member_status(api, member["id"]))["points"]["available"] == 10


async def test_support_exports_a_members_data(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, email="ann@example.com")
    _, support = await staff_key(StaffRole.SUPPORT)

    data = await api.data(EXPORT, {"id": member["id"]}, key=support)

    assert "ann@example.com" in json.dumps(data["memberDataExport"])


async def test_a_read_only_key_reads_and_changes_nothing(api: Api) -> None:
    program = await create_program(api)
    member = await enroll(api)
    _, read_only = await staff_key(StaffRole.READ_ONLY)
    before = await everything()

    programs = await api.data("{ programs { id } }", key=read_only)
    reward = await api.data(CREATE_REWARD, reward_input(), key=read_only)
    adjust = await api.data(ADJUST, adjustment(member["id"], 1), key=read_only)
    pause = await api.data(
        PAUSE_RULE, {"input": {"id": program["id"], "paused": True}}, key=read_only
    )

    assert programs["programs"] == [{"id": program["id"]}]
    assert codes(reward["createReward"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(adjust["adjustPoints"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(pause["setEarningRulePaused"]["userErrors"]) == ["FORBIDDEN"]
    after = await everything()
    assert after["all_counts"].pop("audit_log") == before["all_counts"].pop("audit_log") + 3
    assert after == before


@pytest.mark.parametrize(
    ("role", "limit", "expected"),
    [
        (None, None, {"kind": "ADMIN", "role": "OWNER", "pointsAdjustmentLimit": None}),
        (
            StaffRole.SUPPORT,
            None,
            {
                "kind": "ADMIN",
                "role": "SUPPORT",
                "pointsAdjustmentLimit": DEFAULT_POINTS_ADJUSTMENT_LIMIT,
            },
        ),
        (StaffRole.SUPPORT, 25, {"kind": "ADMIN", "role": "SUPPORT", "pointsAdjustmentLimit": 25}),
        (
            StaffRole.MARKETING,
            None,
            {"kind": "ADMIN", "role": "MARKETING", "pointsAdjustmentLimit": None},
        ),
    ],
)
async def test_the_viewer_names_its_role(
    api: Api, role: StaffRole | None, limit: int | None, expected: dict[str, Any]
) -> None:
    _, key = await staff_key(role, limit)

    data = await api.data(VIEWER, key=key)

    assert data["viewer"] == expected


async def test_a_secret_key_has_no_role(api: Api) -> None:
    await create_program(api)
    created = await create_api_key(KeyKind.SECRET, "shop", "backend")

    data = await api.data(VIEWER, key=created.secret)

    assert data["viewer"] == {"kind": "SECRET", "role": None, "pointsAdjustmentLimit": None}


async def test_roles_and_limits_are_refused_where_they_do_not_belong(api: Api) -> None:
    await create_program(api)

    with pytest.raises(DomainError, match="only an admin key has a staff role"):
        await create_api_key(KeyKind.SECRET, "shop", "backend", role=StaffRole.SUPPORT)
    with pytest.raises(DomainError, match="belongs to a support key"):
        await create_api_key(
            KeyKind.ADMIN, None, "m", role=StaffRole.MARKETING, points_adjustment_limit=5
        )
    with pytest.raises(DomainError, match="between 0 and"):
        await create_api_key(
            KeyKind.ADMIN, None, "s", role=StaffRole.SUPPORT, points_adjustment_limit=-1
        )


async def test_the_audit_log_filters_by_operation_and_by_key(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    support_id, support = await staff_key(StaffRole.SUPPORT)
    await api.data(ADJUST, adjustment(member["id"], 5), key=support)
    await api.data(CREATE_REWARD, reward_input(), key=support)
    await grant_points(api, member["id"], 7)
    query = """query($operation: String, $key: Int) {
      auditLog(first: 50, operation: $operation, apiKeyId: $key) {
        edges { node { apiKeyId operation succeeded } }
      }
    }"""

    by_key = await api.data(query, {"key": support_id})
    adjustments = await api.data(query, {"operation": "adjustPoints"})
    both = await api.data(query, {"operation": "adjustPoints", "key": support_id})

    assert [e["node"] for e in by_key["auditLog"]["edges"]] == [
        {"apiKeyId": support_id, "operation": "createReward", "succeeded": False},
        {"apiKeyId": support_id, "operation": "adjustPoints", "succeeded": True},
    ]
    assert [e["node"]["operation"] for e in adjustments["auditLog"]["edges"]] == [
        "adjustPoints",
        "adjustPoints",
    ]
    assert [e["node"] for e in both["auditLog"]["edges"]] == [
        {"apiKeyId": support_id, "operation": "adjustPoints", "succeeded": True}
    ]
