from typing import TYPE_CHECKING, Any

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
    # The profile the store may send (app/services/members/profile.py): personal data, erased
    # by eraseMember with the fields above (the balances and the ledger stay, anonymised).
    phone = fields.CharField(max_length=32, null=True)
    locale = fields.CharField(max_length=35, null=True)
    marketing_consent = fields.BooleanField(default=False, db_default=False)
    marketing_consent_at = fields.DatetimeField(null=True)
    tags: Any = fields.JSONField(default=list, db_default="[]")
    # Values of the program's own attributes (programs.member_attributes), by name.
    attributes: Any = fields.JSONField(default=dict, db_default="{}")
    # The loyalty card a shop's till scans: unique in the program.
    card_number = fields.CharField(max_length=64, null=True)
    # Lowercased, for lookup by e-mail whatever its case.
    email_lower = fields.CharField(max_length=254, null=True)
    erased_at = fields.DatetimeField(null=True)
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
        unique_together = (("program", "customer_id"), ("program", "card_number"))
        indexes = (
            ("program_id", "birthday_month_day"),
            ("program_id", "anniversary_month_day"),
            ("program_id", "email_lower"),
            ("program_id", "phone"),
        )


class MemberSearchTerm(Model):
    """A word a member is found by in the staff's search (each word of the name, the e-mail),
    lowercased: a prefix of any of them finds the member through one index
    (app/services/members/directory.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="member_search_terms", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="search_terms", on_delete=fields.RESTRICT
    )
    term = fields.CharField(max_length=254)

    class Meta:
        table = "member_search_terms"
        indexes = (("member_id",),)
