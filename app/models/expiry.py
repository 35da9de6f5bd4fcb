from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program


class ExpiryWarning(Model):
    """A warning sent for one member and expiry date: the unique pair makes it go out once."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="expiry_warnings", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="expiry_warnings", on_delete=fields.RESTRICT
    )
    # The date in the program's time zone, and the first moment of it that points expire.
    expires_on = fields.DateField()
    expires_at = fields.DatetimeField()
    points = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "expiry_warnings"
        unique_together = (("member", "expires_on"),)
