"""The demo program `laurel serve --demo` loads into an empty database, through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.auth.api_keys import KeyKind
from app.db import connection, fetch_one, utc_now
from app.domain.actions import ActionKind, Frequency
from app.domain.earning import RuleKind
from app.domain.expiry import ExpiryPolicy, LifetimeUnit, RoundTo
from app.domain.rewards import RewardKind
from app.services.access.api_keys import create_api_key
from app.services.actions.service import ActionRuleInput, create_action_rule
from app.services.demo.storefront import add_storefront_features
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.members.profile import ProfileChanges
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import RuleInput, create_earning_rule
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import (
    CreateProgramInput,
    ExpiryInput,
    UpdateProgramSettingsInput,
    create_program,
    update_program_settings,
)
from app.services.rewards.service import (
    CreateRewardInput,
    RedeemRewardInput,
    create_reward,
    redeem_reward,
)

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoKeys:
    admin: str
    secret: str
    publishable: str


async def database_is_empty() -> bool:
    row = await fetch_one(connection(), "SELECT COUNT(*) AS n FROM programs")
    return row is not None and int(row["n"]) == 0


async def seed_demo() -> DemoKeys:
    """A program with rules, rewards, three members with orders, a redemption, three keys."""
    program = await create_program(
        CreateProgramInput(
            slug=DEMO_SLUG,
            name="Demo Store Rewards",
            currency="EUR",
            points_per_currency_unit=1,
            time_zone="Europe/Stockholm",
        )
    )
    # Points last a year, to the end of the month, with a warning a month ahead.
    await update_program_settings(
        UpdateProgramSettingsInput(
            program_slug=DEMO_SLUG,
            expiry=ExpiryInput(
                policy=ExpiryPolicy.LOT_LIFETIME,
                lifetime=12,
                unit=LifetimeUnit.MONTHS,
                round_to=RoundTo.END_OF_MONTH,
            ),
            expiry_warning_days=30,
        )
    )
    for name, action, points, frequency, frequency_limit in (
        ("Birthday treat", ActionKind.BIRTHDAY, 100, Frequency.PER_YEAR, 1),
        ("Welcome", ActionKind.ACCOUNT_CREATED, 50, Frequency.ONCE_EVER, 1),
        ("Product review", ActionKind.PRODUCT_REVIEW, 25, Frequency.PER_DAY, 3),
    ):
        await create_action_rule(
            DEMO_SLUG,
            ActionRuleInput(
                name=name,
                action=action,
                points=points,
                frequency=frequency,
                frequency_limit=frequency_limit,
            ),
        )
    now = utc_now()
    await create_earning_rule(
        DEMO_SLUG,
        RuleInput(
            name="Double points on accessories this fortnight",
            kind=RuleKind.MULTIPLIER,
            multiplier="2",
            include_categories=("accessories",),
            starts_at=now - timedelta(days=7),
            ends_at=now + timedelta(days=7),
        ),
    )
    rewards = {}
    for name, kind, cost, value, stock in (
        ("5 EUR off your next order", RewardKind.FIXED_DISCOUNT, 500, 500, None),
        ("Free shipping", RewardKind.FREE_SHIPPING, 300, None, None),
        ("Canvas tote bag", RewardKind.FREE_PRODUCT, 1500, None, 25),
    ):
        skus = ("TOTE-CANVAS",) if kind is RewardKind.FREE_PRODUCT else ()
        rewards[name] = await create_reward(
            CreateRewardInput(
                program_slug=DEMO_SLUG,
                name=name,
                kind=kind,
                cost_points=cost,
                value_minor=value,
                stock=stock,
                skus=skus,
            )
        )
    # Tiers, referrals, a challenge, and the program in Swedish, Romanian and Russian.
    await add_storefront_features(DEMO_SLUG, program.id, utc_now())
    members = {}
    for customer_id, name, birthday, orders in (
        ("cust-alice", "Alice Andersson", date(1992, 2, 29), [(8900, 2), (24950, 1), (12000, 3)]),
        ("cust-bogdan", "Bogdan Popescu", None, [(4500, 1)]),
        ("cust-katya", "Katya Ivanova", date(1985, 6, 21), []),
    ):
        members[customer_id] = await enroll_member(
            EnrollMemberInput(
                program_slug=DEMO_SLUG,
                customer_id=customer_id,
                profile=ProfileChanges(
                    email=f"{customer_id.removeprefix('cust-')}@example.com",
                    name=name,
                    birthday=birthday,
                    given=("birthday", "email", "name"),
                ),
            ),
            None,
        )
        for number, (unit_price, quantity) in enumerate(orders, start=1):
            await record_order(
                RecordOrderInput(
                    program_slug=DEMO_SLUG,
                    customer_id=customer_id,
                    order_id=f"{customer_id}-order-{number}",
                    currency="EUR",
                    total_minor=unit_price * quantity + 495,
                    shipping_minor=495,
                    lines=[
                        OrderLineInput(
                            sku=f"SKU-{number:03d}",
                            category="apparel",
                            quantity=quantity,
                            unit_price_minor=unit_price,
                        )
                    ],
                    placed_at=now - timedelta(days=30 - number),
                ),
                None,
            )
    await redeem_reward(
        RedeemRewardInput(
            member_id=members["cust-alice"].id,
            reward_id=rewards["5 EUR off your next order"].id,
            idempotency_key="demo-redemption-1",
        ),
        None,
    )
    admin = await create_api_key(KeyKind.ADMIN, None, "demo admin")
    secret = await create_api_key(KeyKind.SECRET, DEMO_SLUG, "demo store backend")
    publishable = await create_api_key(KeyKind.PUBLISHABLE, DEMO_SLUG, "demo storefront")
    return DemoKeys(admin=admin.secret, secret=secret.secret, publishable=publishable.secret)
