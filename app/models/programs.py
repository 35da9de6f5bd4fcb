from tortoise import fields
from tortoise.models import Model


class Program(Model):
    """The loyalty program of a store: its currency and how it earns."""

    id = fields.BigIntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    currency = fields.CharField(max_length=3)
    points_per_currency_unit = fields.IntField()
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "programs"
