"""Closed-period summaries: the customer KPIs' counts of a span of whole months and the cells
of the cohort table, computed once from the customer-activity rows for settled months
(`is_settled`) and read back in one indexed statement, so programInsights and programCohorts
cost the same whatever the number of customers.

A summary remembers the sum of the late-write marks (`LATE_WRITES` rows of analytics_days,
added by the write in its own statement, app/services/analytics/rollups.py) of the months it
read. A reader sums those marks now: when the sums differ, a late write (a refund of an old
order, an import, a credit at enrolment) changed one of the months since, and the reader
counts that span from the activity rows again and stores the new summary. The marks are read
before the activity rows, so a late write that commits in between leaves the new summary
stale, never wrong.

Summaries are filled by the readers (the spans they are asked for) and by
`laurel analytics summarise` (each settled month, the last twelve, the cohort cells of the
last `COHORT_MONTHS` enrolment months, and the snapshots of the open months' figures), which
also recomputes the stale ones.
Spans that reach an unsettled month read the summary of their settled part and correct it
from the rows of the customers active after the newest settled month (`_open_counts`): their
cost grows with those customers only. Where that count is expensive, its result is kept as a
lagged snapshot and read back instead, refreshed in the background (app/services/analytics/
open_snapshots.py); the same holds for the cohort cells of unsettled months.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.clock import process_now
from app.db import (
    connection,
    database_client,
    execute,
    fetch_all,
    is_postgres,
)
from app.domain.analytics import (
    CUSTOMER_METRICS,
    DEFAULT_INACTIVE_MONTHS,
    GroupFigures,
    Period,
    add_months,
    is_settled,
    month_of,
)
from app.services.analytics import open_snapshots
from app.services.analytics.cohorts import OpenCells, cohort_cells
from app.services.analytics.open_snapshots import Snapshot, Use
from app.services.analytics.summary_store import (
    COHORT,
    COHORT_MONTHS,
    CUSTOMERS,
    ONE_DAY,
    OPEN_PREFIX,
    as_month,
    months_between,
    newest_settled,
    read_marks,
    read_summaries,
    refresh_connection,
    store_summaries,
    sum_marks,
)

# Re-exported: the readers and tests name the summaries' kinds and the cohort table here.
__all__ = [
    "COHORT",
    "COHORT_MONTHS",
    "CUSTOMERS",
    "OPEN_PREFIX",
    "CustomerCounts",
    "OpenCells",
    "Summarised",
    "cohort_cells",
    "count_customers",
    "customer_counts",
    "customer_counts_as_of",
    "open_kind",
    "summarise",
]


@dataclass(frozen=True)
class CustomerCounts:
    members: GroupFigures
    guests: GroupFigures
    active_members: int
    redeeming_members: int


def _in(values: Sequence[object]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


# --- Customer KPIs of spans of whole months ------------------------------------------------------


def _encode_counts(counts: CustomerCounts) -> str:
    return json.dumps(asdict(counts), sort_keys=True)


def _decode_counts(text: str) -> CustomerCounts:
    return _counts_of(json.loads(text))


def _counts_of(data: dict[str, Any]) -> CustomerCounts:
    return CustomerCounts(
        members=GroupFigures(**data["members"]),
        guests=GroupFigures(**data["guests"]),
        active_members=int(data["active_members"]),
        redeeming_members=int(data["redeeming_members"]),
    )


async def customer_counts(
    conn: BaseDBAsyncClient, program_id: int, spans: Sequence[Period], inactive_months: int
) -> dict[Period, CustomerCounts]:
    """The customer KPIs' counts of each span of whole months (`customer_counts_as_of`)."""
    found, _ = await customer_counts_as_of(conn, program_id, spans, inactive_months)
    return found


async def customer_counts_as_of(
    conn: BaseDBAsyncClient,
    program_id: int,
    spans: Sequence[Period],
    inactive_months: int,
    *,
    refresh_open: bool = False,
) -> tuple[dict[Period, CustomerCounts], datetime | None]:
    """The customer KPIs' counts of each span of whole months: from its summary when the span
    is settled and no late write touched its months since, else counted (and, when settled,
    stored). A span that reaches a month not settled yet is its settled part's summary
    corrected by the customers of the unsettled months alone (`_open_counts`), or that count's
    lagged snapshot where counting it is expensive (`_open_span_counts`).

    Also returns the time of the oldest snapshot answered from, None when every count is
    settled or counted now. `refresh_open` (the job): a snapshot due for a refresh is counted
    again now rather than in the background."""
    if not spans:
        return {}, None
    today = process_now().date()
    bounds = {span: (month_of(span.start), month_of(span.end)) for span in spans}
    low = min(add_months(first, -inactive_months) for first, _ in bounds.values())
    high = max(last for _, last in bounds.values())
    # Marks first: see the module's docstring.
    marks = await read_marks(conn, program_id, low, high)
    settled = [span for span, (_, last) in bounds.items() if is_settled(last, today)]
    found, as_of = await _open_span_counts(
        conn,
        program_id,
        [span for span in spans if span not in settled],
        inactive_months,
        marks,
        newest_settled(today),
        refresh=refresh_open,
    )
    if not settled:
        return found, as_of
    stored = await read_summaries(
        conn,
        program_id,
        CUSTOMERS,
        inactive_months,
        min(bounds[span][0] for span in settled),
        max(bounds[span][1] for span in settled),
    )
    missing: list[Period] = []
    for span in settled:
        first, last = bounds[span]
        summary = stored.get((first, last))
        wanted = sum_marks(marks, add_months(first, -inactive_months), last)
        if summary is not None and summary[0] == wanted:
            found[span] = _decode_counts(summary[1])
        else:
            missing.append(span)
    if missing:
        counted = await count_customers(conn, program_id, missing, inactive_months)
        found.update(counted)
        await store_summaries(
            conn,
            program_id,
            CUSTOMERS,
            inactive_months,
            [
                (
                    first,
                    last,
                    sum_marks(marks, add_months(first, -inactive_months), last),
                    _encode_counts(counted[span]),
                )
                for span in missing
                for first, last in [bounds[span]]
            ],
        )
    return found, as_of


def open_kind(newest: date) -> str:
    """The kind of the summaries of spans' settled parts while `newest` is the newest settled
    month: a newer one settling makes them unused (and `summarise` deletes them)."""
    return f"{OPEN_PREFIX}{newest:%Y-%m}"


async def _open_span_counts(
    conn: BaseDBAsyncClient,
    program_id: int,
    spans: Sequence[Period],
    inactive_months: int,
    marks: dict[date, int],
    newest: date,
    *,
    refresh: bool,
) -> tuple[dict[Period, CustomerCounts], datetime | None]:
    """Spans that reach a month after `newest`: each from its snapshot when the policy lets it
    (open_snapshots.use_of), else counted now (`_open_counts`), all of those in one statement;
    the time of the oldest snapshot used, if any. Snapshots due for a refresh start one in the
    background, or with `refresh` are counted now."""
    if not spans:
        return {}, None
    kind = open_snapshots.live_kind(newest)
    bounds = {span: (month_of(span.start), month_of(span.end)) for span in spans}
    snapshots = await open_snapshots.read(
        conn,
        program_id,
        kind,
        inactive_months,
        min(first for first, _ in bounds.values()),
        max(first for first, _ in bounds.values()),
    )
    rules, now = open_snapshots.policy(), process_now()
    found: dict[Period, CustomerCounts] = {}
    as_of: datetime | None = None
    live: list[Period] = []
    stale: list[Period] = []

    def refresh_key(span: Period) -> tuple[object, ...]:
        return (id(database_client()), program_id, kind, inactive_months, bounds[span])

    for span, key in bounds.items():
        snapshot = snapshots.get(key)
        use = open_snapshots.use_of(
            snapshot, _settled_part_marks(marks, key[0], inactive_months, newest), now, rules
        )
        # The job leaves a key whose refresh is under way to it.
        if use is Use.LIVE or (
            refresh and use is Use.REFRESH and not open_snapshots.is_refreshing(refresh_key(span))
        ):
            live.append(span)
            continue
        assert snapshot is not None
        found[span] = _counts_of(snapshot.value)
        as_of = snapshot.computed_at if as_of is None else min(as_of, snapshot.computed_at)
        if use is Use.REFRESH:
            stale.append(span)
    if live:
        found.update(
            await _count_open_spans(
                conn, program_id, live, inactive_months, marks, newest, snapshots
            )
        )
    if stale:
        by_key: dict[tuple[object, ...], Period] = {refresh_key(span): span for span in stale}

        async def refresh_spans(keys: list[tuple[object, ...]]) -> None:
            await _refresh_open_spans(
                program_id, [by_key[key] for key in keys], inactive_months, newest
            )

        open_snapshots.refresh_in_background(list(by_key), refresh_spans)
    return found, as_of


async def _count_open_spans(
    conn: BaseDBAsyncClient,
    program_id: int,
    spans: Sequence[Period],
    inactive_months: int,
    marks: dict[date, int],
    newest: date,
    previous: dict[tuple[date, date], Snapshot],
) -> dict[Period, CustomerCounts]:
    """`_open_counts`, timed; its results stored as snapshots when worth it."""
    counted_at, started = process_now(), time.perf_counter()
    counted, folded = await _open_counts(conn, program_id, spans, inactive_months, marks, newest)
    milliseconds = (time.perf_counter() - started) * 1000
    rules = open_snapshots.policy()
    kept = []
    for span in spans:
        key = (month_of(span.start), month_of(span.end))
        if open_snapshots.worth_storing(previous.get(key), milliseconds, folded, rules):
            marked = _settled_part_marks(marks, key[0], inactive_months, newest)
            kept.append((*key, marked, asdict(counted[span])))
    if kept:
        await open_snapshots.write(
            conn,
            program_id,
            open_snapshots.live_kind(newest),
            inactive_months,
            kept,
            milliseconds,
            folded,
            counted_at,
        )
    return counted


def _settled_part_marks(
    marks: dict[date, int], first: date, inactive_months: int, newest: date
) -> int:
    """The late-write marks of the settled months an open span's count reads (its threshold's
    months before it included), as its settled part's summary keeps them (`_open_counts`)."""
    return sum_marks(marks, add_months(first, -inactive_months), newest)


async def _refresh_open_spans(
    program_id: int, spans: Sequence[Period], inactive_months: int, newest: date
) -> None:
    """Count the spans' open figures again and store them (a background refresh)."""
    firsts = [month_of(span.start) for span in spans]
    async with refresh_connection() as conn:
        marks = await read_marks(
            conn, program_id, add_months(min(firsts), -inactive_months), newest
        )
        previous = await open_snapshots.read(
            conn,
            program_id,
            open_snapshots.live_kind(newest),
            inactive_months,
            min(firsts),
            max(firsts),
        )
        await _count_open_spans(conn, program_id, spans, inactive_months, marks, newest, previous)


def _add(*terms: tuple[int, CustomerCounts]) -> CustomerCounts:
    """The sum of the counts, each times its sign: every count is a sum over customers."""

    def group(side: str) -> GroupFigures:
        return GroupFigures(
            **{
                name.name: sum(
                    sign * getattr(getattr(counts, side), name.name) for sign, counts in terms
                )
                for name in fields(GroupFigures)
            }
        )

    return CustomerCounts(
        members=group("members"),
        guests=group("guests"),
        active_members=sum(sign * counts.active_members for sign, counts in terms),
        redeeming_members=sum(sign * counts.redeeming_members for sign, counts in terms),
    )


async def _open_counts(
    conn: BaseDBAsyncClient,
    program_id: int,
    spans: Sequence[Period],
    inactive_months: int,
    marks: dict[date, int],
    newest: date,
) -> tuple[dict[Period, CustomerCounts], int]:
    """Spans that reach a month after `newest` (the newest settled one). Every count is a sum
    over customers of a figure of the customer's own rows, so the span's counts are those of
    its rows up to `newest` (a summary, kept like the settled ones, with the late-write marks
    of those months) plus, for the customers with a row after `newest` only, their figure from
    all their rows minus their figure from their rows up to `newest`. Both are counted in one
    statement from those customers' rows: the cost follows the customers of the unsettled
    months, not all of the span's. Also returns the most customers the correction folded for
    one span."""
    if not spans:
        return {}, 0
    kind = open_kind(newest)
    bounds = {span: (month_of(span.start), month_of(span.end)) for span in spans}
    stored = await read_summaries(
        conn,
        program_id,
        kind,
        inactive_months,
        min(first for first, _ in bounds.values()),
        max(first for first, _ in bounds.values()),
    )
    base: dict[Period, CustomerCounts] = {}
    missing: list[Period] = []
    for span, (first, last) in bounds.items():
        summary = stored.get((first, last))
        wanted = sum_marks(marks, add_months(first, -inactive_months), newest)
        if summary is not None and summary[0] == wanted:
            base[span] = _decode_counts(summary[1])
        else:
            missing.append(span)
    rows = []
    if missing:
        counted, _ = await _count(
            conn, program_id, [(span, newest) for span in missing], inactive_months
        )
        for span, counts in zip(missing, counted, strict=True):
            base[span] = counts
            first, last = bounds[span]
            marked = sum_marks(marks, add_months(first, -inactive_months), newest)
            rows.append((first, last, marked, _encode_counts(counts)))
    high = max(last for _, last in bounds.values())
    corrections, folded = await _count(
        conn,
        program_id,
        [(span, bounds[span][1]) for span in spans],
        inactive_months,
        since=(newest, high),
    )
    # Stored after the correction's count: a refresh's transaction (PostgreSQL) then holds
    # these rows locked only to its end, not for the whole count, from other readers' stores.
    if rows:
        await store_summaries(conn, program_id, kind, inactive_months, rows)
    return {
        span: _add((1, base[span]), (1, correction))
        for span, correction in zip(spans, corrections, strict=True)
    }, folded


async def count_customers(
    conn: BaseDBAsyncClient, program_id: int, spans: Sequence[Period], inactive_months: int
) -> dict[Period, CustomerCounts]:
    """The customer KPIs' counts of each span of whole months, from the activity rows, in one
    statement (`_count`)."""
    counted, _ = await _count(
        conn, program_id, [(span, month_of(span.end)) for span in spans], inactive_months
    )
    return dict(zip(spans, counted, strict=True))


async def _count(
    conn: BaseDBAsyncClient,
    program_id: int,
    spans: Sequence[tuple[Period, date]],
    inactive_months: int,
    since: tuple[date, date] | None = None,
) -> tuple[list[CustomerCounts], int]:
    """The customer KPIs' counts of each span of whole months from its activity rows of the
    months up to the date beside it, in one statement: the customer-activity rows of the
    months read (and the threshold's before) joined to the spans whose months (or threshold
    window) hold them, folded per span and customer, then counted per span and side (formulas
    in docs/capabilities/analytics.md; `customer_figures` is the same in Python).

    `since` (newest settled month, last month): only the customers with an activity row after
    the first up to the second, and the counts are the difference between their figures from
    all their rows and their figures from their rows up to the first (`_open_counts`), both
    folded in the same pass over their rows.

    Also returns the most customers folded for one span (what the count cost)."""
    if not spans:
        return [], 0
    cast = "CAST(? AS DATE)" if is_postgres(conn) else "?"
    windows: list[object] = []
    for index, (span, upto) in enumerate(spans):
        first, last = month_of(span.start), month_of(span.end)
        windows += [
            index,
            add_months(first, -inactive_months),
            first,
            min(last, upto),
            add_months(last, 1 - inactive_months),
            last if since is None else since[0],
        ]
    periods_sql = " UNION ALL ".join(
        f"SELECT CAST(? AS INTEGER) AS idx, {cast} AS lo, {cast} AS p_first,"
        f" {cast} AS p_last, {cast} AS end_lo, {cast} AS cut"
        for _ in spans
    )
    restrict = ""
    restricted: tuple[object, ...] = ()
    if since is not None:
        restrict = (
            " AND d.dimension IN (SELECT u.dimension FROM analytics_days u"
            f" WHERE u.program_id = ? AND u.metric IN {_in(CUSTOMER_METRICS)}"
            " AND u.day > ? AND u.day <= ?)"
        )
        restricted = (program_id, *CUSTOMER_METRICS, *since)
    orders, revenue, earnings, redemptions = CUSTOMER_METRICS
    # The figures of all the rows (suffix f) and, with `since`, of the settled ones (suffix s).
    versions = {"f": ""} if since is None else {"f": "", "s": " AND d.day <= p.cut"}

    def total(metric: str, months: str, version: str) -> str:
        return (
            f"SUM(CASE WHEN d.metric = '{metric}' AND {months}{versions[version]}"
            " THEN d.value ELSE 0 END)"
        )

    inside, before, at_end = "d.day >= p.p_first", "d.day < p.p_first", "d.day >= p.end_lo"

    def folded(v: str) -> str:
        return (
            f"{total(orders, inside, v)} AS orders_{v}, {total(revenue, inside, v)} AS revenue_{v},"
            f" {total(earnings, inside, v)} AS earnings_{v},"
            f" {total(redemptions, inside, v)} AS redemptions_{v},"
            f" CASE WHEN {total(orders, before, v)} > 0 THEN 1 ELSE 0 END AS at_start_{v},"
            f" CASE WHEN {total(orders, at_end, v)} > 0 THEN 1 ELSE 0 END AS at_end_{v},"
            f" {total(revenue, before, v)} AS start_revenue_{v}"
        )

    def counted_as(name: str, expression: str) -> str:
        """SUM of the expression per version; with two, all rows' minus the settled rows'."""
        parts = ["SUM(" + expression.replace("{v}", v) + ")" for v in versions]
        return f"{' - '.join(parts)} AS {name}"

    counts = ", ".join(
        counted_as(name, expression)
        for name, expression in (
            ("customers", "CASE WHEN orders_{v} > 0 THEN 1 ELSE 0 END"),
            ("orders", "CASE WHEN orders_{v} > 0 THEN orders_{v} ELSE 0 END"),
            ("revenue", "CASE WHEN orders_{v} > 0 THEN revenue_{v} ELSE 0 END"),
            ("repeat_customers", "CASE WHEN orders_{v} > 1 THEN 1 ELSE 0 END"),
            ("at_start", "at_start_{v}"),
            ("at_end", "at_end_{v}"),
            ("newcomers", "CASE WHEN at_end_{v} = 1 AND at_start_{v} = 0 THEN 1 ELSE 0 END"),
            ("churned", "CASE WHEN at_start_{v} = 1 AND at_end_{v} = 0 THEN 1 ELSE 0 END"),
            (
                "churned_revenue",
                "CASE WHEN at_start_{v} = 1 AND at_end_{v} = 0 THEN start_revenue_{v} ELSE 0 END",
            ),
            ("active", "CASE WHEN orders_{v} > 0 OR earnings_{v} > 0 THEN 1 ELSE 0 END"),
            ("redeeming", "CASE WHEN redemptions_{v} > 0 THEN 1 ELSE 0 END"),
        )
    )
    # A customer's orders of a month sum to 0 or more, so "ordered in some month of a window"
    # is "the orders of the window sum to more than 0": no fold per month is needed.
    rows = await fetch_all(
        conn,
        f"WITH p AS ({periods_sql}), c AS ("
        "  SELECT p.idx, d.dimension AS customer, "
        + ", ".join(folded(v) for v in versions)
        + "  FROM analytics_days d JOIN p ON d.day >= p.lo AND d.day <= p.p_last"
        f"  WHERE d.program_id = ? AND d.metric IN {_in(CUSTOMER_METRICS)}"
        f"  AND d.day >= ? AND d.day <= ?{restrict} GROUP BY p.idx, d.dimension"
        f") SELECT idx, CASE WHEN customer LIKE 'm:%' THEN 1 ELSE 0 END AS member,"
        f" COUNT(*) AS folded, {counts}"
        " FROM c GROUP BY idx, CASE WHEN customer LIKE 'm:%' THEN 1 ELSE 0 END",
        (
            *windows,
            program_id,
            *CUSTOMER_METRICS,
            min(add_months(month_of(span.start), -inactive_months) for span, _ in spans),
            max(min(month_of(span.end), upto) for span, upto in spans),
            *restricted,
        ),
    )
    sides: dict[tuple[int, bool], dict[str, Any]] = {
        (int(row["idx"]), bool(row["member"])): row for row in rows
    }
    counted = []
    most_folded = 0
    for index in range(len(spans)):
        members, guests = sides.get((index, True)), sides.get((index, False))
        most_folded = max(
            most_folded, sum(int(side["folded"]) for side in (members, guests) if side is not None)
        )
        counted.append(
            CustomerCounts(
                members=_group(members),
                guests=_group(guests),
                active_members=0 if members is None else int(members["active"] or 0),
                redeeming_members=0 if members is None else int(members["redeeming"] or 0),
            )
        )
    return counted, most_folded


def _group(row: dict[str, Any] | None) -> GroupFigures:
    if row is None:
        return GroupFigures()
    return GroupFigures(
        customers=int(row["customers"] or 0),
        orders=int(row["orders"] or 0),
        revenue_minor=int(row["revenue"] or 0),
        repeat_customers=int(row["repeat_customers"] or 0),
        at_start=int(row["at_start"] or 0),
        at_end=int(row["at_end"] or 0),
        new=int(row["newcomers"] or 0),
        churned=int(row["churned"] or 0),
        churned_revenue_minor=int(row["churned_revenue"] or 0),
    )


# --- The job ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summarised:
    spans: int  # customer spans counted (stale or new)
    cohorts: int  # cohort cells counted (stale or new)


async def summarise(program_id: int, inactive_months: int = DEFAULT_INACTIVE_MONTHS) -> Summarised:
    """Keep the program's summaries ready: every stored one that a late write made stale, and
    for the last twelve settled months each month alone and the twelve together, and the
    cohort cells of their enrolment months. Reading them is what fills what is missing."""
    conn = connection()
    today = process_now().date()
    newest = newest_settled(today)
    oldest = add_months(newest, 1 - COHORT_MONTHS)
    spans = {Period(m, add_months(m, 1) - ONE_DAY) for m in months_between(oldest, newest)}
    spans.add(Period(oldest, add_months(newest, 1) - ONE_DAY))
    thresholds = await fetch_all(
        conn,
        "SELECT DISTINCT parameter FROM analytics_summaries WHERE program_id = ? AND kind = ?",
        (program_id, CUSTOMERS),
    )
    counted = 0
    for parameter in sorted({inactive_months, *(int(r["parameter"]) for r in thresholds)}):
        before = await read_summaries(conn, program_id, CUSTOMERS, parameter, date.min, date.max)
        wanted = {Period(first, add_months(last, 1) - ONE_DAY) for first, last in before}
        if parameter == inactive_months:
            wanted |= spans
        await customer_counts(conn, program_id, sorted(wanted, key=_span_key), parameter)
        after = await read_summaries(conn, program_id, CUSTOMERS, parameter, date.min, date.max)
        counted += sum(1 for key, value in after.items() if before.get(key) != value)
    # The settled parts of the spans that reach the open months: each open month alone and
    # the twelve months to today's; those of an older newest settled month are unused.
    await execute(
        conn,
        "DELETE FROM analytics_summaries WHERE program_id = ?"
        " AND (kind LIKE ? OR kind LIKE ? OR kind LIKE ?) AND kind NOT IN (?, ?, ?)",
        (
            program_id,
            OPEN_PREFIX + "%",
            open_snapshots.LIVE_PREFIX + "%",
            open_snapshots.LIVE_COHORTS_PREFIX + "%",
            open_kind(newest),
            open_snapshots.live_kind(newest),
            open_snapshots.live_cohorts_kind(newest),
        ),
    )
    current = month_of(today)
    open_spans = [
        Period(m, add_months(m, 1) - ONE_DAY)
        for m in months_between(add_months(newest, 1), current)
    ]
    open_spans.append(
        Period(add_months(current, 1 - COHORT_MONTHS), add_months(current, 1) - ONE_DAY)
    )
    # Their snapshots too, where counting them is expensive: readers then never count them.
    # Counted like a background refresh, without the statement time limit of a server's
    # requests (the job also runs in the server's process).
    async with refresh_connection() as counting:
        await customer_counts_as_of(
            counting, program_id, open_spans, inactive_months, refresh_open=True
        )
    cohorts = await fetch_all(
        conn,
        "SELECT DISTINCT first_month FROM analytics_summaries WHERE program_id = ? AND kind = ?",
        (program_id, COHORT),
    )
    months = sorted(
        {*months_between(oldest, newest), *(as_month(r["first_month"]) for r in cohorts)}
    )
    before_cells = await read_summaries(conn, program_id, COHORT, 0, date.min, date.max)
    for cohort in months:
        await cohort_cells(conn, program_id, cohort, cohort, COHORT_MONTHS, OpenCells.SKIP)
    # The cells of the open months, of every cohort above and the open ones, in one pass.
    async with refresh_connection() as counting:
        await cohort_cells(counting, program_id, oldest, current, COHORT_MONTHS, OpenCells.REFRESH)
    after_cells = await read_summaries(conn, program_id, COHORT, 0, date.min, date.max)
    recounted = [key for key, value in after_cells.items() if before_cells.get(key) != value]
    return Summarised(spans=counted, cohorts=len(recounted))


def _span_key(span: Period) -> tuple[date, date]:
    return (span.start, span.end)
