"""The one job runner: `laurel jobs run` and, optionally, a loop inside the server.

Every job is idempotent and resumable (each says how in its module), so a run killed midway
is finished by the next one and nothing is done twice. On PostgreSQL each job also takes a
session advisory lock, so with several servers or cron hosts one runner does a job at a time;
the others report it as skipped. SQLite has a single writer and needs no lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.db import connection, is_postgres, utc_now
from app.jobs.analytics import summarise_analytics
from app.jobs.backtests import run_queued_backtests
from app.jobs.badges import award_time_badges
from app.jobs.bulk import run_queued_bulk_operations
from app.jobs.celebrations import award_celebrations
from app.jobs.expiry import expire_inactive, expire_lots, send_expiry_warnings
from app.jobs.imports import run_queued_imports
from app.jobs.maturing import mature_due_points
from app.jobs.memberships import end_memberships
from app.jobs.progress import Progress, SilentProgress
from app.jobs.purge import purge_idempotency_records
from app.jobs.redemption_codes import expire_codes
from app.jobs.referrals import settle_referral_rewards
from app.jobs.segments import refresh_segments
from app.jobs.tiers import recalculate_tiers, review_tiers

log = logging.getLogger("laurel.jobs")


class JobName(StrEnum):
    MATURE = "mature"
    # Referral rewards past their return window become final (after `mature`).
    REFERRALS = "referrals"
    # Paid memberships whose time is up end (before tiers: their tier floor goes with them).
    MEMBERSHIPS = "memberships"
    # Everyone brought to a changed tier configuration, then tiers that time changes (after
    # `referrals`, whose rewarded referrals count for tiers).
    TIERS_RECALCULATE = "tiers-recalculate"
    TIERS = "tiers"
    EXPIRE = "expire"
    EXPIRY_WARNINGS = "expiry-warnings"
    # Redemption codes past their reward's validity become EXPIRED.
    EXPIRE_CODES = "expire-codes"
    CELEBRATIONS = "celebrations"
    # MEMBER_FOR_DAYS badges members' enrolment age has earned.
    BADGES = "badges"
    # Segment memberships the clock moves (after everything above changed members' facts).
    SEGMENTS = "segments"
    PURGE_IDEMPOTENCY = "purge-idempotency"
    # Files uploaded through the API (importFile), queued until a runner imports them.
    IMPORTS = "imports"
    # Bulk operations (bulkAdjustPoints...), queued until a runner applies them.
    BULK = "bulk"
    # Backtests started through the API (startBacktest), queued until a runner plays them.
    BACKTESTS = "backtests"
    # Closed-period analytics summaries: the stale ones recounted, a settled month prepared
    # (last: after every job that writes).
    ANALYTICS_SUMMARIES = "analytics-summaries"


# The order of a full run: points mature before expiry looks at them, and expiry runs before
# its warnings so nobody is warned about points that are already gone.
ALL_JOBS = tuple(JobName)

JobFunction = Callable[[datetime, Progress], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class JobOptions:
    idempotency_retention_days: int = 30
    # The real time of a run made as of another (`laurel jobs run --as-of`). Keys are honoured
    # for their retention in real time, so purging never runs ahead of it: a client may still
    # retry with a key that a run as of a later time would otherwise free.
    real_now: datetime | None = None


def _jobs(options: JobOptions) -> dict[JobName, JobFunction]:
    async def expire(now: datetime, progress: Progress) -> dict[str, int]:
        by_lots = await expire_lots(now, progress)
        idle = await expire_inactive(now, SilentProgress())
        return {
            "members": by_lots["members"] + idle["members"],
            "points": by_lots["points"] + idle["points"],
        }

    async def mature(now: datetime, progress: Progress) -> dict[str, int]:
        return {"lots": await mature_due_points(now, progress=progress)}

    async def purge(now: datetime, progress: Progress) -> dict[str, int]:
        return await purge_idempotency_records(
            now if options.real_now is None else min(now, options.real_now),
            progress,
            retention_days=options.idempotency_retention_days,
        )

    return {
        JobName.MATURE: mature,
        JobName.REFERRALS: settle_referral_rewards,
        JobName.MEMBERSHIPS: end_memberships,
        JobName.TIERS_RECALCULATE: recalculate_tiers,
        JobName.TIERS: review_tiers,
        JobName.EXPIRE: expire,
        JobName.EXPIRY_WARNINGS: send_expiry_warnings,
        JobName.EXPIRE_CODES: expire_codes,
        JobName.CELEBRATIONS: award_celebrations,
        JobName.BADGES: award_time_badges,
        JobName.SEGMENTS: refresh_segments,
        JobName.PURGE_IDEMPOTENCY: purge,
        JobName.IMPORTS: run_queued_imports,
        JobName.BULK: run_queued_bulk_operations,
        JobName.BACKTESTS: run_queued_backtests,
        JobName.ANALYTICS_SUMMARIES: summarise_analytics,
    }


@dataclass(frozen=True)
class JobResult:
    name: JobName
    ran: bool
    seconds: float
    summary: dict[str, int] = field(default_factory=dict)


def _lock_key(name: JobName) -> int:
    """A stable signed 64-bit key per job for pg_try_advisory_lock."""
    digest = hashlib.sha256(f"laurel.job.{name.value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def _exclusive(name: JobName) -> AsyncIterator[bool]:
    client = connection()
    if not is_postgres(client):
        yield True
        return
    # A session lock on a connection of its own: held for the whole job while the work runs
    # its short transactions on other connections, and released if this process dies.
    async with client.acquire_connection() as raw:
        held: Any = await raw.fetchval("SELECT pg_try_advisory_lock($1)", _lock_key(name))
        try:
            yield bool(held)
        finally:
            if held:
                await raw.fetchval("SELECT pg_advisory_unlock($1)", _lock_key(name))


async def run_job(
    name: JobName,
    now: datetime,
    progress: Progress | None = None,
    options: JobOptions | None = None,
) -> JobResult:
    started = time.perf_counter()
    async with _exclusive(name) as acquired:
        if not acquired:
            return JobResult(name=name, ran=False, seconds=0.0)
        job = _jobs(options or JobOptions())[name]
        summary = await job(now, progress or SilentProgress())
    return JobResult(name=name, ran=True, seconds=time.perf_counter() - started, summary=summary)


def describe(result: JobResult) -> str:
    if not result.ran:
        return f"{result.name}: skipped, another runner holds it"
    counts = ", ".join(f"{key} {value}" for key, value in result.summary.items())
    return f"{result.name}: {counts} ({result.seconds:.2f} s)"


async def run_forever(interval_seconds: float, options: JobOptions) -> None:
    """The server's optional in-process runner: every job, every interval, until cancelled."""
    while True:
        for name in ALL_JOBS:
            try:
                result = await run_job(name, utc_now(), options=options)
                log.info("job %s", describe(result))
            except Exception:
                # One failing job must not stop the others or the next round; it is resumable.
                log.exception("job %s failed; it will run again next round", name)
        await asyncio.sleep(interval_seconds)
