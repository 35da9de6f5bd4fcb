"""Experiments through the services, on both databases: many orders at once each record one
effect with the member's variant, in the transaction of their points, and a cart preview
earns as the order would.

The program earns 1 point per euro; every order is 1 x 20.00 EUR (20 base points) and the
rule under test is a 2x multiplier (20 more for its variant's members).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.db import connection, fetch_all
from app.domain.earning import RuleKind
from app.domain.errors import DomainError, ErrorCode
from app.domain.experiments import bucket_of, variant_at
from app.services.core.outbox_signal import OUTBOX_SIGNAL
from app.services.experiments.service import (
    CreateExperimentInput,
    ExperimentRecord,
    VariantInput,
    create_experiment,
    start_experiment,
)
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import RuleInput, create_earning_rule
from app.services.orders.preview import CartPreviewInput, preview_order
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program
from tests.graphql.test_query_counts import counting_statements

PLACED_AT = datetime(2026, 11, 20, 10, tzinfo=UTC)
MEMBERS = 24


async def given_a_running_experiment() -> tuple[int, dict[int, str], list[int]]:
    """A 2x rule for variant "A" (50%) against control; the experiment's pk, its variants'
    keys by pk, and MEMBERS members' pks."""
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    rule = await create_earning_rule(
        "shop", RuleInput(name="Double", kind=RuleKind.MULTIPLIER, multiplier="2")
    )
    experiment = await create_experiment(
        CreateExperimentInput(
            program_slug="shop",
            name="Double",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            ends_at=datetime(2030, 1, 1, tzinfo=UTC),
            variants=(
                VariantInput(key="A", weight=5000, earning_rule_ids=(rule.id,)),
                VariantInput(key="control", weight=5000, control=True),
            ),
        )
    )
    await start_experiment(experiment.id, None)
    members = [
        (await enroll_member(EnrollMemberInput("shop", f"cust-{n}"), None)).id
        for n in range(MEMBERS)
    ]
    return experiment.id, {v.id: v.key for v in experiment.variants}, members


def expected_variant(experiment_id: int, variants: dict[int, str], member_id: int) -> str:
    slots = [(pk, 5000) for pk in variants]
    return variants[variant_at(slots, bucket_of(experiment_id, member_id))]


def order(number: int) -> RecordOrderInput:
    return RecordOrderInput(
        program_slug="shop",
        customer_id=f"cust-{number}",
        order_id=f"order-{number}",
        currency="EUR",
        total_minor=2000,
        lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000)],
        placed_at=PLACED_AT,
    )


async def test_concurrent_orders_each_record_one_effect_with_the_members_variant(
    db: None,
) -> None:
    # given a running experiment and its members
    experiment_id, variants, members = await given_a_running_experiment()
    # when every member orders at once
    recorded = await asyncio.gather(*(record_order(order(n), None) for n in range(MEMBERS)))
    # then A's members earned 40 points and control's 20
    for n, result in enumerate(recorded):
        variant = expected_variant(experiment_id, variants, members[n])
        assert result.order.points_earned == (40 if variant == "A" else 20)
    # and each order has exactly one effect, with the member's variant and the rule's points
    effects = await fetch_all(
        connection(),
        "SELECT e.member_id, e.variant_id, e.points, e.revenue_minor, o.points_earned"
        " FROM experiment_effects e JOIN orders o ON o.id = e.order_id ORDER BY e.member_id",
    )
    assert [int(row["member_id"]) for row in effects] == sorted(members)
    for row in effects:
        variant = expected_variant(experiment_id, variants, int(row["member_id"]))
        assert variants[int(row["variant_id"])] == variant
        assert (int(row["points"]), int(row["revenue_minor"])) == (
            (20, 2000) if variant == "A" else (0, 2000)
        )
        assert int(row["points_earned"]) == 20 + int(row["points"])


async def test_a_cart_preview_earns_as_the_members_order_would(db: None) -> None:
    # given a running experiment and one member of each variant
    experiment_id, variants, members = await given_a_running_experiment()
    by_variant = {expected_variant(experiment_id, variants, pk): pk for pk in members}

    def preview(member_id: int | None) -> CartPreviewInput:
        return CartPreviewInput(
            program_slug="shop",
            currency="EUR",
            lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000)],
            placed_at=PLACED_AT,
            member_id=member_id,
        )

    # then A's member previews 40 points, control's 20, and an unknown buyer 20
    assert (await preview_order(preview(by_variant["A"]), None)).points == 40
    assert (await preview_order(preview(by_variant["control"]), None)).points == 20
    assert (await preview_order(preview(None), None)).points == 20
    # and a preview writes no effect
    assert await fetch_all(connection(), "SELECT id FROM experiment_effects") == []


async def statements_of_an_order(number: int) -> int:
    await OUTBOX_SIGNAL.settled()
    with counting_statements() as count:
        await record_order(order(number), None)
    return count.statements


async def test_an_order_costs_the_same_statements_however_many_rules_an_experiment_tests(
    db: None,
) -> None:
    # given a running experiment of one rule, and the cost of a member's order under it
    experiment_id, variants, members = await given_a_running_experiment()
    control = [
        n
        for n, pk in enumerate(members)
        if expected_variant(experiment_id, variants, pk) == "control"
    ]
    # (a first order warms what the process caches, such as the program's time zone)
    await statements_of_an_order(control[2])
    one_rule = await statements_of_an_order(control[0])
    # when a second experiment tests eight more rules (two live experiments now)
    rules = [
        await create_earning_rule(
            "shop", RuleInput(name=f"Bonus {n}", kind=RuleKind.BONUS_PER_ORDER, points=5)
        )
        for n in range(8)
    ]
    second = await create_experiment(
        CreateExperimentInput(
            program_slug="shop",
            name="Bonuses",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            ends_at=datetime(2030, 1, 1, tzinfo=UTC),
            variants=(
                VariantInput(key="A", weight=5000, earning_rule_ids=tuple(r.id for r in rules)),
                VariantInput(key="control", weight=5000, control=True),
            ),
        )
    )
    await start_experiment(second.id, None)
    # (the change of configuration makes the next order read it again, and cache it)
    await statements_of_an_order(next(n for n in range(len(members)) if n not in control[:3]))
    nine_rules = await statements_of_an_order(control[1])
    # then the order costs one statement more: the second experiment's effect row, and no
    # statement per rule (the experiments are read in one statement whatever their number)
    assert nine_rules == one_rule + 1


async def test_two_experiments_racing_for_one_rule_one_wins_and_the_other_is_refused(
    db: None,
) -> None:
    # given a rule no experiment tests yet
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    rule = await create_earning_rule(
        "shop", RuleInput(name="Double", kind=RuleKind.MULTIPLIER, multiplier="2")
    )

    def experiment(name: str) -> CreateExperimentInput:
        return CreateExperimentInput(
            program_slug="shop",
            name=name,
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            ends_at=datetime(2030, 1, 1, tzinfo=UTC),
            variants=(
                VariantInput(key="A", weight=5000, earning_rule_ids=(rule.id,)),
                VariantInput(key="control", weight=5000, control=True),
            ),
        )

    # when two experiments of it are made at once
    outcomes = await asyncio.gather(
        *(create_experiment(experiment(f"Test {n}")) for n in range(2)), return_exceptions=True
    )
    # then one is made and the other refused with EXPERIMENT_SUBJECT_TAKEN, having written nothing
    made = [outcome for outcome in outcomes if isinstance(outcome, ExperimentRecord)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert len(made) == 1
    assert [error.code for error in refused] == [ErrorCode.EXPERIMENT_SUBJECT_TAKEN]
    assert len(await fetch_all(connection(), "SELECT id FROM experiments")) == 1
    assert len(await fetch_all(connection(), "SELECT id FROM experiment_variants")) == 2
    assert len(await fetch_all(connection(), "SELECT id FROM experiment_subjects")) == 1
