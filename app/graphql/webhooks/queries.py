"""Webhook queries: a program's endpoints, an endpoint's or a member's delivery log, the event
catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from app.graphql.core.connection import Connection, Edges, keyset_page, page_size
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.ids import decode_id
from app.graphql.core.programs import program_list
from app.graphql.core.query_checks import admin_in_query
from app.graphql.webhooks.types import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from app.services.members import service as members_service
from app.services.webhooks import catalogue
from app.services.webhooks import service as webhooks_service
from app.services.webhooks.service import AttemptRecord, DeliveryRecord


@dataclass(frozen=True)
class _DeliveryRow:
    id: int
    delivery: DeliveryRecord
    attempts: list[AttemptRecord]


_DELIVERY_EDGES: Edges[_DeliveryRow, WebhookDelivery] = Edges(
    "WebhookDelivery", lambda row: WebhookDelivery.from_record(row.delivery, row.attempts)
)


async def _with_attempts(deliveries: list[DeliveryRecord]) -> list[_DeliveryRow]:
    attempts = await webhooks_service.attempts_of([delivery.id for delivery in deliveries])
    return [_DeliveryRow(d.id, d, attempts[d.id]) for d in deliveries]


@strawberry.field(description="Admin only: a program's webhook endpoints.")
async def webhook_endpoints(info: Info, program_slug: str) -> list[WebhookEndpoint]:
    admin_in_query(info)
    return await program_list(
        program_slug, None, webhooks_service.list_endpoints, WebhookEndpoint.from_record
    )


@strawberry.field(description="Admin only: an endpoint's deliveries, newest first.")
async def webhook_deliveries(
    info: Info,
    endpoint_id: strawberry.ID,
    status: WebhookDeliveryStatus | None = None,
    first: int = 20,
    after: str | None = None,
) -> Connection[WebhookDelivery] | None:
    admin_in_query(info)
    page_size(first)
    with as_query_errors():
        endpoint = decode_id(endpoint_id, "WebhookEndpoint", ["endpointId"])

    async def fetch(position: int | None, limit: int) -> list[_DeliveryRow]:
        deliveries = await webhooks_service.list_deliveries(
            endpoint,
            status=None if status is None else status.value,
            after_id=position,
            limit=limit,
        )
        return await _with_attempts(deliveries)

    return await keyset_page(fetch, first=first, after=after, edges=_DELIVERY_EDGES)


@strawberry.field(
    description="Admin keys (every staff role) only: the deliveries of the events about one"
    " member, to any of its program's endpoints, newest first. Null for an unknown member."
)
async def member_webhook_deliveries(
    info: Info,
    member_id: strawberry.ID,
    status: WebhookDeliveryStatus | None = None,
    first: int = 20,
    after: str | None = None,
) -> Connection[WebhookDelivery] | None:
    principal = admin_in_query(info)
    page_size(first)
    with as_query_errors():
        member = decode_id(member_id, "Member", ["memberId"])
    if await members_service.read_member(member, principal.program_scope) is None:
        return None

    async def fetch(position: int | None, limit: int) -> list[_DeliveryRow]:
        deliveries = await webhooks_service.list_member_deliveries(
            member,
            status=None if status is None else status.value,
            after_id=position,
            limit=limit,
        )
        return await _with_attempts(deliveries)

    return await keyset_page(fetch, first=first, after=after, edges=_DELIVERY_EDGES)


@strawberry.field(description="The event types webhook endpoints can ask for.")
def webhook_event_types() -> list[WebhookEventType]:
    return [
        WebhookEventType(type=event_type, description=description)
        for event_type, description in catalogue.EVENT_TYPES.items()
    ]
