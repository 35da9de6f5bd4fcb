from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class Member(Model):
    """A store customer enrolled in one program, with balances cached from the ledger."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="members", on_delete=fields.RESTRICT
    )
    customer_id = fields.CharField(max_length=128)
    email = fields.CharField(max_length=254, null=True)
    name = fields.CharField(max_length=200, null=True)
    birthday = fields.DateField(null=True)
    enrolled_at = fields.DatetimeField()
    # Month * 100 + day, so the birthday and anniversary jobs find today's members by index;
    # the anniversary key is the enrolment date in UTC (the job checks the local date).
    birthday_month_day = fields.SmallIntField(null=True)
    anniversary_month_day = fields.SmallIntField(null=True)
    # The last year `member.birthday` was announced: the job's catch-up runs overlap, and a
    # member is wished a happy birthday once a year.
    birthday_announced_year = fields.SmallIntField(null=True)
    # The last earning or spending: the clock of inactivity expiry.
    last_activity_at = fields.DatetimeField(null=True)
    # A member who opted out earns nothing until they opt in again; balances stay.
    opted_out_at = fields.DatetimeField(null=True)
    # Caches of the ledger: changed only by services/ledger.py in the same transaction as the
    # entries, and recomputed by `laurel verify-ledger`.
    points_available = fields.BigIntField(default=0)
    points_pending = fields.BigIntField(default=0)
    lifetime_earned = fields.BigIntField(default=0)
    lifetime_redeemed = fields.BigIntField(default=0)
    # Points a refund could not take back under the NEGATIVE_BALANCE policy: later earnings
    # repay it before they become available, and while it is owed nothing can be redeemed.
    points_debt = fields.BigIntField(default=0, db_default=0)
    # Store credit, in minor units of the program's currency: the cache of the member's
    # MEMBER_STORE_CREDIT account, changed only by services/ledger.py `post_store_credit`.
    store_credit_minor = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "members"
        unique_together = (("program", "customer_id"),)
        indexes = (("program_id", "birthday_month_day"), ("program_id", "anniversary_month_day"))
