"""Experiments of a program: created, started and concluded by admins, listed, and their results.

What an experiment does to earning and redemption is in app/domain/experiments.py (the rules)
and app/services/experiments/enforcement.py (the hot paths). This module is the cold path:
admin writes through the Tortoise models, each in its own transaction.

An experiment is made whole (variants, weights, subjects, window) and never edited: the
assignment of members to variants depends on its variants' weights and order, so changing
them while it runs would move members between variants. Start it, then stop it with or
without a winner.

An experiment may have an audience (one segment, by key): only the segment's members are in
it (app/domain/experiments.py), and results count as assigned the members kept in the segment
(`segment_members`) instead of every member of the program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_all_in,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.experiments import (
    BUCKETS,
    MAX_VARIANTS,
    EffectKind,
    ExperimentStatus,
    VariantOutcome,
    VariantTotals,
    bucket_of,
    outcomes,
    variant_at,
)
from app.domain.ids import encode_id
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker
from app.models import Experiment, ExperimentSubject, ExperimentVariant
from app.services.core.events import append_event
from app.services.core.idempotency import checked_key, create_once_if_keyed, input_payload
from app.services.programs.service import ProgramScope, require_program

KEY_MAX = 64
MAX_SUBJECTS_PER_VARIANT = 20
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
# Members read per statement when results count who is assigned to which variant.
MEMBER_PAGE = 5000


@dataclass(frozen=True)
class VariantInput:
    key: str
    weight: int
    control: bool = False
    earning_rule_ids: tuple[int, ...] = ()
    reward_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CreateExperimentInput:
    program_slug: str
    name: str
    starts_at: datetime
    ends_at: datetime
    variants: tuple[VariantInput, ...]
    description: str = ""
    # The audience: a segment key of the program; None: every member.
    segment: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class StopExperimentInput:
    experiment_id: int
    # The variant whose subjects everyone gets from now on; None: nobody gets any of them.
    winner_variant_key: str | None = None


@dataclass(frozen=True)
class VariantRecord:
    id: int
    key: str
    weight: int
    control: bool
    earning_rule_ids: tuple[int, ...]
    reward_ids: tuple[int, ...]


@dataclass(frozen=True)
class ExperimentRecord:
    id: int
    program_id: int
    name: str
    description: str
    status: ExperimentStatus
    starts_at: datetime
    ends_at: datetime
    winner_variant_id: int | None
    started_at: datetime | None
    concluded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    variants: tuple[VariantRecord, ...]
    # The audience segment's id and key (None: every member).
    audience_segment_id: int | None = None
    segment: str | None = None

    @property
    def winner_variant_key(self) -> str | None:
        return next((v.key for v in self.variants if v.id == self.winner_variant_id), None)

    @property
    def control_variant_id(self) -> int | None:
        return next((v.id for v in self.variants if v.control), None)

    def is_live(self, moment: datetime) -> bool:
        return self.status is ExperimentStatus.RUNNING and self.starts_at <= moment < self.ends_at


_COLUMNS = (
    "id, program_id, name, description, status, starts_at, ends_at, winner_variant_id,"
    " started_at, concluded_at, created_at, updated_at, audience_segment_id,"
    " (SELECT sg.key FROM segments sg WHERE sg.id = experiments.audience_segment_id) AS segment"
)


async def _records(
    conn: BaseDBAsyncClient, rows: Sequence[dict[str, Any]]
) -> list[ExperimentRecord]:
    """The experiments of `rows` with their variants and subjects (two more statements)."""
    ids = [int(row["id"]) for row in rows]
    variants = await fetch_all_in(
        conn,
        "SELECT id, experiment_id, key, weight, control FROM experiment_variants",
        "experiment_id",
        ids,
        order_by="experiment_id, position",
    )
    subjects = await fetch_all_in(
        conn,
        "SELECT variant_id, earning_rule_id, reward_id FROM experiment_subjects",
        "experiment_id",
        ids,
        order_by="id",
    )
    rules: dict[int, list[int]] = {}
    rewards: dict[int, list[int]] = {}
    for subject in subjects:
        variant_id = int(subject["variant_id"])
        if subject["earning_rule_id"] is not None:
            rules.setdefault(variant_id, []).append(int(subject["earning_rule_id"]))
        if subject["reward_id"] is not None:
            rewards.setdefault(variant_id, []).append(int(subject["reward_id"]))
    by_experiment: dict[int, list[VariantRecord]] = {}
    for variant in variants:
        pk = int(variant["id"])
        by_experiment.setdefault(int(variant["experiment_id"]), []).append(
            VariantRecord(
                id=pk,
                key=str(variant["key"]),
                weight=int(variant["weight"]),
                control=bool(variant["control"]),
                earning_rule_ids=tuple(rules.get(pk, ())),
                reward_ids=tuple(rewards.get(pk, ())),
            )
        )
    return [
        ExperimentRecord(
            id=int(row["id"]),
            program_id=int(row["program_id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            status=ExperimentStatus(row["status"]),
            starts_at=as_datetime(row["starts_at"]),
            ends_at=as_datetime(row["ends_at"]),
            winner_variant_id=(
                None if row["winner_variant_id"] is None else int(row["winner_variant_id"])
            ),
            started_at=as_optional_datetime(row["started_at"]),
            concluded_at=as_optional_datetime(row["concluded_at"]),
            created_at=as_datetime(row["created_at"]),
            updated_at=as_datetime(row["updated_at"]),
            variants=tuple(by_experiment.get(int(row["id"]), ())),
            audience_segment_id=(
                None if row["audience_segment_id"] is None else int(row["audience_segment_id"])
            ),
            segment=None if row["segment"] is None else str(row["segment"]),
        )
        for row in rows
    ]


async def _read(
    conn: BaseDBAsyncClient, experiment_id: int, scope: ProgramScope
) -> ExperimentRecord | None:
    row = await fetch_one(
        conn, f"SELECT {_COLUMNS} FROM experiments WHERE id = ?", (experiment_id,)
    )
    if row is None or (scope is not None and int(row["program_id"]) != scope):
        return None
    (record,) = await _records(conn, [row])
    return record


async def get_experiment(experiment_id: int, scope: ProgramScope) -> ExperimentRecord | None:
    return await _read(connection(), experiment_id, scope)


async def list_experiments(
    program_id: int, *, first: int, after: int | None
) -> list[ExperimentRecord]:
    """The program's experiments, oldest first (keyset by id; the caller asks one row more
    than it shows to tell whether more follow)."""
    rows = await fetch_all(
        connection(),
        f"SELECT {_COLUMNS} FROM experiments WHERE program_id = ? AND id > ? ORDER BY id LIMIT ?",
        (program_id, after or 0, first),
    )
    return await _records(connection(), rows)


async def _announce(
    conn: BaseDBAsyncClient, record: ExperimentRecord, event_type: str, now: datetime
) -> None:
    await append_event(
        conn,
        program_id=record.program_id,
        member_id=None,
        event_type=event_type,
        payload={
            "experimentId": encode_id("Experiment", record.id),
            "name": record.name,
            "status": record.status.value,
            "winnerVariantKey": record.winner_variant_key,
        },
        now=now,
    )


# --- creating ---------------------------------------------------------------------------------


def _check_moments(check: Checker, starts_at: datetime, ends_at: datetime) -> None:
    aware = True
    for field, moment in (("startsAt", starts_at), ("endsAt", ends_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            aware = False
            check.add(
                ErrorCode.INVALID_VALUE,
                f"{field} needs a time zone, e.g. 2026-11-20T10:00:00Z",
                ["input", field],
            )
        elif not EARLIEST_TIME <= moment <= LATEST_TIME:
            check.add(
                ErrorCode.INVALID_VALUE, f"{field} must be between 2000 and 2200", ["input", field]
            )
    if aware and ends_at <= starts_at:
        check.add(ErrorCode.INVALID_VALUE, "endsAt must be after startsAt", ["input", "endsAt"])


def _check_variants(check: Checker, variants: Sequence[VariantInput]) -> list[str]:
    """Every problem of the variants; their keys, trimmed."""
    field = ["input", "variants"]
    if not 2 <= len(variants) <= MAX_VARIANTS:
        check.add(
            ErrorCode.INVALID_VALUE if len(variants) < 2 else ErrorCode.TOO_MANY,
            f"an experiment has 2 to {MAX_VARIANTS} variants, got {len(variants)}",
            field,
        )
        return []
    keys: list[str] = []
    seen_subjects: set[tuple[str, int]] = set()
    controls = 0
    weights_valid = True
    for index, variant in enumerate(variants):
        at = [*field, str(index)]
        key = check.text([*at, "key"], variant.key, KEY_MAX) or ""
        if key and key in keys:
            check.add(ErrorCode.INVALID_VALUE, f"two variants are called {key!r}", [*at, "key"])
        keys.append(key)
        if not 1 <= variant.weight <= BUCKETS:
            weights_valid = False
            check.add(
                ErrorCode.INVALID_WEIGHTS,
                f"weight must be between 1 and {BUCKETS}, got {variant.weight}",
                [*at, "weight"],
            )
        subjects = [("earningRuleIds", pk) for pk in variant.earning_rule_ids] + [
            ("rewardIds", pk) for pk in variant.reward_ids
        ]
        if variant.control:
            controls += 1
            if subjects:
                check.add(
                    ErrorCode.INVALID_VALUE,
                    "the control group gets nothing: it names no rule or reward",
                    [*at, subjects[0][0]],
                )
        elif not subjects:
            check.add(
                ErrorCode.REQUIRED,
                "a variant other than control names at least one earning rule or reward",
                [*at, "earningRuleIds"],
            )
        if len(subjects) > MAX_SUBJECTS_PER_VARIANT:
            check.add(
                ErrorCode.TOO_MANY,
                f"a variant names at most {MAX_SUBJECTS_PER_VARIANT} rules and rewards",
                [*at, "earningRuleIds"],
            )
        for name, pk in subjects:
            if (name, pk) in seen_subjects:
                check.add(
                    ErrorCode.INVALID_VALUE,
                    "a rule or reward belongs to one variant, once",
                    [*at, name],
                )
            seen_subjects.add((name, pk))
    if controls > 1:
        check.add(ErrorCode.INVALID_VALUE, "an experiment has one control group at most", field)
    total = sum(variant.weight for variant in variants)
    if weights_valid and total != BUCKETS:
        check.add(
            ErrorCode.INVALID_WEIGHTS,
            f"the variants' weights must sum to {BUCKETS} (1/100 of a percent each), got {total}",
            field,
        )
    return keys


async def _check_subjects(
    conn: BaseDBAsyncClient, program_id: int, variants: Sequence[VariantInput]
) -> None:
    """Every subject is a rule or reward of the program that no experiment tests yet."""
    rule_ids = [pk for variant in variants for pk in variant.earning_rule_ids]
    reward_ids = [pk for variant in variants for pk in variant.reward_ids]
    rules = {
        int(row["id"]): int(row["program_id"])
        for row in await fetch_all_in(
            conn, "SELECT id, program_id FROM earning_rules", "id", rule_ids
        )
    }
    rewards = {
        int(row["id"]): int(row["program_id"])
        for row in await fetch_all_in(conn, "SELECT id, program_id FROM rewards", "id", reward_ids)
    }
    taken_rules = {
        int(row["earning_rule_id"])
        for row in await fetch_all_in(
            conn, "SELECT earning_rule_id FROM experiment_subjects", "earning_rule_id", rule_ids
        )
    }
    taken_rewards = {
        int(row["reward_id"])
        for row in await fetch_all_in(
            conn, "SELECT reward_id FROM experiment_subjects", "reward_id", reward_ids
        )
    }
    check = Checker()
    for index, variant in enumerate(variants):
        for name, pks, known, taken, missing, noun in (
            (
                "earningRuleIds",
                variant.earning_rule_ids,
                rules,
                taken_rules,
                ErrorCode.RULE_NOT_FOUND,
                "earning rule",
            ),
            (
                "rewardIds",
                variant.reward_ids,
                rewards,
                taken_rewards,
                ErrorCode.REWARD_NOT_FOUND,
                "reward",
            ),
        ):
            for position, pk in enumerate(pks):
                at = ["input", "variants", str(index), name, str(position)]
                if known.get(pk) != program_id:
                    check.add(missing, f"the program has no such {noun}", at)
                elif pk in taken:
                    check.add(
                        ErrorCode.EXPERIMENT_SUBJECT_TAKEN,
                        f"another experiment already tests this {noun}",
                        at,
                    )
    check.raise_if_any()


def _check_segment_key(check: Checker, segment: str | None) -> str | None:
    if segment is None:
        return None
    return check.text(["input", "segment"], segment, KEY_MAX)


async def _audience_id(conn: BaseDBAsyncClient, program_id: int, key: str | None) -> int | None:
    """The id of the program's segment `key` in use (SEGMENT_NOT_FOUND otherwise)."""
    if key is None:
        return None
    row = await fetch_one(
        conn,
        "SELECT id FROM segments WHERE program_id = ? AND key = ? AND archived_at IS NULL",
        (program_id, key),
    )
    if row is None:
        raise DomainError(
            ErrorCode.SEGMENT_NOT_FOUND,
            f"no segment with key {key!r} in the program",
            ["input", "segment"],
        )
    return int(row["id"])


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


async def create_experiment(data: CreateExperimentInput) -> ExperimentRecord:
    """A DRAFT experiment; a retry with the same `idempotency_key` returns the one the first
    made. From now on the experiment decides who gets its rules and rewards (nobody until it
    starts)."""
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    _check_moments(check, data.starts_at, data.ends_at)
    keys = _check_variants(check, data.variants)
    segment = _check_segment_key(check, data.segment)
    check.raise_if_any()
    assert name is not None
    key = checked_key(data.idempotency_key)
    program = await require_program(data.program_slug, None)
    now = utc_now()
    try:
        async with in_transaction() as conn:

            async def perform() -> ExperimentRecord:
                await _check_subjects(conn, program.id, data.variants)
                audience = await _audience_id(conn, program.id, segment)
                experiment = await Experiment.create(
                    using_db=conn,
                    program_id=program.id,
                    name=name,
                    description=description or "",
                    status=ExperimentStatus.DRAFT.value,
                    starts_at=_utc(data.starts_at),
                    ends_at=_utc(data.ends_at),
                    slots=[],
                    audience_segment_id=audience,
                    created_at=now,
                    updated_at=now,
                )
                slots: list[list[int]] = []
                for position, (variant, variant_key) in enumerate(
                    zip(data.variants, keys, strict=True)
                ):
                    made = await ExperimentVariant.create(
                        using_db=conn,
                        experiment_id=experiment.id,
                        key=variant_key,
                        weight=variant.weight,
                        control=variant.control,
                        position=position,
                    )
                    slots.append([made.id, variant.weight])
                    for rule_id in variant.earning_rule_ids:
                        await ExperimentSubject.create(
                            using_db=conn,
                            program_id=program.id,
                            experiment_id=experiment.id,
                            variant_id=made.id,
                            earning_rule_id=rule_id,
                        )
                    for reward_id in variant.reward_ids:
                        await ExperimentSubject.create(
                            using_db=conn,
                            program_id=program.id,
                            experiment_id=experiment.id,
                            variant_id=made.id,
                            reward_id=reward_id,
                        )
                await Experiment.filter(id=experiment.id).using_db(conn).update(slots=slots)
                record = await _read(conn, experiment.id, None)
                assert record is not None
                await _announce(conn, record, "experiment.created", now)
                return record

            return await create_once_if_keyed(
                conn,
                program_id=program.id,
                key=key,
                operation="createExperiment",
                payload={"programSlug": data.program_slug, **input_payload(data)},
                now=now,
                create=perform,
                remember_id_as="experimentId",
                read=lambda experiment_id: _read(conn, experiment_id, None),
            )
    except IntegrityError as exc:
        # Another request made an experiment of one of these subjects after our check.
        raise DomainError(
            ErrorCode.EXPERIMENT_SUBJECT_TAKEN,
            "another experiment already tests one of these rules or rewards",
            ["input", "variants"],
        ) from exc


# --- starting and stopping --------------------------------------------------------------------


async def _require(
    conn: BaseDBAsyncClient, experiment_id: int, scope: ProgramScope
) -> ExperimentRecord:
    record = await _read(conn, experiment_id, scope)
    if record is None:
        raise DomainError(ErrorCode.EXPERIMENT_NOT_FOUND, "no such experiment", ["input", "id"])
    return record


async def start_experiment(experiment_id: int, scope: ProgramScope) -> ExperimentRecord:
    """DRAFT -> RUNNING: from its startsAt (or now, when that is past) members of each variant
    get the variant's rules and rewards, and their orders and redemptions are recorded."""
    now = utc_now()
    async with in_transaction() as conn:
        record = await _require(conn, experiment_id, scope)
        if now >= record.ends_at:
            raise DomainError(
                ErrorCode.EXPERIMENT_STATUS_CONFLICT,
                "the experiment's window has ended: it cannot start",
                ["input", "id"],
            )
        started = (
            await Experiment.filter(id=record.id, status=ExperimentStatus.DRAFT.value)
            .using_db(conn)
            .update(status=ExperimentStatus.RUNNING.value, started_at=now, updated_at=now)
        )
        if not started:
            raise DomainError(
                ErrorCode.EXPERIMENT_STATUS_CONFLICT,
                f"only a DRAFT experiment starts; this one is {record.status.value}",
                ["input", "id"],
            )
        updated = await _read(conn, record.id, None)
        assert updated is not None
        await _announce(conn, updated, "experiment.started", now)
    return updated


async def stop_experiment(data: StopExperimentInput, scope: ProgramScope) -> ExperimentRecord:
    """DRAFT or RUNNING -> CONCLUDED: with a winner, everyone gets the winner's rules and
    rewards from now on; without one, nobody gets any of the experiment's."""
    now = utc_now()
    async with in_transaction() as conn:
        record = await _require(conn, data.experiment_id, scope)
        winner: int | None = None
        if data.winner_variant_key is not None:
            wanted = data.winner_variant_key.strip()
            winner = next((v.id for v in record.variants if v.key == wanted), None)
            if winner is None:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    "the experiment has no variant with that key",
                    ["input", "winnerVariantKey"],
                )
        stopped = (
            await Experiment.filter(
                id=record.id,
                status__in=[ExperimentStatus.DRAFT.value, ExperimentStatus.RUNNING.value],
            )
            .using_db(conn)
            .update(
                status=ExperimentStatus.CONCLUDED.value,
                winner_variant_id=winner,
                concluded_at=now,
                updated_at=now,
            )
        )
        if not stopped:
            raise DomainError(
                ErrorCode.EXPERIMENT_STATUS_CONFLICT,
                "the experiment is already concluded",
                ["input", "id"],
            )
        updated = await _read(conn, record.id, None)
        assert updated is not None
        await _announce(conn, updated, "experiment.concluded", now)
    return updated


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantResult:
    variant: VariantRecord
    outcome: VariantOutcome


@dataclass(frozen=True)
class ExperimentResults:
    experiment: ExperimentRecord
    currency: str
    variants: tuple[VariantResult, ...]


async def _assigned(conn: BaseDBAsyncClient, record: ExperimentRecord) -> dict[int, int]:
    """Members per variant: every member of the program (with an audience: every member kept
    in its segment now) enrolled before the experiment's end, bucketed as at earn time (read
    in pages; the cold path of an admin's report)."""
    slots = [(variant.id, variant.weight) for variant in record.variants]
    counts = dict.fromkeys((variant.id for variant in record.variants), 0)
    after = 0
    while True:
        if record.audience_segment_id is None:
            rows = await fetch_all(
                conn,
                "SELECT id, enrolled_at FROM members WHERE program_id = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (record.program_id, after, MEMBER_PAGE),
            )
        else:
            rows = await fetch_all(
                conn,
                "SELECT m.id, m.enrolled_at FROM segment_members sm"
                " JOIN members m ON m.id = sm.member_id"
                " WHERE sm.segment_id = ? AND sm.member_id > ? ORDER BY sm.member_id LIMIT ?",
                (record.audience_segment_id, after, MEMBER_PAGE),
            )
        for row in rows:
            if as_datetime(row["enrolled_at"]) < record.ends_at:
                counts[variant_at(slots, bucket_of(record.id, int(row["id"])))] += 1
        if len(rows) < MEMBER_PAGE:
            return counts
        after = int(rows[-1]["id"])


async def experiment_results(experiment_id: int, scope: ProgramScope) -> ExperimentResults | None:
    """Per variant: members assigned and exposed, orders, revenue, points, redemptions, the
    averages per member assigned and the lift over control (docs/capabilities/experiments.md)."""
    conn = connection()
    record = await _read(conn, experiment_id, scope)
    if record is None:
        return None
    program = await fetch_one(
        conn, "SELECT currency FROM programs WHERE id = ?", (record.program_id,)
    )
    assert program is not None
    assigned = await _assigned(conn, record)
    exposed = {
        int(row["variant_id"]): int(row["members"])
        for row in await fetch_all(
            conn,
            "SELECT variant_id, COUNT(DISTINCT member_id) AS members FROM experiment_effects"
            " WHERE experiment_id = ? GROUP BY variant_id",
            (record.id,),
        )
    }
    sums: dict[tuple[int, str], dict[str, Any]] = {
        (int(row["variant_id"]), str(row["kind"])): row
        for row in await fetch_all(
            conn,
            "SELECT variant_id, kind, COUNT(*) AS effects, COALESCE(SUM(points), 0) AS points,"
            " COALESCE(SUM(revenue_minor), 0) AS revenue,"
            " COALESCE(SUM(CASE WHEN subject THEN 1 ELSE 0 END), 0) AS subject_effects"
            " FROM experiment_effects WHERE experiment_id = ? GROUP BY variant_id, kind",
            (record.id,),
        )
    }
    buyers = {
        int(row["variant_id"]): (int(row["ordering"]), int(row["repeating"]))
        for row in await fetch_all(
            conn,
            "SELECT variant_id, COUNT(*) AS ordering,"
            " SUM(CASE WHEN orders > 1 THEN 1 ELSE 0 END) AS repeating FROM ("
            "   SELECT variant_id, member_id, COUNT(*) AS orders FROM experiment_effects"
            "   WHERE experiment_id = ? AND kind = ? GROUP BY variant_id, member_id"
            " ) AS per_member GROUP BY variant_id",
            (record.id, EffectKind.ORDER.value),
        )
    }
    empty = {"effects": 0, "points": 0, "revenue": 0, "subject_effects": 0}
    totals = []
    for variant in record.variants:
        orders = sums.get((variant.id, EffectKind.ORDER.value), empty)
        redemptions = sums.get((variant.id, EffectKind.REDEMPTION.value), empty)
        totals.append(
            VariantTotals(
                variant_id=variant.id,
                members_assigned=assigned[variant.id],
                members_exposed=exposed.get(variant.id, 0),
                orders=int(orders["effects"]),
                revenue_minor=int(orders["revenue"]),
                points_issued=int(orders["points"]),
                redemptions=int(redemptions["effects"]),
                subject_redemptions=int(redemptions["subject_effects"]),
                points_redeemed=int(redemptions["points"]),
                ordering_members=buyers.get(variant.id, (0, 0))[0],
                repeat_members=buyers.get(variant.id, (0, 0))[1],
            )
        )
    results = outcomes(totals, record.control_variant_id)
    return ExperimentResults(
        experiment=record,
        currency=str(program["currency"]),
        variants=tuple(
            VariantResult(variant=variant, outcome=outcome)
            for variant, outcome in zip(record.variants, results, strict=True)
        ),
    )
