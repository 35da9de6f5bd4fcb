"""Helpers for the API tests: global ids built by hand, and raw looks at the database.

`snapshot()` reads everything a request could write (row counts of every table, the cached
balances of every member, the stock of every reward), so a test can assert that a refused
request wrote nothing at all.
"""

from __future__ import annotations

import base64
from typing import Any

from tortoise.connection import connections

from app.db import execute, utc_now

TABLES = (
    "programs",
    "api_keys",
    "members",
    "rewards",
    "redemptions",
    "orders",
    "ledger_transactions",
    "ledger_entries",
    "point_lots",
    "idempotency_records",
    "outbox_events",
)

# The alphabet of redemption codes (app/domain/rewards.py), restated here on purpose.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PATTERN = rf"^[{CODE_ALPHABET}]{{4}}(-[{CODE_ALPHABET}]{{4}}){{3}}$"


def b64(raw: str) -> str:
    """URL-safe base64 without padding, the encoding of global ids."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def global_id(type_name: str, pk: int) -> str:
    return b64(f"{type_name}:{pk}")


def pk_of(gid: str) -> int:
    """The primary key inside a global id (for ids the API handed out)."""
    raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode()
    return int(raw.partition(":")[2])


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [error["code"] for error in errors]


def top_level_codes(body: dict[str, Any]) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def rows(statement: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await connections.get("default").execute_query_dict(statement)
    return result


async def count_rows(table: str) -> int:
    assert table in TABLES
    return int((await rows(f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"])


async def snapshot() -> dict[str, Any]:
    """Everything a request could have written, in a form that compares with `==`."""
    counts = {table: await count_rows(table) for table in TABLES}
    members = [
        {key: int(value) for key, value in row.items()}
        for row in await rows(
            "SELECT id, points_available, points_pending, lifetime_earned, lifetime_redeemed"
            " FROM members ORDER BY id"
        )
    ]
    rewards = [
        {"id": int(row["id"]), "stock": row["stock"], "active": bool(row["active"])}
        for row in await rows("SELECT id, stock, active FROM rewards ORDER BY id")
    ]
    return {"counts": counts, "members": members, "rewards": rewards}


async def revoke_key(key_id: int) -> None:
    await execute(
        connections.get("default"),
        "UPDATE api_keys SET revoked_at = ? WHERE id = ?",
        (utc_now(), key_id),
    )


async def earning_rule_rows() -> list[dict[str, Any]]:
    """Every earning rule exactly as stored (`earning_rules` is not in `TABLES`)."""
    return await rows("SELECT * FROM earning_rules ORDER BY id")


async def snapshot_with_rules() -> dict[str, Any]:
    """`snapshot()` plus every earning rule as stored, to prove a refused rule change wrote
    nothing: no new rule, no changed rule, no event."""
    return {**await snapshot(), "earning_rules": await earning_rule_rows()}
