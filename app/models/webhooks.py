from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.events import OutboxEvent
    from app.models.programs import Program


class WebhookEndpoint(Model):
    """Where a program's events are sent (app/services/webhooks): a URL, the event types it
    wants (empty: all), and its signing secrets (Standard Webhooks `whsec_...`)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="webhook_endpoints", on_delete=fields.RESTRICT
    )
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=500, default="")
    event_types: Any = fields.JSONField(default=list)
    enabled = fields.BooleanField(default=True)
    # Why the worker turned it off (it failed for days); empty while enabled or turned off by hand.
    disabled_reason = fields.CharField(max_length=500, default="")
    secret = fields.CharField(max_length=100)
    # The secret before the last rotation, still signing (beside the new one) until it expires.
    previous_secret = fields.CharField(max_length=100, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    # Since when every attempt has failed (NULL after a success).
    failing_since = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoints"
        indexes = (("program_id",),)


class WebhookDelivery(Model):
    """One event on its way to one endpoint: the body as sent, and its attempts so far."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.RESTRICT
    )
    event: fields.ForeignKeyRelation["OutboxEvent"] = fields.ForeignKeyField(
        "models.OutboxEvent", related_name="deliveries", on_delete=fields.RESTRICT
    )
    # Events of one member reach an endpoint in outbox order: a delivery waits for the older
    # ones of its member (NULL: an event of no member, which waits for nothing).
    member_id = fields.BigIntField(null=True)
    event_type = fields.CharField(max_length=64)
    body = fields.TextField()
    # PENDING (due at next_attempt_at), SUCCEEDED or FAILED (no attempt left).
    status = fields.CharField(max_length=16, default="PENDING")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_latency_ms = fields.IntField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_deliveries"
        unique_together = (("endpoint", "event"),)
        # (member_id, id): a member's deliveries newest first (the console's member page) and
        # the erasure's scrub of their bodies.
        indexes = (
            ("status", "next_attempt_at"),
            ("endpoint_id", "member_id", "status"),
            ("member_id", "id"),
        )


class WebhookAttempt(Model):
    """One request to an endpoint, for its delivery log."""

    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="attempt_log", on_delete=fields.CASCADE
    )
    attempt = fields.IntField()
    status_code = fields.IntField(null=True)
    latency_ms = fields.IntField()
    error = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_attempts"
        indexes = (("delivery_id", "id"),)


class WebhookFanOut(Model):
    """How far the outbox has been turned into deliveries (one row)."""

    id = fields.IntField(primary_key=True)
    last_event_id = fields.BigIntField(default=0)

    class Meta:
        table = "webhook_fan_out"
