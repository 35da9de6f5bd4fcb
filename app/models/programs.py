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
    # Orders of a customer who was not a member yet, placed at most this many days before the
    # customer enrols, are credited at enrolment (app/services/orders/guests.py); 0 credits none.
    retro_credit_days = fields.IntField(default=0, db_default=0)
    # What one point costs the store, in minor units of the program's currency, as exact
    # decimal text (e.g. "0.5"); null until configured (the liability in money needs it).
    cost_per_point_minor = fields.CharField(max_length=32, null=True)
    # Whether the program's secret keys may read its analytics (programInsights,
    # programCohorts); admin keys always may.
    insights_for_secret_keys = fields.BooleanField(default=False, db_default=False)
    # The program's own calendar: birthdays, anniversaries and expiry dates fall on its days.
    time_zone = fields.CharField(max_length=64, default="UTC", db_default="UTC")
    # Expiry (app/domain/expiry.py): NONE, LOT_LIFETIME (each lot a fixed time after it became
    # available, optionally rounded up to the end of that month or year) or INACTIVITY.
    expiry_policy = fields.CharField(max_length=16, default="NONE", db_default="NONE")
    expiry_lifetime = fields.IntField(default=0, db_default=0)
    expiry_lifetime_unit = fields.CharField(max_length=8, default="MONTHS", db_default="MONTHS")
    expiry_round_to = fields.CharField(max_length=16, default="NONE", db_default="NONE")
    inactivity_months = fields.IntField(default=0, db_default=0)
    # When expiry was last turned on: lots that became available earlier count from here.
    expiry_since = fields.DatetimeField(null=True)
    # Days before an expiry that the member is warned (an outbox event); 0 sends none.
    expiry_warning_days = fields.IntField(default=0, db_default=0)
    # What a refund does with points the member already spent: WRITE_OFF forgives them,
    # NEGATIVE_BALANCE keeps them as a debt that later earnings repay first.
    refund_shortfall_policy = fields.CharField(
        max_length=16, default="WRITE_OFF", db_default="WRITE_OFF"
    )
    # Rates into the program's currency for orders that bring none: {"EUR": "1.0842"}.
    exchange_rates: Any = fields.JSONField(default=dict, db_default="{}")
    # Whether what an order paid with points or store credit earns points too.
    earn_on_points_payments = fields.BooleanField(default=False, db_default=False)
    # Storefront origins browsers may call the API from with this program's keys.
    cors_origins: Any = fields.JSONField(default=list, db_default="[]")
    # Request headers browsers may send from those origins beyond the API's own list
    # (app/web/gateway.py ALLOWED_HEADERS), lowercase.
    cors_allowed_headers: Any = fields.JSONField(default=list, db_default="[]")
    # Whether publishable keys may run only the program's trusted documents (by their id).
    trusted_documents_only = fields.BooleanField(default=False, db_default=False)
    # The program's own member attributes: [{"name", "type", "description"}], the schema that
    # members' `attributes` are checked against (app/domain/member_profile.py).
    member_attributes: Any = fields.JSONField(default=list, db_default="[]")
    # The longest a member token may live (its exp minus its iat).
    member_token_max_seconds = fields.IntField(default=900, db_default=900)
    # What a refund does to a punch card reward its punches earned (app/domain/punch_cards.py).
    punch_card_refund_policy = fields.CharField(
        max_length=24, default="KEEP_REWARD", db_default="KEEP_REWARD"
    )
    # The language its texts (names, descriptions) are written in, a BCP 47 tag; translations
    # into others are in `translations` (app/domain/locales.py).
    default_locale = fields.CharField(max_length=35, default="en", db_default="en")
    created_at = fields.DatetimeField()
    # Raised by database triggers with every change to the program's cold configuration (rules,
    # experiments, punch cards, tiers, plans, challenges, badges, segments, and its time zone,
    # currency and member attributes): what a process cached of it is current while this is
    # unchanged (app/services/core/config_cache.py, migration 0028).
    config_version = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "programs"
