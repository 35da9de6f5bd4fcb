from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class ApiKey(Model):
    """An API key, stored as the SHA-256 of the secret (the secret is shown once, at creation)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    program: fields.ForeignKeyNullableRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="api_keys", on_delete=fields.RESTRICT, null=True
    )
    name = fields.CharField(max_length=200)
    key_hash = fields.CharField(max_length=64, unique=True)
    # The first characters of the key, safe to show so staff can tell keys apart.
    display_prefix = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    # Token bucket of this key; null takes the default of its kind (app/auth/rate_limit.py).
    rate_limit_per_second = fields.FloatField(null=True)
    rate_limit_burst = fields.IntField(null=True)
    # An admin key's staff role (app/domain/roles.py); null is the owner's (everything).
    role = fields.CharField(max_length=16, null=True)
    # A support key's largest adjustment, in points either way; null takes the default.
    points_adjustment_limit = fields.IntField(null=True)

    class Meta:
        table = "api_keys"
