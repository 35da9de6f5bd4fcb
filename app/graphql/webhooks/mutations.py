"""Webhook mutations, admin only: endpoints, their secrets, redelivery and a test event."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.admin_writes import RecordPayloads, admin_id
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.webhooks.types import WebhookDelivery, WebhookEndpoint
from app.services.webhooks import service as webhooks_service


@strawberry.input
class CreateWebhookEndpointInput:
    program_slug: str
    url: str = strawberry.field(
        description="https://... on a public address (LAUREL_WEBHOOKS_ALLOW_PRIVATE allows others)."
    )
    event_types: list[str] = strawberry.field(
        default_factory=list,
        description="Types from webhookEventTypes, or groups as points.*; empty: every event.",
    )
    description: str | None = None
    enabled: bool = True
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.type
class WebhookEndpointWithSecretPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (whsec_...), shown this once: verify webhook-signature"
        " with it.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="Leave a field out to keep it.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None, description="true also clears a disabled endpoint's failure record."
    )


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    overlap_hours: int = strawberry.field(
        default=24, description="How long the old secret still signs beside the new (0 to 168)."
    )


@strawberry.input
class WebhookEndpointIdInput:
    id: strawberry.ID


@strawberry.input
class WebhookDeliveryIdInput:
    id: strawberry.ID


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RedeliverFailedWebhooksInput:
    endpoint_id: strawberry.ID
    since: datetime = strawberry.field(description="Failed deliveries made from then on.")


@strawberry.type
class RedeliverFailedWebhooksPayload:
    redelivered: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_endpoints = RecordPayloads(
    "WebhookEndpoint", WebhookEndpoint.from_record, WebhookEndpointPayload, "endpoint"
)
_deliveries = RecordPayloads(
    "WebhookDelivery", WebhookDelivery.from_record, WebhookDeliveryPayload, "delivery"
)


def _endpoint_id(info: Info, value: strawberry.ID, field: str = "id") -> int:
    return admin_id(info, value, "WebhookEndpoint", field)


@mutation(description="Admin only: send a program's events to a URL.")
async def create_webhook_endpoint(
    info: Info, input: CreateWebhookEndpointInput
) -> WebhookEndpointWithSecretPayload:
    admin(info)
    made = await webhooks_service.create_endpoint(
        webhooks_service.CreateEndpointInput(
            program_slug=input.program_slug,
            url=input.url,
            event_types=tuple(input.event_types),
            description=input.description,
            enabled=input.enabled,
            idempotency_key=input.idempotency_key,
        )
    )
    return WebhookEndpointWithSecretPayload(
        endpoint=WebhookEndpoint.from_record(made.endpoint), secret=made.secret
    )


@mutation(description="Admin only: change an endpoint, or turn it off or back on.")
async def update_webhook_endpoint(
    info: Info, input: UpdateWebhookEndpointInput
) -> WebhookEndpointPayload:
    record = await webhooks_service.update_endpoint(
        webhooks_service.UpdateEndpointInput(
            id=_endpoint_id(info, input.id),
            url=input.url,
            event_types=None if input.event_types is None else tuple(input.event_types),
            description=input.description,
            enabled=input.enabled,
        )
    )
    return _endpoints.of(record)


@mutation(description="Admin only: a new signing secret; the old one overlaps for a while.")
async def rotate_webhook_secret(
    info: Info, input: RotateWebhookSecretInput
) -> WebhookEndpointWithSecretPayload:
    made = await webhooks_service.rotate_secret(_endpoint_id(info, input.id), input.overlap_hours)
    return WebhookEndpointWithSecretPayload(
        endpoint=WebhookEndpoint.from_record(made.endpoint), secret=made.secret
    )


@mutation(description="Admin only: remove an endpoint; its pending deliveries are dropped.")
async def delete_webhook_endpoint(
    info: Info, input: WebhookEndpointIdInput
) -> WebhookEndpointPayload:
    return _endpoints.of(await webhooks_service.delete_endpoint(_endpoint_id(info, input.id)))


@mutation(description="Admin only: send one delivery again now, with a fresh set of retries.")
async def redeliver_webhook(info: Info, input: WebhookDeliveryIdInput) -> WebhookDeliveryPayload:
    return _deliveries.of(
        await webhooks_service.redeliver(admin_id(info, input.id, "WebhookDelivery"))
    )


@mutation(description="Admin only: send again every failed delivery of an endpoint since a time.")
async def redeliver_failed_webhooks(
    info: Info, input: RedeliverFailedWebhooksInput
) -> RedeliverFailedWebhooksPayload:
    count = await webhooks_service.redeliver_failed(
        _endpoint_id(info, input.endpoint_id, "endpointId"), input.since
    )
    return RedeliverFailedWebhooksPayload(redelivered=count)


@mutation(description="Admin only: a webhook.test event, to this endpoint only.")
async def send_test_webhook(info: Info, input: WebhookEndpointIdInput) -> WebhookDeliveryPayload:
    return _deliveries.of(await webhooks_service.send_test(_endpoint_id(info, input.id)))
