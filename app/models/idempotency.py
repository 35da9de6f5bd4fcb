from typing import Any

from tortoise import fields
from tortoise.models import Model


class IdempotencyRecord(Model):
    """The stored outcome of a write, keyed by the idempotency key of the client within a scope."""

    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255)
    operation = fields.CharField(max_length=64)
    request_hash = fields.CharField(max_length=64)
    response: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_records"
        unique_together = (("scope", "key"),)
