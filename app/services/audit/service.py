"""The audit log of admin writes: who (the key), what (the mutation and its input), when, and
the object it changed before and after, as the services see it.

An entry is written on the connection it is given: inside a write's own transaction, it commits
with the write or not at all (app/graphql/core/audit.py).

Snapshots are the service records (programs, rules, rewards, members...) as JSON; secrets
never appear in them, and input fields named like secrets are redacted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    connection,
    execute,
    fetch_all,
    fetch_one,
    from_json,
    utc_now,
)
from app.domain.ids import decode_any_id
from app.services.actions import service as actions
from app.services.experiments import service as experiments
from app.services.members import service as members
from app.services.orders import earning_rules
from app.services.orders import service as orders
from app.services.programs import service as programs
from app.services.punch_cards import service as punch_cards
from app.services.rewards import service as rewards
from app.services.store_credit import service as store_credit

# The key id of the entries a `laurel` command run on the server writes (bulk operations started
# from the command line): it has no API key, and key ids start at 1.
COMMAND_LINE_KEY_ID = 0
COMMAND_LINE_ACTOR = "COMMAND_LINE"
API_KEY_ACTOR = "API_KEY"

# Secrets, and the fraud signals that are only ever stored hashed (the referrals service).
_REDACTED_FIELDS = frozenset(
    {"secret", "token", "password", "signals", "friendsignals", "referrersignals"}
)

# A member's personal data (app/services/members/profile.py): kept out of the log, in the
# input of the mutations that carry it and in every snapshot of a member, so that erasing a
# member leaves none of it behind here.
_PERSONAL_FIELDS = frozenset({"email", "name", "birthday", "phone", "cardnumber", "attributes"})
_PERSONAL_OPERATIONS = frozenset({"enrollMember", "updateMemberProfile", "eraseMember"})

_LOADERS: dict[str, Callable[[int], Awaitable[Any]]] = {
    "Program": lambda pk: programs.get_program(pk, None),
    "Member": lambda pk: members.get_member(pk, None),
    "Reward": lambda pk: rewards.get_reward(pk, None),
    "Redemption": lambda pk: rewards.get_redemption(pk, None),
    "EarningRule": lambda pk: earning_rules.get_earning_rule(pk, None),
    "ActionRule": lambda pk: actions.get_action_rule(pk, None),
    "Order": lambda pk: orders.get_order(pk, None),
    "PunchCard": lambda pk: punch_cards.get_punch_card(pk, None),
    "StoreCreditMovement": lambda pk: store_credit.get_movement(pk, None),
    "Experiment": lambda pk: experiments.get_experiment(pk, None),
}


@dataclass(frozen=True)
class Target:
    type_name: str
    key: str
    # How to read it: a primary key, or a program slug.
    pk: int | None = None
    slug: str | None = None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def redacted(value: Any, fields: frozenset[str] = _REDACTED_FIELDS) -> Any:
    """Secrets (or `fields`) out (`storable` then makes the rest fit a JSON column)."""
    if isinstance(value, dict):
        return {
            key: "[redacted]" if key.lower() in fields else redacted(item, fields)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redacted(item, fields) for item in value]
    return value


def target_of(arguments: dict[str, Any]) -> Target | None:
    """What a mutation's input names: an object by global id, a member, or a program."""
    data = arguments.get("input")
    if not isinstance(data, dict):
        return None
    for field in ("id", "memberId", "rewardId", "redemptionId", "ruleId", "spendId"):
        value = data.get(field)
        if isinstance(value, str):
            decoded = decode_any_id(value)
            if decoded is not None and decoded[0] in _LOADERS:
                return Target(type_name=decoded[0], key=value, pk=decoded[1])
    for field in ("programSlug", "slug"):
        value = data.get(field)
        if isinstance(value, str):
            return Target(type_name="Program", key=value, slug=value)
    return None


async def snapshot(target: Target | None) -> Any:
    """The target as the services read it on the current connection (the transaction's, inside
    one)."""
    if target is None:
        return None
    if target.slug is not None:
        record = await programs.get_program_by_slug(target.slug, None)
    else:
        assert target.pk is not None
        record = await _LOADERS[target.type_name](target.pk)
    if record is None:
        return None
    if target.type_name == "Member":
        return redacted(_plain(record), _PERSONAL_FIELDS)
    return _plain(record)


# Longest text kept of any one value in an entry; the target's id column holds 200.
AUDIT_TEXT_MAX = 2000
TARGET_ID_MAX = 200
# NUL (PostgreSQL's text and jsonb refuse it) and lone UTF-16 surrogates (UTF-8 cannot hold
# them): what a refused request may carry, and the entry must still be written.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _storable_text(text: str, limit: int = AUDIT_TEXT_MAX) -> str:
    cleaned = _UNSTORABLE.sub("\ufffd", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"


def storable(value: Any) -> Any:
    """`value` as every database can store it in a JSON column, whatever the request sent:
    texts without NUL or lone surrogates and cut to AUDIT_TEXT_MAX, numbers JSON can write
    (1e400 arrives as infinity), everything else as its text."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {_storable_text(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return _storable_text(str(value))


def _as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(storable(value), default=str, allow_nan=False)


async def record_write(
    conn: BaseDBAsyncClient,
    *,
    api_key_id: int,
    operation: str,
    arguments: dict[str, Any],
    target: Target | None,
    before: Any,
    after: Any,
    succeeded: bool,
    request_id: str,
) -> int:
    """Add an entry; its id."""
    row = await fetch_one(
        conn,
        "INSERT INTO audit_log (api_key_id, operation, target_type, target_id, input, before,"
        " after, succeeded, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (
            api_key_id,
            operation,
            None if target is None else target.type_name,
            None if target is None else _storable_text(target.key, TARGET_ID_MAX),
            _as_json(
                redacted(
                    arguments,
                    _REDACTED_FIELDS | _PERSONAL_FIELDS
                    if operation in _PERSONAL_OPERATIONS
                    else _REDACTED_FIELDS,
                )
            ),
            _as_json(before),
            _as_json(after),
            succeeded,
            request_id,
            utc_now(),
        ),
    )
    assert row is not None
    return int(row["id"])


async def record_after(conn: BaseDBAsyncClient, entry_id: int, after: Any) -> None:
    """The entry's target as a later transaction of the same write left it."""
    await execute(conn, "UPDATE audit_log SET after = ? WHERE id = ?", (_as_json(after), entry_id))


async def record_failure(entry_id: int) -> None:
    """The write committed some of its work, then failed."""
    await execute(
        connection(), "UPDATE audit_log SET succeeded = ? WHERE id = ?", (False, entry_id)
    )


@dataclass(frozen=True)
class AuditRecord:
    id: int
    api_key_id: int
    operation: str
    target_type: str | None
    target_id: str | None
    input: Any
    before: Any
    after: Any
    succeeded: bool
    request_id: str
    created_at: datetime

    @property
    def actor(self) -> str:
        """COMMAND_LINE for a write made by a command on the server, else API_KEY."""
        return COMMAND_LINE_ACTOR if self.api_key_id == COMMAND_LINE_KEY_ID else API_KEY_ACTOR


async def list_audit_log(
    *,
    before_id: int | None,
    limit: int,
    target_id: str | None,
    operation: str | None = None,
    api_key_id: int | None = None,
) -> list[AuditRecord]:
    conditions: list[str] = []
    params: list[object] = []
    if before_id is not None:
        conditions.append("id < ?")
        params.append(before_id)
    for column, value in (
        ("target_id", target_id),
        ("operation", operation),
        ("api_key_id", api_key_id),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await fetch_all(
        connection(),
        "SELECT id, api_key_id, operation, target_type, target_id, input, before, after,"
        f" succeeded, request_id, created_at FROM audit_log{where} ORDER BY id DESC LIMIT ?",
        (*params, limit),
    )
    return [
        AuditRecord(
            id=int(row["id"]),
            api_key_id=int(row["api_key_id"]),
            operation=str(row["operation"]),
            target_type=row["target_type"],
            target_id=row["target_id"],
            input=from_json(row["input"]),
            before=from_json(row["before"]),
            after=from_json(row["after"]),
            succeeded=bool(row["succeeded"]),
            request_id=str(row["request_id"]),
            created_at=as_datetime(row["created_at"]),
        )
        for row in rows
    ]
