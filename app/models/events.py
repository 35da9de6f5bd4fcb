from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program


class OutboxEvent(Model):
    """A domain event, written in the transaction of the change it reports, in order."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="events", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="events", on_delete=fields.RESTRICT, null=True
    )
    type = fields.CharField(max_length=64)
    payload: Any = fields.JSONField()
    created_at = fields.DatetimeField()
    # Written by a replay of imported history: kept, but never sent as a webhook.
    replayed = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "outbox_events"
        indexes = (("program_id", "id"),)
