"""Idempotency keys: the same key and input replays the stored result; other input is refused.

The record is claimed as the first write of the transaction it protects, so on PostgreSQL a
concurrent retry with the same key waits on the unique index until the first attempt commits
(then replays) or rolls back (then runs). A failed attempt rolls its claim back with it, so a
request refused for bad input can be retried with the same key once fixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Unpack

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import execute, fetch_one, from_json
from app.domain.errors import DomainError, ErrorCode
from app.domain.validation import Checker

ResultT = TypeVar("ResultT")


class _Made(Protocol):
    @property
    def id(self) -> int: ...


class InProgram(Protocol):
    """A row of one program (a member, a rule...): its id and its program's."""

    @property
    def id(self) -> int: ...

    @property
    def program_id(self) -> int: ...


MadeT = TypeVar("MadeT", bound=_Made)


def scope_of(program_id: int, member_id: int, *, by_member: bool) -> str:
    """The namespace of keys: the program's, or for a member acting with a member token its
    own, so a storefront cannot take a key the store's backend will use."""
    return f"{program_id}:member:{member_id}" if by_member else str(program_id)


def request_fingerprint(operation: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps({"op": operation, **payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    conn: BaseDBAsyncClient,
    *,
    scope: str,
    key: str,
    operation: str,
    fingerprint: str,
    now: datetime,
) -> dict[str, Any] | None:
    """Claim `key` for this request; returns the stored response if it already ran.

    Keys are compared without surrounding whitespace, as their length was checked.
    """
    key = key.strip()
    claimed = await fetch_one(
        conn,
        "INSERT INTO idempotency_records (scope, key, operation, request_hash, response,"
        " created_at) VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (scope, key) DO NOTHING"
        " RETURNING id",
        (scope, key, operation, fingerprint, now),
    )
    if claimed is not None:
        return None
    stored = await fetch_one(
        conn,
        "SELECT operation, request_hash, response FROM idempotency_records"
        " WHERE scope = ? AND key = ?",
        (scope, key),
    )
    if stored is None or stored["operation"] != operation or stored["request_hash"] != fingerprint:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this idempotencyKey was already used with different input",
            ["input", "idempotencyKey"],
        )
    response = stored["response"]
    decoded: dict[str, Any] = from_json(response)
    return decoded


async def store_response(
    conn: BaseDBAsyncClient, *, scope: str, key: str, response: dict[str, Any]
) -> None:
    key = key.strip()
    await execute(
        conn,
        "UPDATE idempotency_records SET response = ? WHERE scope = ? AND key = ?",
        (json.dumps(response, separators=(",", ":")), scope, key),
    )


@dataclass(frozen=True)
class IdempotentRequest:
    """One write's claim on an idempotency key: where the key lives and what it must match."""

    scope: str
    key: str
    operation: str
    fingerprint: str

    @classmethod
    def of(
        cls, *, scope: str, key: str, operation: str, payload: dict[str, Any]
    ) -> IdempotentRequest:
        """The request for `operation` with its input `payload` (what a replay must match)."""
        return cls(
            scope=scope,
            key=key.strip(),
            operation=operation,
            fingerprint=request_fingerprint(operation, payload),
        )

    @classmethod
    def for_member(
        cls, member: InProgram, *, key: str, operation: str, **payload: Any
    ) -> IdempotentRequest:
        """A write to one member, keyed in its program's namespace: a replay must name the
        same member (as `memberId`) and the same `payload`."""
        return cls.of(
            scope=str(member.program_id),
            key=key,
            operation=operation,
            payload={"memberId": member.id, **payload},
        )


@dataclass(frozen=True)
class Outcome(Generic[ResultT]):
    value: ResultT
    replayed: bool


async def run_once(
    conn: BaseDBAsyncClient,
    request: IdempotentRequest,
    *,
    now: datetime,
    perform: Callable[[], Awaitable[ResultT]],
    remember: Callable[[ResultT], dict[str, Any]],
    replay: Callable[[dict[str, Any]], Awaitable[ResultT]],
    remembered_by_perform: Callable[[ResultT], bool] = lambda _: False,
) -> Outcome[ResultT]:
    """Run `perform` once per key, inside the caller's transaction `conn`.

    The claim is the transaction's first write. A key already used with the same input gives
    `replay(stored)` and runs nothing; with other input it raises IDEMPOTENCY_KEY_REUSED.
    `remember` turns the result into the small JSON document a later replay starts from (ids,
    not whole objects, so a replay reads the current rows). When `remembered_by_perform` says
    of the result that `perform` already stored that document in the record (in a statement
    it ran anyway: an order's points' movement), it is not stored again.
    """
    stored = await claim(
        conn,
        scope=request.scope,
        key=request.key,
        operation=request.operation,
        fingerprint=request.fingerprint,
        now=now,
    )
    if stored is not None:
        return Outcome(await replay(stored), replayed=True)
    value = await perform()
    if not remembered_by_perform(value):
        await store_response(conn, scope=request.scope, key=request.key, response=remember(value))
    return Outcome(value, replayed=False)


async def run_once_keeping(
    conn: BaseDBAsyncClient,
    request: IdempotentRequest,
    *,
    now: datetime,
    perform: Callable[[], Awaitable[int]],
    keep_as: str,
) -> Outcome[int]:
    """`run_once` for a write whose answer is one number (a transaction's id, a count): the key
    keeps it as `keep_as`, and a replay gives it back without reading anything."""

    async def replay(stored: dict[str, Any]) -> int:
        return int(stored[keep_as])

    return await run_once(
        conn,
        request,
        now=now,
        perform=perform,
        remember=lambda value: {keep_as: value},
        replay=replay,
    )


def input_payload(
    data: object, *, leave_out: tuple[str, ...] = ("idempotency_key",)
) -> dict[str, Any]:
    """A service input dataclass as the JSON a replay's input must match (without its key)."""
    fields = {
        name: value
        for name, value in dataclasses.asdict(data).items()  # type: ignore[call-overload]
        if name not in leave_out
    }
    decoded: dict[str, Any] = json.loads(json.dumps(fields, default=str, sort_keys=True))
    return decoded


async def once_if_keyed(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    key: str | None,
    operation: str,
    payload: dict[str, Any],
    now: datetime,
    perform: Callable[[], Awaitable[ResultT]],
    remember: Callable[[ResultT], dict[str, Any]],
    replay: Callable[[dict[str, Any]], Awaitable[ResultT]],
) -> ResultT:
    """`run_once` for writes whose key is optional (creating configuration): without a key the
    write runs; with one, a retry replays the first result instead of making a second row."""
    if key is None:
        return await perform()
    request = IdempotentRequest.of(
        scope=str(program_id), key=key, operation=operation, payload=payload
    )
    outcome = await run_once(
        conn, request, now=now, perform=perform, remember=remember, replay=replay
    )
    return outcome.value


class KeyedWrite(TypedDict):
    """The arguments of `once_if_keyed` that say which write runs once: passed on as they are."""

    program_id: int
    key: str | None
    operation: str
    payload: dict[str, Any]
    now: datetime


def keyed_write(
    program_id: int, key: str | None, operation: str, data: object, now: datetime
) -> KeyedWrite:
    """The `KeyedWrite` of a service input dataclass: its JSON (without its key) is what a
    retry's input must match."""
    return KeyedWrite(
        program_id=program_id, key=key, operation=operation, payload=input_payload(data), now=now
    )


async def create_once_if_keyed(
    conn: BaseDBAsyncClient,
    *,
    create: Callable[[], Awaitable[MadeT]],
    remember_id_as: str,
    read: Callable[[int], Awaitable[MadeT | None]],
    **write: Unpack[KeyedWrite],
) -> MadeT:
    """`once_if_keyed` for a write that makes one row: the key remembers the row's id (as
    `remember_id_as`), and a retry gives that row as `read` finds it now."""
    remember, replay = _remembered_by_id(remember_id_as, read)
    return await once_if_keyed(conn, **write, perform=create, remember=remember, replay=replay)


async def run_once_by_id(
    conn: BaseDBAsyncClient,
    request: IdempotentRequest,
    *,
    now: datetime,
    perform: Callable[[], Awaitable[MadeT]],
    remember_id_as: str,
    read: Callable[[int], Awaitable[MadeT | None]],
    remembered_by_perform: Callable[[MadeT], bool] = lambda _: False,
) -> Outcome[MadeT]:
    """`run_once` for a write whose result is one row: the key remembers the row's id (as
    `remember_id_as`), and a replay gives that row as `read` finds it now."""
    remember, replay = _remembered_by_id(remember_id_as, read)
    return await run_once(
        conn,
        request,
        now=now,
        perform=perform,
        remember=remember,
        replay=replay,
        remembered_by_perform=remembered_by_perform,
    )


def _remembered_by_id(
    name: str, read: Callable[[int], Awaitable[MadeT | None]]
) -> tuple[Callable[[MadeT], dict[str, Any]], Callable[[dict[str, Any]], Awaitable[MadeT]]]:
    """What a key remembers of a row (its id, as `name`), and how a replay reads it again."""

    def remember(made: MadeT) -> dict[str, Any]:
        return {name: made.id}

    async def replay(stored: dict[str, Any]) -> MadeT:
        made = await read(int(stored[name]))
        assert made is not None
        return made

    return remember, replay


def checked_key(key: str | None) -> str | None:
    """An optional idempotencyKey, trimmed; too long or with control characters is refused."""
    check = Checker()
    trimmed = check.idempotency_key(key, required=False)
    check.raise_if_any()
    return trimmed
