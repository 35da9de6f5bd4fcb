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

Member by member (`MemberReplay`): members' histories are independent, so each member's due
work runs just before that member's next order (and, once the file is read, up to its last
order), each piece as of the order time at which running every job before every order would
have run it (`Moments`, `MemberDueWork`); several members are replayed at once on PostgreSQL,
each member's orders one after the other in the file's order. A program expiring idle balances,
or a tier configuration waiting to be applied after the first order, keeps the global replay
(`DueWork`: every due job before every order). The global due work (like `laurel jobs run`)
does nothing to a program that is already up to date, so importing into a database with other
live programs is safe. Importing history
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
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import clock
from app.db import (
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    in_transaction,
    is_postgres,
    utc_now,
)
from app.domain.errors import DomainError
from app.domain.expiry import ExpiryPolicy
from app.domain.imports import (
    MAX_REPORTED_ERRORS,
    BalanceRow,
    FileFormat,
    ImportKind,
    OrderRow,
    RowError,
    RowErrorCode,
    RowRejectedError,
    lot_row,
    member_row,
    order_row,
)
from app.domain.tiers import TierChangeReason
from app.domain.validation import is_lookup_text
from app.jobs.backtests import run_queued_backtests
from app.jobs.bulk import run_queued_bulk_operations
from app.jobs.expiry import expire_inactive, expire_lots, expire_member_lots
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
from app.services.ledger.service import mature_lot
from app.services.members import service as members_service
from app.services.memberships import service as memberships_service
from app.services.programs.service import (
    ProgramRecord,
    backdate_expiry_start,
    require_program,
)
from app.services.referrals.payouts import settle_reward
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
    for name, job in _DUE_WORK:
        if name in jobs:
            await job(now, quiet)


# Each job of `run_due_work`, in the order `laurel jobs run` runs them.
_DUE_WORK: tuple[tuple[str, Callable[[datetime, Progress], Awaitable[object]]], ...] = (
    ("mature", lambda now, quiet: mature_due_points(now, progress=quiet)),
    ("referrals", settle_referral_rewards),
    ("memberships", end_memberships),
    ("recalculate", recalculate_tiers),
    ("tiers", review_tiers),
    ("expire", expire_lots),
    ("inactive", expire_inactive),
)


class Moments:
    """The instants the replay stands at, as the global replay (`DueWork`) stood: the time of
    every order of the file read so far, in the file's (time) order. Work that fell due at an
    instant runs as of the first of them at or after it, as cron running before each order
    would have run it. Kept as microseconds since the epoch, 8 bytes an order."""

    def __init__(self) -> None:
        self._micros = array("q")

    def add(self, moment: datetime) -> None:
        self._micros.append(_micros(moment))

    @property
    def last(self) -> datetime | None:
        return _moment(self._micros[-1]) if self._micros else None

    def first_from(self, due: datetime, *, after: bool = False) -> datetime | None:
        """The first instant at or after `due` (strictly after it when `after`)."""
        position = (bisect_right if after else bisect_left)(self._micros, _micros(due))
        return _moment(self._micros[position]) if position < len(self._micros) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


# One member's next due instant of each job of the replay (the columns of _NEXT_DUE), of the
# member `{member}` names.
_MEMBER_DUE_COLUMNS = """
    (SELECT MIN(pending_until) FROM point_lots
      WHERE member_id = {member} AND pending_until IS NOT NULL) AS mature,
    (SELECT MIN(available_at) FROM referral_rewards
      WHERE member_id = {member} AND status = 'PENDING') AS referrals,
    (SELECT MIN(ends_at) FROM memberships
      WHERE member_id = {member} AND ended_at IS NULL) AS memberships,
    (SELECT MIN(review_at) FROM member_tiers
      WHERE member_id = {member} AND review_at IS NOT NULL) AS tiers,
    (SELECT MIN(expires_at) FROM point_lots WHERE member_id = {member} AND remaining > 0
      AND pending_until IS NULL AND expires_at IS NOT NULL) AS expire
"""
_MEMBER_NEXT_DUE = "SELECT" + _MEMBER_DUE_COLUMNS.format(member="?")
# What an order's replay reads first, in one statement: whether it is recorded already, its
# customer's member row (NULLs when not a member) and that member's next due instants.
_ORDER_START = (
    "SELECT (SELECT 1 FROM orders o WHERE o.program_id = ? AND o.order_id = ?) AS recorded, "
    + ", ".join(f"m.{column.strip()}" for column in members_service.MEMBER_COLUMNS.split(","))
    + ","
    + _MEMBER_DUE_COLUMNS.format(member="m.id")
    + " FROM (SELECT 1 AS here) AS here"
    " LEFT JOIN members m ON m.program_id = ? AND m.customer_id = ?"
)
# The program's members with work due at or before an instant, a page at a time by id.
_MEMBERS_DUE = """
SELECT id FROM members m WHERE m.program_id = ? AND m.id > ? AND (
    EXISTS (SELECT 1 FROM point_lots l WHERE l.member_id = m.id AND (
        (l.pending_until IS NOT NULL AND l.pending_until <= ?)
        OR (l.remaining > 0 AND l.pending_until IS NULL AND l.expires_at IS NOT NULL
            AND l.expires_at <= ?)))
    OR EXISTS (SELECT 1 FROM referral_rewards r WHERE r.member_id = m.id
        AND r.status = 'PENDING' AND r.available_at <= ?)
    OR EXISTS (SELECT 1 FROM memberships s WHERE s.member_id = m.id AND s.ended_at IS NULL
        AND s.ends_at <= ?)
    OR EXISTS (SELECT 1 FROM member_tiers t WHERE t.member_id = m.id AND t.review_at <= ?))
ORDER BY id LIMIT ?
"""


class MemberDueWork:
    """The scheduled work of one member at a time, run only when something of theirs is due.

    Members' histories are independent: what maturing, expiry, tier reviews, referral rewards
    and memberships do to a member reads and writes that member's rows alone. So rather than
    every job before every order (`DueWork`), a member's due work runs before that member's
    next order, each piece as of the instant the global replay would have run it (`Moments`),
    job after job in the runner's order, reading again what fell due, at most _ROUNDS times an
    instant: what the member's rows end up as is what `DueWork` writes. Only while no program
    expires idle balances and no tier configuration waits to be applied (those are due at
    instants only their job computes): `run_import` uses `DueWork` then."""

    def __init__(self, program: ProgramRecord, moments: Moments) -> None:
        self.program = program
        self.moments = moments
        self.runs = 0

    async def until(
        self, member_id: int, moment: datetime, read: dict[str, Any] | None = None
    ) -> None:
        """The member's work due at or before `moment` (one of the moments), done. `read`: the
        member's next due instants, just read by the caller."""
        conn = connection()
        previous: datetime | None = None
        rounds = 0
        while True:
            if read is None:
                row = await fetch_one(conn, _MEMBER_NEXT_DUE, (member_id,) * 5)
                assert row is not None
            else:
                row, read = read, None
            due = {name: as_optional_datetime(row[name]) for name in REPLAY_JOBS}
            earliest = min((at for at in due.values() if at is not None), default=None)
            if earliest is None or earliest > moment:
                return
            at = self.moments.first_from(earliest)
            if at is not None and previous is not None and at <= previous:
                at, rounds = previous, rounds + 1
                if rounds >= _ROUNDS:
                    # The global replay left the rest to its next instant.
                    at, rounds = self.moments.first_from(previous, after=True), 0
            else:
                rounds = 0
            if at is None or at > moment:
                return
            previous = at
            jobs = tuple(name for name in REPLAY_JOBS if (d := due[name]) is not None and d <= at)
            self.runs += 1
            with clock.using_in_context(clock.ManualClock(at)):
                await self._run(member_id, at, jobs)

    async def _run(self, member_id: int, now: datetime, jobs: tuple[str, ...]) -> None:
        """What `run_due_work` does to this member: the same steps, on its rows only."""
        if "mature" in jobs:
            await _settle_each_due(
                "SELECT id FROM point_lots WHERE member_id = ? AND pending_until IS NOT NULL"
                " AND pending_until <= ? ORDER BY pending_until, id",
                member_id,
                now,
                mature_lot,
            )
        if "referrals" in jobs:
            await _settle_each_due(
                "SELECT id FROM referral_rewards WHERE member_id = ? AND status = 'PENDING'"
                " AND available_at <= ? ORDER BY id",
                member_id,
                now,
                settle_reward,
            )
        if "memberships" in jobs:
            for membership in await fetch_all(
                connection(),
                "SELECT id FROM memberships WHERE member_id = ? AND ended_at IS NULL"
                " AND ends_at <= ? ORDER BY id",
                (member_id, now),
            ):
                await memberships_service.end_membership(int(membership["id"]), now)
        if "tiers" in jobs:
            await tiers_service.review_member(
                self.program.id, member_id, TierChangeReason.PERIOD_END, now
            )
        if "expire" in jobs:
            await expire_member_lots(member_id, now)

    async def members_due(self, moment: datetime, after_member: int, limit: int) -> list[int]:
        rows = await fetch_all(
            connection(),
            _MEMBERS_DUE,
            (self.program.id, after_member, *(moment,) * 5, limit),
        )
        return [int(row["id"]) for row in rows]


async def _settle_each_due(
    select: str,
    member_id: int,
    now: datetime,
    settle: Callable[[BaseDBAsyncClient, int, datetime], Awaitable[object]],
) -> None:
    """`settle` each row `select` finds due for the member at `now`, each in a transaction of
    its own, as the global job does (`select`'s parameters: the member, then the moment)."""
    for row in await fetch_all(connection(), select, (member_id, now)):
        async with in_transaction() as tx:
            await settle(tx, int(row["id"]), now)


async def per_member_due_work() -> bool:
    """Whether `MemberDueWork` can stand in for `DueWork` (see there)."""
    idle = await fetch_one(
        connection(),
        "SELECT 1 AS found FROM programs WHERE expiry_policy = ?",
        (ExpiryPolicy.INACTIVITY.value,),
    )
    return idle is None and not await tiers_service.programs_to_recalculate()


def _replay_tasks() -> int:
    return REPLAY_TASKS if is_postgres(connection()) else 1


def _at(moment: datetime) -> clock.ManualClock:
    return clock.ManualClock(moment)


def checked_order(item: Item, now: datetime, last_placed: list[datetime]) -> OrderRow:
    """The item's order, placed in the past and not before the order above it."""
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
    return order


# Members replayed at once on PostgreSQL (SQLite writes one transaction at a time), and the
# orders waiting for each: the bound on what the replay holds besides its moments.
REPLAY_TASKS = 8
_WAITING_ORDERS = 16
# Members read at a time when the work due after their last orders is done.
_DUE_PAGE = 500


class MemberReplay:
    """Orders replayed member by member: each order goes to the task of its customer (by a
    hash of the customer id), so a member's orders are recorded one after the other in the
    file's order, several members at once, each member's due work done just before their next
    order (`MemberDueWork`). When the file is read, what fell due after each member's last
    order and before the file's last order is done as of the same instants."""

    def __init__(self, program: ProgramRecord, report: ImportReport, tasks: int) -> None:
        self.program = program
        self.report = report
        self.moments = Moments()
        self.due = MemberDueWork(program, self.moments)
        self.tasks = tasks
        self._queues: list[asyncio.Queue[OrderRow | None]] = [
            asyncio.Queue(_WAITING_ORDERS) for _ in range(tasks)
        ]
        self._workers = [asyncio.create_task(self._work(queue)) for queue in self._queues]

    async def submit(self, order: OrderRow) -> None:
        self.moments.add(order.placed_at)
        await self._put(hash(order.customer_id.strip()) % self.tasks, order)

    async def _put(self, index: int, order: OrderRow | None) -> None:
        queue, worker = self._queues[index], self._workers[index]
        try:
            queue.put_nowait(order)
        except asyncio.QueueFull:
            put = asyncio.ensure_future(queue.put(order))
            await asyncio.wait({put, worker}, return_when=asyncio.FIRST_COMPLETED)
            if not put.done():
                put.cancel()
        if worker.done():
            worker.result()
            raise RuntimeError("an order replay task stopped")

    async def _work(self, queue: asyncio.Queue[OrderRow | None]) -> None:
        while (order := await queue.get()) is not None:
            try:
                self.report.count(await self._replay(order))
            except RowRejectedError as rejected:
                self.report.failed += 1
                self.report.add_errors(rejected.errors)
            except DomainError as error:
                self.report.failed += 1
                self.report.add_errors([imports.row_errors(order.line, error)])

    async def _replay(self, order: OrderRow) -> ItemResult:
        customer_id = order.customer_id.strip()
        if not is_lookup_text(customer_id):
            if await imports.order_recorded(self.program, order.order_id):
                return ItemResult(Outcome.SKIPPED)
            return await self._record(order, imports.Customer(None))
        row = await fetch_one(
            connection(),
            _ORDER_START,
            (self.program.id, order.order_id.strip(), self.program.id, customer_id),
        )
        assert row is not None
        if row["recorded"] is not None:
            # Resumed or repeated: the order is there, with what fell due before it.
            return ItemResult(Outcome.SKIPPED)
        member = None if row["id"] is None else members_service.member_row(row)
        if member is not None and member.enrolled_at <= order.placed_at:
            await self.due.until(member.id, order.placed_at, row)
        return await self._record(order, imports.Customer(member))

    async def _record(self, order: OrderRow, customer: imports.Customer) -> ItemResult:
        with clock.using_in_context(_at(order.placed_at)):
            return await imports.import_order(self.program, order, dry_run=False, customer=customer)

    async def drain(self) -> None:
        """Every order submitted, replayed."""
        for index in range(self.tasks):
            await self._put(index, None)
        await asyncio.gather(*self._workers)

    def cancel(self) -> None:
        for worker in self._workers:
            worker.cancel()

    async def finish(self) -> None:
        """Every order replayed, then each member's work due up to the file's last order."""
        await self.drain()
        last = self.moments.last
        if last is None:
            return
        limit = asyncio.Semaphore(self.tasks)

        async def catch_up(member_id: int) -> None:
            async with limit:
                await self.due.until(member_id, last)

        after = 0
        while members := await self.due.members_due(last, after, _DUE_PAGE):
            await asyncio.gather(*(catch_up(member_id) for member_id in members))
            after = members[-1]


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
    return await _import_order(program, checked_order(item, now, last_placed), report, due)


async def _import_order(
    program: ProgramRecord, order: OrderRow, report: ImportReport, due: DueWork
) -> ItemResult:
    if not report.dry_run:
        if await imports.order_recorded(program, order.order_id):
            # Resumed or repeated: the order is there, with what fell due around it.
            return ItemResult(Outcome.SKIPPED)
        await due.until(order.placed_at)
    with clock.using_in_context(_at(order.placed_at)):
        return await imports.import_order(program, order, dry_run=report.dry_run)


async def _first_instant(
    program: ProgramRecord,
    order: OrderRow,
    report: ImportReport,
    due: DueWork,
    tasks: int | None,
    member_by_member: bool,
) -> MemberReplay | None:
    """The replay's first instant as the global replay runs it (a tier configuration waiting to
    be applied is applied then); then the replay member by member when nothing global remains."""
    # The program's expiry counts from the first replayed order, not from when it was
    # configured (which is usually just before the import).
    await backdate_expiry_start(program.id, order.placed_at)
    await due.until(order.placed_at)
    if not member_by_member or not await per_member_due_work():
        return None
    return MemberReplay(program, report, tasks or _replay_tasks())


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
    replay_tasks: int | None = None,
    member_by_member: bool = True,
) -> ImportReport:
    """Import the file's items into the program; a bad item is reported, never fatal. Raises a
    DomainError only for what makes the whole file unusable (its program, its header).
    `replay_tasks`: members whose orders are replayed at once (REPLAY_TASKS on PostgreSQL, one
    on SQLite, by default); `member_by_member=False`: every order and its due work one after
    the other (`DueWork`), as the replay did before `MemberReplay` (the benchmark's baseline)."""
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
    replaying_orders = kind is ImportKind.ORDERS and not dry_run
    with replaying():
        replay = None
        try:
            for item in read_items(stream, kind, file_format, advance):
                if isinstance(item, RowError):
                    report.failed += 1
                    report.add_errors([item])
                else:
                    try:
                        if replaying_orders:
                            order = checked_order(item, utc_now(), last_placed)
                            if due.checked_at is None:
                                replay = await _first_instant(
                                    program, order, report, due, replay_tasks, member_by_member
                                )
                            if replay is not None:
                                await replay.submit(order)
                            else:
                                report.count(await _import_order(program, order, report, due))
                        else:
                            report.count(
                                await _import_item(program, kind, item, report, due, last_placed)
                            )
                    except RowRejectedError as rejected:
                        report.failed += 1
                        report.add_errors(rejected.errors)
                    except DomainError as error:
                        report.failed += 1
                        report.add_errors([imports.row_errors(item.line, error)])
                if on_item is not None:
                    await on_item(report, read[0])
            if replay is not None:
                await replay.finish()
                # Orders' errors come from the members' tasks after the file's own.
                report.errors.sort(key=lambda error: error.line)
        except Exception:
            # The orders read before the file failed are replayed, as one at a time would
            # have; a cancelled import stops at once.
            if replay is not None:
                await replay.drain()
            raise
        finally:
            if replay is not None:
                replay.cancel()
        if kind is ImportKind.ORDERS and not dry_run and report.imported:
            # What fell due after the last order, up to now.
            due.checked_at = None
            await due.until(utc_now())
    report.due_runs = due.runs + (replay.due.runs if replay is not None else 0)
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
