from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.orders import Order
    from app.models.programs import Program
    from app.models.rewards import Redemption, Reward


class ReferralSettings(Model):
    """A program's referral rules (app/domain/referrals.py). No row means referrals are off."""

    id = fields.BigIntField(primary_key=True)
    program: fields.OneToOneRelation[Program] = fields.OneToOneField(
        "models.Program", related_name="referral_settings", on_delete=fields.RESTRICT
    )
    enabled = fields.BooleanField(default=False)
    # The member's link: the template with {code} replaced by the member's code.
    url_template = fields.CharField(max_length=500, default="")
    referrer_points = fields.BigIntField(default=0)
    # A catalogue reward given to the referrer instead of or besides the points.
    referrer_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "models.Reward",
        related_name="referrer_referral_settings",
        on_delete=fields.RESTRICT,
        null=True,
    )
    referrer_trigger = fields.CharField(max_length=16, default="FIRST_ORDER")
    referrer_minimum_order_minor = fields.BigIntField(default=0)
    referrer_max_orders = fields.IntField(default=1)
    friend_points = fields.BigIntField(default=0)
    friend_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "models.Reward",
        related_name="friend_referral_settings",
        on_delete=fields.RESTRICT,
        null=True,
    )
    friend_trigger = fields.CharField(max_length=16, default="SIGNUP")
    friend_minimum_order_minor = fields.BigIntField(default=0)
    friend_max_orders = fields.IntField(default=1)
    # Referrals one referrer may make per calendar period before the next are held (0: no limit).
    referrer_limit = fields.IntField(default=0)
    referrer_limit_period = fields.CharField(max_length=8, default="MONTH")
    # Referrals from one IP address in 7 days before the next are held (0: no limit).
    ip_weekly_threshold = fields.IntField(default=0)
    # How long after enrolling a member can still be attached as a friend by recordReferral.
    attach_window_days = fields.IntField(default=7)
    # Mixed into every signal hash of the program, so hashes cannot be joined across programs.
    signal_salt = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "referral_settings"


class ReferralCode(Model):
    """A member's stable referral code, unique in the program."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="referral_codes", on_delete=fields.RESTRICT
    )
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="referral_code", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=16)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referral_codes"
        unique_together = (("program", "code"),)


class Referral(Model):
    """A referrer inviting a friend, and what became of it.

    `claim_customer_id` and `claim_email` are set on every referral that was not refused at
    once: their unique indexes are what lets a friend be referred only once, whoever wins a race.
    """

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="referrals", on_delete=fields.RESTRICT
    )
    referrer: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="referrals_made", on_delete=fields.RESTRICT
    )
    friend: fields.ForeignKeyNullableRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="referrals_received", on_delete=fields.RESTRICT, null=True
    )
    friend_customer_id = fields.CharField(max_length=128, null=True)
    friend_email = fields.CharField(max_length=254, null=True)
    claim_customer_id = fields.CharField(max_length=128, null=True)
    claim_email = fields.CharField(max_length=254, null=True)
    state = fields.CharField(max_length=16)
    rejection_reason = fields.CharField(max_length=32, null=True)
    hold_reason = fields.CharField(max_length=32, null=True)
    review_note = fields.CharField(max_length=500, null=True)
    # ENROLMENT (a code given to enrollMember) or RECORDED (recordReferral).
    source = fields.CharField(max_length=16)
    ip_hash = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    signed_up_at = fields.DatetimeField(null=True)
    qualified_at = fields.DatetimeField(null=True)
    rewarded_at = fields.DatetimeField(null=True)
    held_at = fields.DatetimeField(null=True)
    rejected_at = fields.DatetimeField(null=True)
    reviewed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referrals"
        unique_together = (("program", "claim_customer_id"), ("program", "claim_email"))
        indexes = (
            ("program_id", "id"),
            ("referrer_id", "created_at"),
            ("friend_id",),
            ("program_id", "ip_hash", "created_at"),
        )


class ReferralReward(Model):
    """What one side of a referral earned, once per trigger (`trigger_ref`).

    Points, a catalogue reward or both. A catalogue reward is given by crediting its cost in
    points and redeeming it with them in one database transaction (`redemption`), or recorded
    FAILED with `reward_failure`.
    """

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="referral_rewards", on_delete=fields.RESTRICT
    )
    referral: fields.ForeignKeyRelation[Referral] = fields.ForeignKeyField(
        "models.Referral", related_name="rewards", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="referral_rewards", on_delete=fields.RESTRICT
    )
    side = fields.CharField(max_length=16)
    # "signup", or "order:<order pk>".
    trigger_ref = fields.CharField(max_length=64)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="referral_rewards", on_delete=fields.RESTRICT, null=True
    )
    points = fields.BigIntField()
    status = fields.CharField(max_length=16)
    transaction: fields.ForeignKeyNullableRelation[LedgerTransaction] = fields.ForeignKeyField(
        "models.LedgerTransaction",
        related_name="referral_rewards",
        on_delete=fields.RESTRICT,
        null=True,
    )
    # The catalogue reward: NULL status when the side earns points only, else PENDING, GIVEN,
    # FAILED (see reward_failure) or CANCELLED.
    reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "models.Reward", related_name="referral_rewards", on_delete=fields.RESTRICT, null=True
    )
    reward_status = fields.CharField(max_length=16, null=True)
    reward_failure = fields.CharField(max_length=32, null=True)
    # The reward's face value when it was given, in minor units of the program's currency.
    reward_value_minor = fields.BigIntField(null=True)
    redemption: fields.ForeignKeyNullableRelation[Redemption] = fields.ForeignKeyField(
        "models.Redemption", related_name="referral_rewards", on_delete=fields.RESTRICT, null=True
    )
    # When a pending reward becomes final (the end of the order's return window).
    available_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    settled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referral_rewards"
        unique_together = (("referral", "side", "trigger_ref"),)
        indexes = (("order_id",), ("status", "available_at"))


class MemberSignal(Model):
    """A fraud signal of a member (IP, device, payment, address), stored only as a salted hash."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="member_signals", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="signals", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    value_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "member_signals"
        unique_together = (("member", "kind", "value_hash"),)
