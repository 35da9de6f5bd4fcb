"""Webhook endpoints and their delivery log (app/services/webhooks)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.services.webhooks.service import (
    AttemptRecord,
    DeliveryRecord,
    EndpointRecord,
)


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(description="Where a program's events are sent, signed (Standard Webhooks).")
class WebhookEndpoint(Node):
    url: str
    description: str
    event_types: list[str] = strawberry.field(
        description="The event types it gets (a group as points.*); empty: all of them."
    )
    enabled: bool
    disabled_reason: str = strawberry.field(
        description="Why the worker disabled it (it failed for days); empty otherwise."
    )
    failing_since: datetime | None = strawberry.field(
        description="Since when every attempt has failed; null after a success."
    )
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="Until when the secret before the last rotation still signs beside the new."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: EndpointRecord) -> WebhookEndpoint:
        return from_record(cls, record)


@strawberry.type(description="One request made for a delivery.")
class WebhookAttempt:
    attempt: int
    status_code: int | None = strawberry.field(
        description="The endpoint's answer; null when none came (timeout, refused address)."
    )
    latency_ms: int
    error: str = strawberry.field(description="What went wrong (the answer's start, or why).")
    created_at: datetime

    @classmethod
    def from_record(cls, record: AttemptRecord) -> WebhookAttempt:
        return from_record(cls, record)


@strawberry.type(description="One event on its way to one endpoint.")
class WebhookDelivery(Node):
    endpoint_id: strawberry.ID = strawberry.field(
        description="The WebhookEndpoint it goes to (a member's deliveries span endpoints)."
    )
    event_type: str
    body: str = strawberry.field(description="The JSON body sent, the same at every attempt.")
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next (PENDING only)."
    )
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str
    created_at: datetime
    attempt_log: list[WebhookAttempt] = strawberry.field(
        default_factory=list, description="Every attempt, oldest first."
    )

    @classmethod
    def from_record(
        cls, record: DeliveryRecord, attempts: list[AttemptRecord] | None = None
    ) -> WebhookDelivery:
        return from_record(
            cls,
            record,
            endpoint_id=strawberry.ID(encode_id("WebhookEndpoint", record.endpoint_id)),
            status=WebhookDeliveryStatus(record.status),
            next_attempt_at=record.next_attempt_at if record.status == "PENDING" else None,
            attempt_log=[WebhookAttempt.from_record(attempt) for attempt in attempts or []],
        )


@strawberry.type(description="An event type endpoints can ask for.")
class WebhookEventType:
    type: str
    description: str
