from typing import Any

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
    # How purchases earn (app/domain/earning.py): rounding of the order's base points, what
    # counts in the base, a minimum order, and SKUs and categories that never earn.
    rounding = fields.CharField(max_length=16, default="FLOOR")
    count_shipping = fields.BooleanField(default=False)
    count_tax = fields.BooleanField(default=False)
    minimum_order_minor = fields.BigIntField(default=0)
    excluded_skus: Any = fields.JSONField(default=list)
    excluded_categories: Any = fields.JSONField(default=list)
    # The return window: purchase points stay pending this many days before they can be spent.
    pending_days = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "programs"
