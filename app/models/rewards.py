from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class Reward(Model):
    """Something a member can buy with points (`stock` NULL means unlimited).

    The terms of each kind are in app/domain/rewards.py; columns that do not apply to a kind
    stay NULL (or an empty list).
    """

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="rewards", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=32)
    cost_points = fields.BigIntField()
    value_minor = fields.BigIntField(null=True)
    stock = fields.IntField(null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    # Money terms, in `currency` (the program's when NULL).
    currency = fields.CharField(max_length=3, null=True)
    minimum_order_minor = fields.BigIntField(null=True)
    percent_off = fields.IntField(null=True)
    max_value_minor = fields.BigIntField(null=True)
    skus: Any = fields.JSONField(default=list, db_default="[]")
    categories: Any = fields.JSONField(default=list, db_default="[]")
    charity_name = fields.CharField(max_length=200, null=True)
    points_min = fields.BigIntField(null=True)
    points_max = fields.BigIntField(null=True)
    points_step = fields.BigIntField(null=True)
    # Per member: at most `per_member_limit` redemptions per `limit_period` (EVER, DAY...).
    per_member_limit = fields.IntField(null=True)
    limit_period = fields.CharField(max_length=8, default="EVER", db_default="EVER")
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    # Retired rewards stay for the history of their redemptions; none can be redeemed again.
    retired_at = fields.DatetimeField(null=True)
    code_source = fields.CharField(max_length=16, default="GENERATED", db_default="GENERATED")
    # Codes expire this many days after they are issued; NULL: never.
    code_valid_days = fields.IntField(null=True)
    image_urls: Any = fields.JSONField(default=list, db_default="[]")
    # Hooks for the tier and segment requirements (app/services/rewards/terms.py).
    required_tiers: Any = fields.JSONField(default=list, db_default="[]")
    required_segments: Any = fields.JSONField(default=list, db_default="[]")
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "rewards"


class Redemption(Model):
    """A reward bought with points (or given), carrying the code the store's checkout honours."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="redemptions", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="redemptions", on_delete=fields.RESTRICT
    )
    reward: fields.ForeignKeyRelation["Reward"] = fields.ForeignKeyField(
        "models.Reward", related_name="redemptions", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=64, unique=True)
    points_spent = fields.BigIntField()
    status = fields.CharField(max_length=16)
    transaction: fields.ForeignKeyRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="redemptions", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()
    # PURCHASE (bought with points) or GIFT (given: referral, punch card, tier entry...).
    source = fields.CharField(max_length=16, default="PURCHASE", db_default="PURCHASE")
    # What the code is worth when the reward has a value (pay-with-points: what the points
    # bought), in `currency`; the charity is kept as it was named then.
    value_minor = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3, null=True)
    charity_name = fields.CharField(max_length=200, null=True)
    expires_at = fields.DatetimeField(null=True)
    used_at = fields.DatetimeField(null=True)
    used_order_id = fields.CharField(max_length=128, null=True)
    cancelled_at = fields.DatetimeField(null=True)
    expired_at = fields.DatetimeField(null=True)
    # The ledger transaction that gave the points back (cancellation, refunded expiry).
    reversal_transaction: fields.ForeignKeyNullableRelation["LedgerTransaction"] = (
        fields.ForeignKeyField(
            "models.LedgerTransaction",
            related_name="reversed_redemptions",
            null=True,
            on_delete=fields.RESTRICT,
        )
    )

    # A gift (source GIFT): the ledger kind of the credit that paid for it (PUNCH_CARD,
    # TIER_REWARD...); taking the gift back reverses that credit with the same kind.
    gift_kind = fields.CharField(max_length=32, null=True)
    # A purchase: the earliest expiry among the point lots the redemption spent (None when
    # they never expire). Points given back (cancellation, refunded expiry) expire no later.
    spent_points_expire_at = fields.DatetimeField(null=True)

    class Meta:
        table = "redemptions"
        indexes = (("member_id", "reward_id", "created_at"),)


class RewardCode(Model):
    """A code the store uploaded for a POOL reward (`redemption` is set when it is handed out)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="reward_codes", on_delete=fields.RESTRICT
    )
    reward: fields.ForeignKeyRelation["Reward"] = fields.ForeignKeyField(
        "models.Reward", related_name="codes", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=64, unique=True)
    redemption: fields.ForeignKeyNullableRelation["Redemption"] = fields.ForeignKeyField(
        "models.Redemption", related_name="pool_codes", null=True, on_delete=fields.RESTRICT
    )
    uploaded_at = fields.DatetimeField()

    class Meta:
        table = "reward_codes"
        indexes = (("reward_id", "redemption_id", "id"),)


class RedemptionSettings(Model):
    """A program's redemption settings (no row: the defaults, see redemption_codes.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.OneToOneRelation["Program"] = fields.OneToOneField(
        "models.Program", related_name="redemption_settings", on_delete=fields.RESTRICT
    )
    # Whether an expired, unused code gives the member its points back (default: nothing).
    expired_codes_return_points = fields.BooleanField(default=False)
    # Pay with points: how many points buy one unit of the program's currency.
    points_per_currency_unit = fields.IntField(default=100)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "redemption_settings"
