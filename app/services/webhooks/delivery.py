"""Delivering the outbox to webhook endpoints, at least once, in outbox order per member.

1. Fan-out: events after the fan-out position become one delivery per endpoint that wants
   them (the body is made here, once, so every attempt sends the same bytes), and the position
   moves, in one transaction.
2. Claim: due deliveries whose member has no older undelivered event at that endpoint are
   leased (their next attempt moved past the time a send may take), on PostgreSQL with
   `FOR UPDATE SKIP LOCKED`, so several workers on several hosts share the work and never
   take the same delivery. A worker killed mid-send leaves its lease to run out: the delivery
   is sent again, the one duplicate the at-least-once contract allows.
3. Send: signed (app/services/webhooks/signing.py) to the address the guard checked, with a
   time limit, no redirects followed; 2xx is delivered.
4. Record: the attempt in the log; a failure is retried on RETRY_SCHEDULE (with jitter, about
   three days in all), then FAILED; an endpoint that has failed for DISABLE_AFTER and loses a
   delivery is disabled, with a `webhook_endpoint.disabled` event for the admins.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    connection,
    execute,
    fetch_all,
    fetch_all_in,
    fetch_one,
    from_json,
    in_transaction,
    is_postgres,
)
from app.domain.ids import encode_id
from app.domain.locales import DEFAULT_LOCALE
from app.services.core.events import EventRecord, append_event, events_after
from app.services.webhooks.addresses import AddressGuard, UnsafeAddressError
from app.services.webhooks.signing import signature_header

logger = logging.getLogger("laurel.webhooks")

# Seconds before each retry: 15 attempts over about three days.
RETRY_SCHEDULE = (
    5,
    30,
    120,
    600,
    1800,
    3600,
    7200,
    14400,
    28800,
    43200,
    43200,
    43200,
    43200,
    43200,
)
JITTER = 0.2
DISABLE_AFTER = timedelta(days=3)
FAN_OUT_BATCH = 500
USER_AGENT = "Laurel-Webhooks/1"
RESPONSE_KEPT = 500
# Sent only to the endpoint it was made for (sendTestWebhook), never fanned out.
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class DeliveryOptions:
    timeout_seconds: float = 10.0
    batch: int = 50
    allow_private_addresses: bool = False

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery is left alone: longer than any send may take (the time
        limit holds for each of connecting, writing and reading; the guard's DNS lookup too)."""
        return timedelta(seconds=self.timeout_seconds * 4 + 5)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    endpoint_id: int
    event_id: int
    program_id: int
    url: str
    secrets: list[str]
    body: str
    attempts: int
    failing_since: datetime | None


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None
    latency_ms: int
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def wants(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint's filter takes a type: empty takes all, `points.*` a whole group."""
    if not event_types:
        return True
    return any(
        wanted == event_type or (wanted.endswith(".*") and event_type.startswith(wanted[:-1]))
        for wanted in event_types
    )


def message_id(event_id: int) -> str:
    """The `webhook-id`: the same for every attempt, and for every endpoint, of one event."""
    return f"evt_{event_id}"


def envelope(
    event: EventRecord, slug: str, customer_id: str | None, locale: str = DEFAULT_LOCALE
) -> str:
    """The body sent: Standard Webhooks' `type`, `timestamp` and `data`; `data` names the
    program and member, so a message can be written without another call, in the member's
    language (`locale`: their profile's, else the program's default locale)."""
    data: dict[str, Any] = {
        "eventId": encode_id("Event", event.id),
        "program": {"id": encode_id("Program", event.program_id), "slug": slug},
        "member": None
        if event.member_id is None
        else {
            "id": encode_id("Member", event.member_id),
            "customerId": customer_id,
            "locale": locale,
        },
        **event.payload,
    }
    return json.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def work_waiting() -> bool:
    """Whether a round could find anything to do, by two reads outside any transaction: with
    no enabled endpoint, or nothing pending and no event past the fan-out position, the worker
    takes no write lock (on SQLite it would hold up the requests' writes)."""
    row = await fetch_one(
        connection(),
        "SELECT (SELECT COUNT(*) FROM webhook_endpoints WHERE enabled = ? AND deleted_at IS NULL)"
        " AS endpoints,"
        " (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'PENDING') AS pending,"
        " (SELECT COALESCE(MAX(id), 0) FROM outbox_events) AS newest,"
        " (SELECT COALESCE(MAX(last_event_id), 0) FROM webhook_fan_out) AS position",
        (True,),
    )
    assert row is not None
    if not int(row["endpoints"]):
        return False
    return bool(int(row["pending"])) or int(row["newest"]) > int(row["position"])


async def fan_out(now: datetime, batch: int = FAN_OUT_BATCH) -> int:
    """Turns the next events into deliveries; how many events it took."""
    async with in_transaction() as conn:
        position = await _locked_position(conn)
        events = await events_after(conn, position, batch)
        if not events:
            return 0
        endpoints = await fetch_all(
            conn,
            "SELECT id, program_id, event_types, created_at FROM webhook_endpoints"
            " WHERE enabled = ? AND deleted_at IS NULL",
            (True,),
        )
        by_program: dict[int, list[tuple[int, list[str], datetime]]] = {}
        for row in endpoints:
            by_program.setdefault(int(row["program_id"]), []).append(
                (
                    int(row["id"]),
                    [str(t) for t in from_json(row["event_types"]) or []],
                    as_datetime(row["created_at"]),
                )
            )
        # Replayed history (an import) is the members' record, not news to send.
        wanted = [
            event
            for event in events
            if event.program_id in by_program and event.type != TEST_EVENT and not event.replayed
        ]
        names = await _names(conn, wanted)
        for event in wanted:
            body: str | None = None
            for endpoint_id, event_types, created_at in by_program[event.program_id]:
                # An endpoint gets what happens from its creation on, not the history before.
                if event.created_at < created_at or not wants(event_types, event.type):
                    continue
                body = body or envelope(
                    event,
                    names.slugs[event.program_id],
                    names.customers.get(event.member_id or 0),
                    names.locales.get(event.member_id or 0) or names.defaults[event.program_id],
                )
                await insert_delivery(conn, endpoint_id, event, body, now)
        await execute(
            conn, "UPDATE webhook_fan_out SET last_event_id = ? WHERE id = 1", (events[-1].id,)
        )
        return len(events)


async def insert_delivery(
    conn: BaseDBAsyncClient, endpoint_id: int, event: EventRecord, body: str, now: datetime
) -> None:
    await execute(
        conn,
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, member_id, event_type, body,"
        " status, attempts, next_attempt_at, last_error, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'PENDING', 0, ?, '', ?)"
        " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        (endpoint_id, event.id, event.member_id, event.type, body, now, now),
    )


async def _locked_position(conn: BaseDBAsyncClient) -> int:
    await execute(
        conn,
        "INSERT INTO webhook_fan_out (id, last_event_id) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    )
    lock = " FOR UPDATE" if is_postgres(conn) else ""
    row = await fetch_one(conn, f"SELECT last_event_id FROM webhook_fan_out WHERE id = 1{lock}")
    assert row is not None
    return int(row["last_event_id"])


@dataclass(frozen=True)
class _Names:
    slugs: dict[int, str]
    # The programs' default locales, by program.
    defaults: dict[int, str]
    customers: dict[int, str]
    # The members' own locales (those who have one), by member.
    locales: dict[int, str]


async def _names(conn: BaseDBAsyncClient, events: list[EventRecord]) -> _Names:
    program_ids = sorted({event.program_id for event in events})
    member_ids = sorted({event.member_id for event in events if event.member_id is not None})
    programs = await fetch_all_in(
        conn, "SELECT id, slug, default_locale FROM programs", "id", program_ids
    )
    members = await fetch_all_in(
        conn, "SELECT id, customer_id, locale FROM members", "id", member_ids
    )
    return _Names(
        slugs={int(row["id"]): str(row["slug"]) for row in programs},
        defaults={int(row["id"]): str(row["default_locale"]) for row in programs},
        customers={int(row["id"]): str(row["customer_id"]) for row in members},
        locales={int(row["id"]): str(row["locale"]) for row in members if row["locale"]},
    )


_DUE = """
SELECT d.id, d.endpoint_id, d.event_id, d.body, d.attempts, e.program_id, e.url, e.secret,
       e.previous_secret, e.previous_secret_expires_at, e.failing_since
FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.status = 'PENDING' AND d.next_attempt_at <= ? AND e.enabled = ? AND e.deleted_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM webhook_deliveries older
    WHERE older.endpoint_id = d.endpoint_id AND older.member_id = d.member_id
      AND older.status = 'PENDING' AND older.id < d.id)
ORDER BY d.id LIMIT ?"""


async def claim_due(now: datetime, options: DeliveryOptions, limit: int) -> list[ClaimedDelivery]:
    """Leases the due deliveries this worker will send now."""
    async with in_transaction() as conn:
        statement = _DUE + (" FOR UPDATE OF d SKIP LOCKED" if is_postgres(conn) else "")
        rows = await fetch_all(conn, statement, (now, True, limit))
        if not rows:
            return []
        ids = [int(row["id"]) for row in rows]
        await execute(
            conn,
            f"UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id IN"
            f" ({', '.join('?' * len(ids))})",
            (now + options.lease, *ids),
        )
    claimed = []
    for row in rows:
        secrets = [str(row["secret"])]
        expires = row["previous_secret_expires_at"]
        if row["previous_secret"] and expires is not None and as_datetime(expires) > now:
            secrets.append(str(row["previous_secret"]))
        claimed.append(
            ClaimedDelivery(
                id=int(row["id"]),
                endpoint_id=int(row["endpoint_id"]),
                event_id=int(row["event_id"]),
                program_id=int(row["program_id"]),
                url=str(row["url"]),
                secrets=secrets,
                body=str(row["body"]),
                attempts=int(row["attempts"]),
                failing_since=None
                if row["failing_since"] is None
                else as_datetime(row["failing_since"]),
            )
        )
    return claimed


async def send(
    client: httpx.AsyncClient,
    guard: AddressGuard,
    url: str,
    secrets: list[str],
    message: str,
    body: str,
    now: datetime,
) -> AttemptOutcome:
    """One signed POST to the address the guard approved; never raises for the endpoint's
    sake (a refused address, a timeout, a reset are outcomes)."""
    started = time.monotonic()
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, message, timestamp, body),
    }
    try:
        target = await guard.target(url)
        address = f"[{target.address}]" if ":" in target.address else target.address
        pinned = httpx.URL(url).copy_with(host=address.strip("[]"))
        default_port = 443 if target.scheme == "https" else 80
        headers["host"] = (
            target.host if target.port == default_port else f"{target.host}:{target.port}"
        )
        answer = await client.post(
            pinned,
            content=body.encode(),
            headers=headers,
            extensions={"sni_hostname": target.host},
        )
        latency = int((time.monotonic() - started) * 1000)
        error = "" if 200 <= answer.status_code < 300 else answer.text[:RESPONSE_KEPT]
        return AttemptOutcome(answer.status_code, latency, error)
    except UnsafeAddressError as exc:
        return AttemptOutcome(None, int((time.monotonic() - started) * 1000), str(exc))
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}"[:RESPONSE_KEPT]
        return AttemptOutcome(None, int((time.monotonic() - started) * 1000), reason)


def next_attempt(attempts_made: int, now: datetime, rng: random.Random) -> datetime | None:
    """When to try again after `attempts_made` attempts (None: none left)."""
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    seconds = RETRY_SCHEDULE[attempts_made - 1]
    return now + timedelta(seconds=seconds * rng.uniform(1 - JITTER, 1 + JITTER))


async def record(
    delivery: ClaimedDelivery, outcome: AttemptOutcome, now: datetime, rng: random.Random
) -> None:
    attempts = delivery.attempts + 1
    async with in_transaction() as conn:
        await execute(
            conn,
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (delivery.id, attempts, outcome.status_code, outcome.latency_ms, outcome.error, now),
        )
        retry_at = None if outcome.delivered else next_attempt(attempts, now, rng)
        status = "SUCCEEDED" if outcome.delivered else "PENDING" if retry_at else "FAILED"
        await execute(
            conn,
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
            " last_attempt_at = ?, last_status_code = ?, last_latency_ms = ?, last_error = ?"
            " WHERE id = ?",
            (
                status,
                attempts,
                retry_at or now,
                now,
                outcome.status_code,
                outcome.latency_ms,
                outcome.error,
                delivery.id,
            ),
        )
        if outcome.delivered:
            if delivery.failing_since is not None:
                await execute(
                    conn,
                    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?",
                    (delivery.endpoint_id,),
                )
            return
        await execute(
            conn,
            "UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL",
            (now, delivery.endpoint_id),
        )
        failing_since = delivery.failing_since or now
        if status == "FAILED" and now - failing_since >= DISABLE_AFTER:
            await _disable(conn, delivery, failing_since, now)


async def _disable(
    conn: BaseDBAsyncClient, delivery: ClaimedDelivery, failing_since: datetime, now: datetime
) -> None:
    reason = (
        f"every attempt failed since {failing_since.isoformat()}; a delivery ran out of attempts"
    )
    changed = await execute(
        conn,
        "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, updated_at = ?"
        " WHERE id = ? AND enabled = ?",
        (False, reason, now, delivery.endpoint_id, True),
    )
    if changed:
        logger.warning("webhook endpoint %s disabled: %s", delivery.endpoint_id, reason)
        await append_event(
            conn,
            program_id=delivery.program_id,
            member_id=None,
            event_type="webhook_endpoint.disabled",
            payload={
                "endpointId": encode_id("WebhookEndpoint", delivery.endpoint_id),
                "url": delivery.url,
                "reason": reason,
            },
            now=now,
        )
