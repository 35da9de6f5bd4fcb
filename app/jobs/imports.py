"""Importing a file, and replaying imported history as if Laurel had been running.

`run_import` streams the file (app/services/imports/reader.py), checks each item
(app/domain/imports.py) and imports it through the capabilities' own services
(app/services/imports/service.py). A bad item becomes row errors (line, column, code) and the
import goes on. Memory holds one item, whatever the file's size.

As-of recalculation (orders): orders come in the time they were placed, and each is recorded
with the clock of this task set to its `placed_at` (`app.clock.using_in_context`, so a server
answering live requests beside the import keeps the real time). Before an order, the scheduled
work that fell due since the last one runs at the order's time, as cron would have: pending
points mature, lots and idle balances expire, referral rewards settle, memberships end, tiers
are reviewed at the end of their periods. The earning itself is `record_order`'s, with the rule
versions, campaigns, tiers and segments in force at `placed_at`. The program's expiry policy
counts from the first replayed order (turning expiry on is otherwise never retroactive). When
the file is done, the scheduled work runs once more at the real time. Everything the replay
writes is marked as replayed history in the outbox, which the webhook fan-out skips: no messages
about the past.

The due work is global (like `laurel jobs run`); it does nothing to a program that is already
up to date, so importing into a database with other live programs is safe. Importing history
into a program that already has live activity of its own is not: the replay does not move that
activity back in time (import before going live).

Idempotent and resumable: a second run, or a run after a crash, skips members, orders and
balances already imported (by the store's ids) and runs no scheduled work for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from app import clock
from app.db import as_optional_datetime, connection, fetch_one, utc_now
from app.domain.errors import DomainError
from app.domain.expiry import ExpiryPolicy
from app.domain.imports import (
    MAX_REPORTED_ERRORS,
    BalanceRow,
    FileFormat,
    ImportKind,
    RowError,
    RowErrorCode,
    RowRejectedError,
    lot_row,
    member_row,
    order_row,
)
from app.jobs.backtests import run_queued_backtests
from app.jobs.bulk import run_queued_bulk_operations
from app.jobs.expiry import expire_inactive, expire_lots
from app.jobs.maturing import mature_due_points
from app.jobs.memberships import end_memberships
from app.jobs.progress import Progress, SilentProgress
from app.jobs.referrals import settle_referral_rewards
from app.jobs.tiers import recalculate_tiers, review_tiers
from app.services.core.leases import LeaseLostError
from app.services.core.outbox import replaying
from app.services.imports import jobs as jobs_service
from app.services.imports import service as imports
from app.services.imports.reader import Item, read_items
from app.services.imports.service import ItemResult, Outcome
from app.services.programs.service import (
    ProgramRecord,
    backdate_expiry_start,
    require_program,
)
from app.services.tiers import service as tiers_service

log = logging.getLogger("laurel.imports")


@dataclass
class ImportReport:
    kind: ImportKind
    dry_run: bool
    items: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    # Points the imported items earned or carried (orders, balances), or would (a dry run of
    # balances).
    points: int = 0
    # The first MAX_REPORTED_ERRORS row errors; `error_count` counts them all.
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    # How many times the scheduled work ran during the replay.
    due_runs: int = 0

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def count(self, result: ItemResult) -> None:
        self.items += 1
        self.points += result.points
        if result.outcome is Outcome.SKIPPED:
            self.skipped += 1
        else:
            self.imported += 1


# When each piece of scheduled work falls due next (every job the replay runs has its due column
# here; when a program expires idle balances, or a tier configuration waits to be applied,
# everything runs every time).
_NEXT_DUE = """
SELECT
    (SELECT MIN(pending_until) FROM point_lots WHERE pending_until IS NOT NULL) AS mature,
    (SELECT MIN(available_at) FROM referral_rewards WHERE status = 'PENDING') AS referrals,
    (SELECT MIN(ends_at) FROM memberships WHERE ended_at IS NULL) AS memberships,
    (SELECT MIN(review_at) FROM member_tiers WHERE review_at IS NOT NULL) AS tiers,
    (SELECT MIN(expires_at) FROM point_lots
      WHERE remaining > 0 AND pending_until IS NULL AND expires_at IS NOT NULL) AS expire
"""
# The replay's jobs, in the runner's order (app/jobs/runner.py).
REPLAY_JOBS = ("mature", "referrals", "memberships", "tiers", "expire")
# A job can make another's work due at once (a lot that matured long ago may already be past its
# lifetime): the due instants are read again after a run, this many times at most.
_ROUNDS = 3


class DueWork:
    """Runs the scheduled work that fell due before each replayed moment, and only that."""

    def __init__(self) -> None:
        self.checked_at: datetime | None = None
        self.runs = 0

    async def _due(self, moment: datetime) -> tuple[str, ...]:
        conn = connection()
        idle = await fetch_one(
            conn,
            "SELECT 1 AS found FROM programs WHERE expiry_policy = ?",
            (ExpiryPolicy.INACTIVITY.value,),
        )
        if idle is not None or await tiers_service.programs_to_recalculate():
            # Idle balances are due at an instant only the job computes, and a changed tier
            # configuration at once.
            return ("recalculate", *REPLAY_JOBS, "inactive")
        row = await fetch_one(conn, _NEXT_DUE, ())
        assert row is not None
        return tuple(
            name
            for name in REPLAY_JOBS
            if (due := as_optional_datetime(row[name])) is not None and due <= moment
        )

    async def until(self, moment: datetime) -> None:
        """Everything due at or before `moment`, done as of `moment`."""
        if self.checked_at is not None and moment <= self.checked_at:
            return
        self.checked_at = moment
        for _ in range(_ROUNDS):
            jobs = await self._due(moment)
            if not jobs:
                return
            self.runs += 1
            with clock.using_in_context(clock.ManualClock(moment)):
                await run_due_work(moment, jobs)


async def run_due_work(
    now: datetime, jobs: tuple[str, ...] = ("recalculate", *REPLAY_JOBS, "inactive")
) -> None:
    """The scheduled work of `laurel jobs run` that changes points and tiers, in its order."""
    quiet = SilentProgress()
    if "mature" in jobs:
        await mature_due_points(now, progress=quiet)
    if "referrals" in jobs:
        await settle_referral_rewards(now, quiet)
    if "memberships" in jobs:
        await end_memberships(now, quiet)
    if "recalculate" in jobs:
        await recalculate_tiers(now, quiet)
    if "tiers" in jobs:
        await review_tiers(now, quiet)
    if "expire" in jobs:
        await expire_lots(now, quiet)
    if "inactive" in jobs:
        await expire_inactive(now, quiet)


def _at(moment: datetime) -> clock.ManualClock:
    return clock.ManualClock(moment)


async def _import_item(
    program: ProgramRecord,
    kind: ImportKind,
    item: Item,
    report: ImportReport,
    due: DueWork,
    last_placed: list[datetime],
) -> ItemResult:
    now = utc_now()
    if kind is ImportKind.MEMBERS:
        member = member_row(item.line, item.records[0])
        if member.enrolled_at is not None and member.enrolled_at > now:
            raise RowRejectedError(
                [
                    RowError(
                        item.line, "enrolled_at", RowErrorCode.INVALID_VALUE.value, "in the future"
                    )
                ]
            )
        with clock.using_in_context(_at(member.enrolled_at or now)):
            return await imports.import_member(program, member, dry_run=report.dry_run)
    if kind is ImportKind.BALANCES:
        lots = []
        errors: list[RowError] = []
        for offset, record in enumerate(item.records):
            try:
                lots.append(lot_row(item.line + offset, record))
            except RowRejectedError as rejected:
                errors.extend(rejected.errors)
        if errors:
            raise RowRejectedError(errors)
        customer_id = str(item.records[0].get("customer_id") or "").strip()
        balance = BalanceRow(line=item.line, customer_id=customer_id, lots=tuple(lots))
        return await imports.import_balance(program, balance, dry_run=report.dry_run)
    order = order_row(item.line, item.records)
    if order.placed_at > now:
        raise RowRejectedError(
            [RowError(item.line, "placed_at", RowErrorCode.INVALID_VALUE.value, "in the future")]
        )
    if last_placed and order.placed_at < last_placed[0]:
        raise RowRejectedError(
            [
                RowError(
                    item.line,
                    "placed_at",
                    RowErrorCode.NOT_IN_TIME_ORDER.value,
                    f"placed before the order above it ({last_placed[0].isoformat()}):"
                    " orders must come in the time they were placed",
                )
            ]
        )
    last_placed[:] = [order.placed_at]
    if not report.dry_run:
        if await imports.order_recorded(program, order.order_id):
            # Resumed or repeated: the order is there, with what fell due around it.
            return ItemResult(Outcome.SKIPPED)
        if due.checked_at is None:
            # The program's expiry counts from the first replayed order, not from when it was
            # configured (which is usually just before the import).
            await backdate_expiry_start(program.id, order.placed_at)
        await due.until(order.placed_at)
    with clock.using_in_context(_at(order.placed_at)):
        return await imports.import_order(program, order, dry_run=report.dry_run)


async def run_import(
    stream: IO[bytes],
    *,
    program_slug: str,
    kind: ImportKind,
    file_format: FileFormat,
    dry_run: bool = False,
    progress: Progress | None = None,
    total_bytes: int = 0,
    on_item: Callable[[ImportReport, int], Awaitable[None]] | None = None,
) -> ImportReport:
    """Import the file's items into the program; a bad item is reported, never fatal. Raises a
    DomainError only for what makes the whole file unusable (its program, its header)."""
    program = await require_program(program_slug, None, ["program"])
    progress = progress or SilentProgress()
    progress.start(total_bytes)
    read = [0]

    def advance(size: int) -> None:
        read[0] += size
        assert progress is not None
        progress.advance(size)

    report = ImportReport(kind=kind, dry_run=dry_run)
    due = DueWork()
    last_placed: list[datetime] = []
    with replaying():
        for item in read_items(stream, kind, file_format, advance):
            if isinstance(item, RowError):
                report.failed += 1
                report.add_errors([item])
            else:
                try:
                    report.count(await _import_item(program, kind, item, report, due, last_placed))
                except RowRejectedError as rejected:
                    report.failed += 1
                    report.add_errors(rejected.errors)
                except DomainError as error:
                    report.failed += 1
                    report.add_errors([imports.row_errors(item.line, error)])
            if on_item is not None:
                await on_item(report, read[0])
        if kind is ImportKind.ORDERS and not dry_run and report.imported:
            # What fell due after the last order, up to now.
            due.checked_at = None
            await due.until(utc_now())
    report.due_runs = due.runs
    log.info(
        "import %s into %s: %s imported, %s skipped, %s failed",
        kind.value,
        program.slug,
        report.imported,
        report.skipped,
        report.failed,
    )
    return report


# How often a running upload writes its progress.
PROGRESS_SECONDS = 1.0


def _counts(report: ImportReport, read: int) -> jobs_service.ImportCounts:
    return jobs_service.ImportCounts(
        bytes_read=read,
        items=report.items + report.failed,
        imported=report.imported,
        skipped=report.skipped,
        failed=report.failed,
        errors=report.errors,
    )


async def run_uploaded(claimed: jobs_service.ClaimedImport) -> None:
    """One claimed upload, its progress written every PROGRESS_SECONDS, its report at the end."""
    job = claimed.job
    last = [time.monotonic()]

    async def saved(report: ImportReport, read: int) -> None:
        if claimed.lease.lost:
            raise LeaseLostError
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            await jobs_service.save_progress(job.id, _counts(report, read))

    content = claimed.content.encode()
    failure: str | None = None
    report = ImportReport(kind=job.kind, dry_run=job.dry_run)
    try:
        async with claimed.lease.held():
            report = await run_import(
                io.BytesIO(content),
                program_slug=claimed.program_slug,
                kind=job.kind,
                file_format=job.file_format,
                dry_run=job.dry_run,
                on_item=saved,
            )
    except LeaseLostError:
        # Another runner took the job over (this one was taken for dead): it reports it.
        log.warning("import job %s was taken over by another runner; stopping", job.id)
        return
    except DomainError as error:
        failure = f"{error.code.value}: {error.message}"
    except Exception:
        log.exception("import job %s failed", job.id)
        failure = "the import stopped on an unexpected error; run it again to resume"
    await jobs_service.finish_import(job.id, _counts(report, len(content)), failure)


async def run_queued_imports(now: datetime, progress: Progress | None = None) -> dict[str, int]:
    """Run every upload queued through the API (importFile), one after the other."""
    ran = 0
    while (claimed := await jobs_service.claim_queued_import()) is not None:
        await run_uploaded(claimed)
        ran += 1
    return {"imports": ran}


async def run_queued_imports_forever(interval_seconds: float) -> None:
    """The server's runner of uploaded imports, bulk operations and queued backtests (when no
    job runner runs everything): woken by an upload, an operation or a backtest queued in this
    process, and looking every `interval_seconds` for other processes' (and for jobs whose
    runner died)."""
    with jobs_service.IMPORT_QUEUED.waiting() as wake:
        while True:
            wake.clear()
            try:
                await run_queued_imports(utc_now())
                # Bulk operations are jobs of the same shape, woken the same way.
                await run_queued_bulk_operations(utc_now())
                # Backtests queued through the API share this runner and its wake.
                await run_queued_backtests(utc_now())
            except Exception:
                log.exception("import runner failed; trying again in %s s", interval_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval_seconds)
