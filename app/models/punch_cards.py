from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.orders import Order
    from app.models.programs import Program
    from app.models.rewards import Redemption, Reward


class PunchCard(Model):
    """N qualifying purchases give a catalogue reward (app/domain/punch_cards.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="punch_cards", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    reward: fields.ForeignKeyRelation["Reward"] = fields.ForeignKeyField(
        "models.Reward", related_name="punch_cards", on_delete=fields.RESTRICT
    )
    punches_needed = fields.IntField()
    skus: Any = fields.JSONField(default=list)
    categories: Any = fields.JSONField(default=list)
    minimum_quantity = fields.IntField(default=1)
    # LINE: each qualifying order line with that many units punches; ORDER: the order's
    # qualifying units together punch once.
    minimum_per = fields.CharField(max_length=8, default="LINE")
    active = fields.BooleanField(default=True)
    retired_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "punch_cards"
        indexes = (("program_id", "active"),)


class PunchCardProgress(Model):
    """A member's current card of one punch card, and what its cards have given."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="punch_card_progress", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="punch_card_progress", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyRelation["PunchCard"] = fields.ForeignKeyField(
        "models.PunchCard", related_name="progress", on_delete=fields.RESTRICT
    )
    # Punches on the current card; below zero when a refund took punches a kept reward used.
    punches = fields.BigIntField(default=0)
    # Punches that count, ever (refunded ones taken off).
    punches_total = fields.BigIntField(default=0)
    rewards_earned = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "punch_card_progress"
        unique_together = (("member", "card"),)


class PunchCardPunch(Model):
    """A punch an order line gave, kept so that a refund of the line knows what to take off."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="punch_card_punches", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="punch_card_punches", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyRelation["PunchCard"] = fields.ForeignKeyField(
        "models.PunchCard", related_name="punches", on_delete=fields.RESTRICT
    )
    order: fields.ForeignKeyRelation["Order"] = fields.ForeignKeyField(
        "models.Order", related_name="punch_card_punches", on_delete=fields.RESTRICT
    )
    # The line the punch is recorded on (ORDER minimum: the first qualifying line).
    line_index = fields.IntField()
    # Qualifying units per line index that the punch stands on: {"0": 2, "3": 1}.
    lines: Any = fields.JSONField()
    # The card's minimum when punched: a refund keeps the punch while what is left reaches it.
    minimum_quantity = fields.IntField()
    removed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "punch_card_punches"
        unique_together = (("card", "order", "line_index"),)
        indexes = (("order_id",),)


class PunchCardReward(Model):
    """A completed card: the reward given (or why not), and whether a refund revoked it."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="punch_card_rewards", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="punch_card_rewards", on_delete=fields.RESTRICT
    )
    card: fields.ForeignKeyRelation["PunchCard"] = fields.ForeignKeyField(
        "models.PunchCard", related_name="rewards_given", on_delete=fields.RESTRICT
    )
    order: fields.ForeignKeyRelation["Order"] = fields.ForeignKeyField(
        "models.Order", related_name="punch_card_rewards", on_delete=fields.RESTRICT
    )
    redemption: fields.ForeignKeyNullableRelation["Redemption"] = fields.ForeignKeyField(
        "models.Redemption", related_name="punch_card_rewards", on_delete=fields.RESTRICT, null=True
    )
    # The punches the card took (the card's size then).
    punches = fields.IntField()
    status = fields.CharField(max_length=16)
    failure = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "punch_card_rewards"
        indexes = (("member_id", "card_id", "id"),)
