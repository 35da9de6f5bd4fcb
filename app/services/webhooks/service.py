"""Webhook endpoints and their delivery logs, as admins manage them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    connection,
    execute,
    fetch_all,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.validation import Checker
from app.rows import Keyset, RowMapper
from app.services.core.events import EventRecord, append_event
from app.services.core.idempotency import checked_key, keyed_write, once_if_keyed
from app.services.programs.service import require_program
from app.services.webhooks import catalogue
from app.services.webhooks.addresses import AddressGuard, check_url
from app.services.webhooks.delivery import TEST_EVENT, envelope, insert_delivery
from app.services.webhooks.signing import new_secret

URL_MAX = 2000
DESCRIPTION_MAX = 500
MAX_EVENT_TYPES = 100
MAX_ENDPOINTS_PER_PROGRAM = 20
MAX_OVERLAP_HOURS = 24 * 7
_NEWEST_FIRST = Keyset(newest_first=True)
# A member's deliveries across the program's endpoints: the (member_id, id) index, walked
# backwards.
_MEMBER_NEWEST_FIRST = Keyset(newest_first=True, within="member_id")
# Whether endpoints on private addresses are allowed (LAUREL_WEBHOOKS_ALLOW_PRIVATE), set as
# the server or worker starts.
_guard = AddressGuard(allow_private=False)


def allow_private_addresses(allowed: bool) -> None:
    global _guard
    _guard = AddressGuard(allow_private=allowed)


@dataclass(frozen=True)
class EndpointRecord:
    id: int
    program_id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    endpoint_id: int
    event_id: int
    event_type: str
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str
    created_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str
    created_at: datetime


_endpoint = RowMapper(EndpointRecord)
_ENDPOINT_COLUMNS = _endpoint.columns
_delivery = RowMapper(DeliveryRecord)
_DELIVERY_COLUMNS = _delivery.columns


@dataclass(frozen=True)
class CreateEndpointInput:
    program_slug: str
    url: str
    event_types: tuple[str, ...] = ()
    description: str | None = None
    enabled: bool = True
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdateEndpointInput:
    id: int
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: EndpointRecord
    # Shown once: only the endpoint's owner needs it, to verify signatures.
    secret: str


def _checked_url(check: Checker, url: str) -> str:
    field = ["input", "url"]
    cleaned = check.text(field, url, URL_MAX) or ""
    if not cleaned:
        return cleaned
    problem = check_url(cleaned)
    if problem is not None:
        check.add(ErrorCode.INVALID_VALUE, problem, field)
        return cleaned
    refusal = _guard.literal_refusal(cleaned)
    if refusal is not None:
        check.add(ErrorCode.UNSAFE_URL, refusal, field)
    return cleaned


def _checked_event_types(check: Checker, event_types: tuple[str, ...]) -> list[str]:
    field = ["input", "eventTypes"]
    if len(event_types) > MAX_EVENT_TYPES:
        check.add(ErrorCode.TOO_MANY, f"at most {MAX_EVENT_TYPES} event types", field)
        return []
    cleaned = []
    for index, entry in enumerate(event_types):
        value = entry.strip()
        if not catalogue.is_known_filter(value):
            check.add(
                ErrorCode.INVALID_VALUE,
                f"{value[:80]!r} is no event type (see webhookEventTypes) or group like points.*",
                [*field, str(index)],
            )
        cleaned.append(value)
    return sorted(set(cleaned))


async def create_endpoint(data: CreateEndpointInput) -> EndpointWithSecret:
    check = Checker()
    url = _checked_url(check, data.url)
    event_types = _checked_event_types(check, data.event_types)
    description = check.text(
        ["input", "description"], data.description, DESCRIPTION_MAX, required=False
    )
    key = checked_key(data.idempotency_key)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> EndpointWithSecret:
            count = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE program_id = ?"
                " AND deleted_at IS NULL",
                (program.id,),
            )
            if count is not None and int(count["n"]) >= MAX_ENDPOINTS_PER_PROGRAM:
                raise DomainError(
                    ErrorCode.TOO_MANY,
                    f"a program has at most {MAX_ENDPOINTS_PER_PROGRAM} webhook endpoints",
                    ["input", "programSlug"],
                )
            secret = new_secret()
            row = await fetch_one(
                conn,
                "INSERT INTO webhook_endpoints (program_id, url, description, event_types,"
                " enabled, disabled_reason, secret, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?, '', ?, ?, ?) RETURNING {_ENDPOINT_COLUMNS}",
                (
                    program.id,
                    url,
                    description or "",
                    _json(event_types),
                    data.enabled,
                    secret,
                    now,
                    now,
                ),
            )
            assert row is not None
            return EndpointWithSecret(_endpoint(row), secret)

        async def replay(stored: dict[str, Any]) -> EndpointWithSecret:
            row = await fetch_one(
                conn,
                f"SELECT {_ENDPOINT_COLUMNS}, secret FROM webhook_endpoints WHERE id = ?",
                (int(stored["endpointId"]),),
            )
            assert row is not None
            return EndpointWithSecret(_endpoint(row), str(row["secret"]))

        return await once_if_keyed(
            conn,
            **keyed_write(program.id, key, "createWebhookEndpoint", data, now),
            perform=perform,
            remember=lambda made: {"endpointId": made.endpoint.id},
            replay=replay,
        )


def _json(values: list[str]) -> str:
    return json.dumps(values)


async def require_endpoint(
    endpoint_id: int, conn: BaseDBAsyncClient | None = None, *, lock: bool = False
) -> EndpointRecord:
    if lock and conn is not None:
        # A write first: it locks the row on PostgreSQL and SQLite alike.
        await execute(
            conn,
            "UPDATE webhook_endpoints SET updated_at = updated_at WHERE id = ?",
            (endpoint_id,),
        )
    row = await fetch_one(
        conn or connection(),
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL",
        (endpoint_id,),
    )
    if row is None:
        raise DomainError(
            ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND, "no such webhook endpoint", ["input", "id"]
        )
    return _endpoint(row)


async def update_endpoint(data: UpdateEndpointInput) -> EndpointRecord:
    check = Checker()
    url = None if data.url is None else _checked_url(check, data.url)
    event_types = (
        None if data.event_types is None else _checked_event_types(check, data.event_types)
    )
    description = (
        None
        if data.description is None
        else check.text(["input", "description"], data.description, DESCRIPTION_MAX, required=False)
        or ""
    )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        current = await require_endpoint(data.id, conn, lock=True)
        enabling = data.enabled is True and not current.enabled
        row = await fetch_one(
            conn,
            "UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, enabled = ?,"
            " disabled_reason = ?, failing_since = ?, updated_at = ? WHERE id = ?"
            f" RETURNING {_ENDPOINT_COLUMNS}",
            (
                url or current.url,
                current.description if description is None else description,
                _json(current.event_types if event_types is None else event_types),
                current.enabled if data.enabled is None else data.enabled,
                "" if enabling or data.enabled is False else current.disabled_reason,
                None if enabling else current.failing_since,
                now,
                data.id,
            ),
        )
        assert row is not None
        return _endpoint(row)


async def rotate_secret(endpoint_id: int, overlap_hours: int) -> EndpointWithSecret:
    """A new secret; the old one keeps signing beside it for `overlap_hours`, so receivers can
    switch without losing a message."""
    check = Checker()
    check.int_range(
        ["input", "overlapHours"], overlap_hours, 0, MAX_OVERLAP_HOURS, ErrorCode.INVALID_VALUE
    )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        await require_endpoint(endpoint_id, conn, lock=True)
        secret = new_secret()
        row = await fetch_one(
            conn,
            "UPDATE webhook_endpoints SET previous_secret = secret, secret = ?,"
            " previous_secret_expires_at = ?, updated_at = ? WHERE id = ?"
            f" RETURNING {_ENDPOINT_COLUMNS}",
            (secret, now + timedelta(hours=overlap_hours), now, endpoint_id),
        )
        assert row is not None
        return EndpointWithSecret(_endpoint(row), secret)


async def delete_endpoint(endpoint_id: int) -> EndpointRecord:
    """Stops its deliveries; its log stays readable in the database."""
    now = utc_now()
    async with in_transaction() as conn:
        endpoint = await require_endpoint(endpoint_id, conn, lock=True)
        await execute(
            conn,
            "UPDATE webhook_endpoints SET deleted_at = ?, enabled = ?, updated_at = ? WHERE id = ?",
            (now, False, now, endpoint_id),
        )
        await execute(
            conn,
            "UPDATE webhook_deliveries SET status = 'FAILED', last_error = 'endpoint deleted'"
            " WHERE endpoint_id = ? AND status = 'PENDING'",
            (endpoint_id,),
        )
        return endpoint


async def list_endpoints(program_id: int) -> list[EndpointRecord]:
    rows = await fetch_all(
        connection(),
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE program_id = ?"
        " AND deleted_at IS NULL ORDER BY id",
        (program_id,),
    )
    return [_endpoint(row) for row in rows]


async def list_deliveries(
    endpoint_id: int, *, status: str | None, after_id: int | None, limit: int
) -> list[DeliveryRecord]:
    """An endpoint's deliveries, newest first."""
    return await _newest_deliveries(
        "endpoint_id", endpoint_id, _NEWEST_FIRST, status=status, after_id=after_id, limit=limit
    )


async def list_member_deliveries(
    member_id: int, *, status: str | None, after_id: int | None, limit: int
) -> list[DeliveryRecord]:
    """Deliveries of the events about one member, to any endpoint, newest first."""
    return await _newest_deliveries(
        "member_id", member_id, _MEMBER_NEWEST_FIRST, status=status, after_id=after_id, limit=limit
    )


async def _newest_deliveries(
    owner_column: str,
    owner_id: int,
    page: Keyset,
    *,
    status: str | None,
    after_id: int | None,
    limit: int,
) -> list[DeliveryRecord]:
    select = f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE {owner_column} = ?"
    params: list[Any] = [owner_id]
    if status is not None:
        select += " AND status = ?"
        params.append(status)
    rows = await fetch_all(
        connection(),
        select + page.clause,
        # `within` is the owner only for a keyset that walks the (owner, id) index.
        (*params, *page.params(after_id, limit, owner_id)),
    )
    return [_delivery(row) for row in rows]


async def attempts_of(delivery_ids: list[int]) -> dict[int, list[AttemptRecord]]:
    if not delivery_ids:
        return {}
    rows = await fetch_all(
        connection(),
        "SELECT delivery_id, attempt, status_code, latency_ms, error, created_at"
        f" FROM webhook_attempts WHERE delivery_id IN ({', '.join('?' * len(delivery_ids))})"
        " ORDER BY delivery_id, id",
        delivery_ids,
    )
    attempts: dict[int, list[AttemptRecord]] = {key: [] for key in delivery_ids}
    for row in rows:
        attempts[int(row["delivery_id"])].append(
            AttemptRecord(
                attempt=int(row["attempt"]),
                status_code=None if row["status_code"] is None else int(row["status_code"]),
                latency_ms=int(row["latency_ms"]),
                error=str(row["error"]),
                created_at=as_datetime(row["created_at"]),
            )
        )
    return attempts


async def program_of_delivery(delivery_id: int) -> int | None:
    row = await fetch_one(
        connection(),
        "SELECT e.program_id FROM webhook_deliveries d JOIN webhook_endpoints e"
        " ON e.id = d.endpoint_id WHERE d.id = ?",
        (delivery_id,),
    )
    return None if row is None else int(row["program_id"])


async def redeliver(delivery_id: int) -> DeliveryRecord:
    """Sends a delivery again now, with a whole new round of retries (delivered or not)."""
    now = utc_now()
    async with in_transaction() as conn:
        row = await fetch_one(
            conn,
            "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = ?"
            f" WHERE id = ? RETURNING {_DELIVERY_COLUMNS}",
            (now, delivery_id),
        )
        if row is None:
            raise DomainError(
                ErrorCode.WEBHOOK_DELIVERY_NOT_FOUND, "no such webhook delivery", ["input", "id"]
            )
        return _delivery(row)


async def redeliver_failed(endpoint_id: int, since: datetime) -> int:
    """Every FAILED delivery of the endpoint made since `since`, sent again; how many."""
    if since.tzinfo is None:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "since needs a time zone, e.g. 2026-11-20T10:00:00Z",
            ["input", "since"],
        )
    now = utc_now()
    async with in_transaction() as conn:
        await require_endpoint(endpoint_id, conn)
        return await execute(
            conn,
            "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = ?"
            " WHERE endpoint_id = ? AND status = 'FAILED' AND created_at >= ?",
            (now, endpoint_id, since),
        )


async def send_test(endpoint_id: int) -> DeliveryRecord:
    """A `webhook.test` event, delivered to this endpoint only, whatever its filter."""
    now = utc_now()
    async with in_transaction() as conn:
        endpoint = await require_endpoint(endpoint_id, conn)
        program = await fetch_one(
            conn, "SELECT slug FROM programs WHERE id = ?", (endpoint.program_id,)
        )
        assert program is not None
        payload = {
            "endpointId": encode_id("WebhookEndpoint", endpoint.id),
            "message": "Laurel test event",
        }
        await append_event(
            conn,
            program_id=endpoint.program_id,
            member_id=None,
            event_type=TEST_EVENT,
            payload=payload,
            now=now,
        )
        event_row = await fetch_one(
            conn,
            "SELECT id FROM outbox_events WHERE program_id = ? AND type = ?"
            " ORDER BY id DESC LIMIT 1",
            (endpoint.program_id, TEST_EVENT),
        )
        assert event_row is not None
        event = EventRecord(
            id=int(event_row["id"]),
            program_id=endpoint.program_id,
            member_id=None,
            type=TEST_EVENT,
            payload=payload,
            created_at=now,
        )
        await insert_delivery(
            conn, endpoint.id, event, envelope(event, str(program["slug"]), None), now
        )
        row = await fetch_one(
            conn,
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
            " WHERE endpoint_id = ? AND event_id = ?",
            (endpoint.id, event.id),
        )
        assert row is not None
        return _delivery(row)
