from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class Translation(Model):
    """One text of a configured thing in one locale (app/domain/locales.py): a reward's name in
    Swedish, a tier's perks in Russian. The configured text itself stays in its own table, in
    the program's default locale (docs/decisions/0003-translations.md)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="translations", on_delete=fields.RESTRICT
    )
    # PROGRAM, REWARD, TIER, EARNING_RULE, ACTION_RULE, CHALLENGE, BADGE.
    entity_kind = fields.CharField(max_length=16)
    entity_id = fields.BigIntField()
    # NAME, DESCRIPTION, PERKS.
    field = fields.CharField(max_length=16)
    # Canonical BCP 47 tag: sv, sv-SE, ro, ru-RU.
    locale = fields.CharField(max_length=35)
    text = fields.TextField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "translations"
        unique_together = (("entity_kind", "entity_id", "field", "locale"),)
