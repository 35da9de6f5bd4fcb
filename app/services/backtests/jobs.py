"""Backtest jobs: a backtest queued through the API, run in the background with progress.

`queue_backtest` checks the input at once (a bad period or proposal is the caller's error, not
a failed job) and keeps it in `backtest_jobs` (QUEUED). The import runner
(app/jobs/backtests.py, beside the uploads it runs) claims it with a guarded update (RUNNING),
so one runner runs it, writes how many of the period's orders it has played, and stores both
runs' figures when done (DONE, or FAILED with the reason). The backtest itself writes nothing
else: only its own row in `backtest_jobs` changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from app.db import as_datetime, as_optional_datetime, connection, fetch_one, from_json, utc_now
from app.db import execute as run_statement
from app.domain.earning import RuleKind
from app.domain.tiers import TierMetric
from app.services.backtests.service import (
    BacktestInput,
    BacktestResult,
    PreparedBacktest,
    Proposal,
    ProposedRule,
    ProposedTier,
    RuleChange,
    RunFigures,
    TierCount,
    count_orders,
    prepare_backtest,
)
from app.services.imports.jobs import IMPORT_QUEUED
from app.services.programs.service import ProgramScope

_COLUMNS = (
    "id, program_id, status, input, orders_total, orders_done, result, failure, created_at,"
    " updated_at, finished_at"
)


@dataclass(frozen=True)
class BacktestJobRecord:
    id: int
    program_id: int
    status: str
    input: BacktestInput
    orders_total: int
    orders_done: int
    result: BacktestResult | None
    failure: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def input_json(data: BacktestInput) -> str:
    proposal = data.proposal
    return json.dumps(
        {
            "program_slug": data.program_slug,
            "start": data.start.isoformat(),
            "end": data.end.isoformat(),
            "proposal": {
                "points_per_currency_unit": proposal.points_per_currency_unit,
                "rules": None
                if proposal.rules is None
                else [
                    {
                        **asdict(rule),
                        "kind": rule.kind.value,
                        "starts_at": _moment(rule.starts_at),
                        "ends_at": _moment(rule.ends_at),
                    }
                    for rule in proposal.rules
                ],
                "tier_metric": None if proposal.tier_metric is None else proposal.tier_metric.value,
                "tiers": None if proposal.tiers is None else [asdict(t) for t in proposal.tiers],
                "expiry_days": proposal.expiry_days,
                "rule_changes": [asdict(change) for change in proposal.rule_changes],
            },
        },
        separators=(",", ":"),
    )


def input_of(value: Any) -> BacktestInput:
    stored = from_json(value)
    proposal = stored["proposal"]
    rules = proposal["rules"]
    tiers = proposal["tiers"]
    return BacktestInput(
        program_slug=str(stored["program_slug"]),
        start=as_datetime(stored["start"]),
        end=as_datetime(stored["end"]),
        proposal=Proposal(
            points_per_currency_unit=proposal["points_per_currency_unit"],
            rules=None
            if rules is None
            else tuple(
                ProposedRule(
                    **{
                        **rule,
                        "kind": RuleKind(rule["kind"]),
                        "starts_at": as_optional_datetime(rule["starts_at"]),
                        "ends_at": as_optional_datetime(rule["ends_at"]),
                        "include_skus": tuple(rule["include_skus"]),
                        "include_categories": tuple(rule["include_categories"]),
                    }
                )
                for rule in rules
            ),
            tier_metric=None
            if proposal["tier_metric"] is None
            else TierMetric(proposal["tier_metric"]),
            tiers=None if tiers is None else tuple(ProposedTier(**tier) for tier in tiers),
            expiry_days=proposal["expiry_days"],
            # Absent from jobs queued before rule changes could be proposed.
            rule_changes=tuple(
                RuleChange(**change) for change in proposal.get("rule_changes") or ()
            ),
        ),
    )


def result_json(result: BacktestResult) -> str:
    stored = asdict(result)
    stored["start"] = result.start.isoformat()
    stored["end"] = result.end.isoformat()
    return json.dumps(stored, separators=(",", ":"))


def _figures(stored: dict[str, Any]) -> RunFigures:
    return RunFigures(
        **{
            **stored,
            "members_per_tier": tuple(TierCount(**count) for count in stored["members_per_tier"]),
        }
    )


def result_of(value: Any) -> BacktestResult | None:
    stored = from_json(value)
    if stored is None:
        return None
    return BacktestResult(
        **{
            **stored,
            "start": as_datetime(stored["start"]),
            "end": as_datetime(stored["end"]),
            "current": _figures(stored["current"]),
            "proposed": _figures(stored["proposed"]),
        }
    )


def _record(row: dict[str, Any]) -> BacktestJobRecord:
    return BacktestJobRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        status=str(row["status"]),
        input=input_of(row["input"]),
        orders_total=int(row["orders_total"]),
        orders_done=int(row["orders_done"]),
        result=result_of(row["result"]),
        failure=row["failure"],
        created_at=as_datetime(row["created_at"]),
        updated_at=as_datetime(row["updated_at"]),
        finished_at=as_optional_datetime(row["finished_at"]),
    )


async def queue_backtest(data: BacktestInput, scope: ProgramScope) -> BacktestJobRecord:
    """The backtest, checked now and queued for the runner (DomainError on a bad input)."""
    prepared = await prepare_backtest(data, scope)
    now = utc_now()
    row = await fetch_one(
        connection(),
        "INSERT INTO backtest_jobs (program_id, status, input, orders_total, orders_done,"
        f" created_at, updated_at) VALUES (?, 'QUEUED', ?, 0, 0, ?, ?) RETURNING {_COLUMNS}",
        (prepared.program.id, input_json(data), now, now),
    )
    assert row is not None
    IMPORT_QUEUED.queued()
    return _record(row)


async def get_backtest_job(job_id: int, scope: ProgramScope) -> BacktestJobRecord | None:
    row = await fetch_one(
        connection(), f"SELECT {_COLUMNS} FROM backtest_jobs WHERE id = ?", (job_id,)
    )
    if row is None or (scope is not None and int(row["program_id"]) != scope):
        return None
    return _record(row)


async def claim_queued_backtest() -> BacktestJobRecord | None:
    """The oldest queued backtest, now RUNNING for this runner alone; None when none waits."""
    while True:
        queued = await fetch_one(
            connection(),
            "SELECT id FROM backtest_jobs WHERE status = 'QUEUED' ORDER BY id LIMIT 1",
            (),
        )
        if queued is None:
            return None
        claimed = await fetch_one(
            connection(),
            "UPDATE backtest_jobs SET status = 'RUNNING', updated_at = ?"
            f" WHERE id = ? AND status = 'QUEUED' RETURNING {_COLUMNS}",
            (utc_now(), queued["id"]),
        )
        if claimed is not None:
            return _record(claimed)
        # another runner took it


async def started(job: BacktestJobRecord) -> PreparedBacktest:
    """The claimed job's backtest, prepared again (the program may have changed since it was
    queued: the live side is the program as it is when the job runs), and its order count."""
    prepared = await prepare_backtest(job.input, job.program_id)
    total = await count_orders(prepared.program.id, job.input.start, job.input.end)
    await run_statement(
        connection(),
        "UPDATE backtest_jobs SET orders_total = ?, updated_at = ? WHERE id = ?",
        (total, utc_now(), job.id),
    )
    return prepared


async def save_progress(job_id: int, orders_done: int) -> None:
    await run_statement(
        connection(),
        "UPDATE backtest_jobs SET orders_done = ?, updated_at = ? WHERE id = ?",
        (orders_done, utc_now(), job_id),
    )


async def finish_backtest(job_id: int, result: BacktestResult | None, failure: str | None) -> None:
    """DONE with both runs' figures, or FAILED with why."""
    now = utc_now()
    await run_statement(
        connection(),
        "UPDATE backtest_jobs SET status = ?, result = ?, failure = ?,"
        " orders_done = COALESCE(?, orders_done), finished_at = ?, updated_at = ? WHERE id = ?",
        (
            "FAILED" if failure else "DONE",
            None if result is None else result_json(result),
            failure,
            None if result is None else result.orders,
            now,
            now,
            job_id,
        ),
    )
