"""What experiments change on the hot paths: which rules an order earns with, which rewards a
member may redeem or is shown, and the effect rows that record a member's variant.

One statement reads every experiment subject of a program (`program_plans`), and one more which
of the audiences that matter the member is in (none when no experiment that runs, or concluded
with a winner, has an audience); the rest is pure (app/domain/experiments.py).

The audience is the segment's kept members (`segment_members`, up to date at every commit that
changes the member; clock-driven conditions at each run of the `segments` job): the same set
that results count as assigned. The effect rows are written on the caller's connection, inside
the transaction of the order's or redemption's ledger movement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, execute, fetch_all, from_json
from app.domain.earning import Earning, PurchaseRule, Source
from app.domain.experiments import EffectKind, ExperimentPlan, ExperimentStatus, withheld
from app.services.core.config_cache import cached

__all__ = [
    "ExperimentPlan",
    "program_plans",
    "record_order_effects",
    "record_redemption_effects",
    "rules_for_member",
    "withheld_rewards",
]

_PLANS = (
    "SELECT e.id, e.status, e.starts_at, e.ends_at, e.slots, e.winner_variant_id,"
    " e.audience_segment_id, s.variant_id, s.earning_rule_id, s.reward_id"
    " FROM experiment_subjects s JOIN experiments e ON e.id = s.experiment_id"
    " WHERE s.program_id = ? ORDER BY e.id, s.id"
)


def _plans(rows: Sequence[dict[str, Any]]) -> list[ExperimentPlan]:
    plans: list[ExperimentPlan] = []
    rules: dict[int, int] = {}
    rewards: dict[int, int] = {}
    for index, row in enumerate(rows):
        variant = int(row["variant_id"])
        if row["earning_rule_id"] is not None:
            rules[int(row["earning_rule_id"])] = variant
        if row["reward_id"] is not None:
            rewards[int(row["reward_id"])] = variant
        last_of_experiment = index + 1 == len(rows) or rows[index + 1]["id"] != row["id"]
        if not last_of_experiment:
            continue
        winner = row["winner_variant_id"]
        audience = row["audience_segment_id"]
        plans.append(
            ExperimentPlan(
                id=int(row["id"]),
                status=ExperimentStatus(row["status"]),
                starts_at=as_datetime(row["starts_at"]),
                ends_at=as_datetime(row["ends_at"]),
                slots=tuple((int(v), int(w)) for v, w in from_json(row["slots"])),
                winner_variant_id=None if winner is None else int(winner),
                rules=rules,
                rewards=rewards,
                audience_segment_id=None if audience is None else int(audience),
            )
        )
        rules, rewards = {}, {}
    return plans


async def _program_plans(conn: BaseDBAsyncClient, program_id: int) -> tuple[ExperimentPlan, ...]:
    return tuple(_plans(await fetch_all(conn, _PLANS, (program_id,))))


async def program_plans(
    conn: BaseDBAsyncClient, program_id: int, member_id: int | None
) -> list[ExperimentPlan]:
    """Every experiment of the program that names a subject, as it applies to `member_id`
    (None: an unknown buyer, in no audience): one statement, and a second only when an
    experiment whose audience matters exists."""
    plans = list(
        await cached("experiments.plans", program_id, lambda: _program_plans(conn, program_id))
    )
    audiences = sorted(
        {
            plan.audience_segment_id
            for plan in plans
            if plan.audience_segment_id is not None and plan.audience_matters()
        }
    )
    if not any(plan.audience_segment_id is not None for plan in plans):
        return plans
    joined: set[int] = set()
    if member_id is not None and audiences:
        marks = ", ".join("?" for _ in audiences)
        rows = await fetch_all(
            conn,
            "SELECT segment_id FROM segment_members WHERE member_id = ?"
            f" AND segment_id IN ({marks})",
            (member_id, *audiences),
        )
        joined = {int(row["segment_id"]) for row in rows}
    return [
        plan
        if plan.audience_segment_id is None
        else replace(plan, in_audience=plan.audience_segment_id in joined)
        for plan in plans
    ]


def rules_for_member(
    rules: Sequence[PurchaseRule],
    plans: Sequence[ExperimentPlan],
    member_id: int | None,
    moment: datetime,
) -> list[PurchaseRule]:
    """The rules without those experiments keep from this member (None: an unknown buyer)."""
    if not plans:
        return list(rules)
    kept = withheld(plans, member_id, moment).rule_ids
    return [rule for rule in rules if rule.id not in kept]


def withheld_rewards(
    plans: Sequence[ExperimentPlan], member_id: int, moment: datetime
) -> frozenset[int]:
    return withheld(plans, member_id, moment).reward_ids if plans else frozenset()


_INSERT = (
    "INSERT INTO experiment_effects (program_id, experiment_id, variant_id, member_id, kind,"
    " order_id, redemption_id, points, revenue_minor, subject, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


async def record_order_effects(
    conn: BaseDBAsyncClient,
    plans: Sequence[ExperimentPlan],
    *,
    program_id: int,
    member_id: int,
    order_pk: int,
    earning: Earning,
    revenue_minor: int,
    placed_at: datetime,
    now: datetime,
) -> None:
    """One ORDER effect per experiment live at the order's time whose audience the member is
    in (every member without an audience): the member's variant, the points the experiment's
    rules gave the order, and its revenue (control members' orders too: they are what the
    variants are compared with)."""
    for plan in plans:
        if not plan.records(placed_at):
            continue
        points = sum(
            component.points
            for line in earning.lines
            for component in line.components
            if component.source == Source.RULE and component.rule_id in plan.rules
        )
        subject = any(
            component.source == Source.RULE and component.rule_id in plan.rules
            for line in earning.lines
            for component in line.components
        )
        await execute(
            conn,
            _INSERT,
            (
                program_id,
                plan.id,
                plan.variant_of(member_id),
                member_id,
                EffectKind.ORDER.value,
                order_pk,
                None,
                points,
                revenue_minor,
                subject,
                now,
            ),
        )


async def record_redemption_effects(
    conn: BaseDBAsyncClient,
    plans: Sequence[ExperimentPlan],
    *,
    program_id: int,
    member_id: int,
    redemption_pk: int,
    reward_id: int,
    points_spent: int,
    now: datetime,
) -> None:
    """One REDEMPTION effect per experiment live now whose audience the member is in, with
    the member's variant and whether the reward is one of the experiment's subjects."""
    for plan in plans:
        if not plan.records(now):
            continue
        await execute(
            conn,
            _INSERT,
            (
                program_id,
                plan.id,
                plan.variant_of(member_id),
                member_id,
                EffectKind.REDEMPTION.value,
                None,
                redemption_pk,
                points_spent,
                0,
                reward_id in plan.rewards,
                now,
            ),
        )
