from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class TokenSigningSecret(Model):
    """A program's secret for signing member tokens. Rotation retires the older ones after an
    overlap, so tokens signed just before a rotation keep working until they expire."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="token_secrets", on_delete=fields.RESTRICT
    )
    # The `kid` that tokens name in their header: public, random, unique.
    key_id = fields.CharField(max_length=32, unique=True)
    secret = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()
    retires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "token_signing_secrets"


class AuditLogEntry(Model):
    """One write made with an admin key: who, what, when, and the target before and after."""

    id = fields.BigIntField(primary_key=True)
    api_key_id = fields.BigIntField()
    operation = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32, null=True)
    target_id = fields.CharField(max_length=200, null=True)
    input: Any = fields.JSONField()
    before: Any = fields.JSONField(null=True)
    after: Any = fields.JSONField(null=True)
    succeeded = fields.BooleanField()
    request_id = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_log"
        indexes = (("created_at",), ("target_type", "target_id"))
