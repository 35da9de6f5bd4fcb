"""Analytics: closed-period summaries of the customer-activity rows (the customer KPIs of a
span of whole months, the cells of the cohort table), computed once for settled months and
recomputed when a late write marks one of their months (app/services/analytics/summaries.py).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0031_webhook_deliveries_by_member")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AnalyticsSummary",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "program",
                    fields.ForeignKeyField(
                        "models.Program",
                        source_field="program_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="analytics_summaries",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("kind", fields.CharField(max_length=16)),
                ("first_month", fields.DateField()),
                ("last_month", fields.DateField()),
                ("parameter", fields.IntField(default=0)),
                ("marks", fields.BigIntField(default=0)),
                ("figures", fields.TextField()),
                ("computed_at", fields.DatetimeField()),
            ],
            options={
                "table": "analytics_summaries",
                "app": "models",
                "unique_together": (("program", "kind", "first_month", "last_month", "parameter"),),
                "pk_attr": "id",
                "table_description": "The customer figures of a settled period, computed once from the customer-activity rows",
            },
            bases=["Model"],
        ),
    ]
