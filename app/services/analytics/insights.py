"""programInsights: a program's KPIs over a range of its days, from the daily rollups.

Two reads whatever the range: the ledger rows before it (summed in SQL: the balances at its
start) and the rows of its days; never the ledger or the orders themselves. The KPIs and their
formulas are in docs/capabilities/analytics.md.

With a segment, the figures are those of the segment's members now, recomputed from their
own orders and ledger rows (`rebuild.compute`): the rollups are per program, so the cost grows
with the segment's history, not with the range (docs/capabilities/analytics.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_date, connection, fetch_all
from app.domain.analytics import (
    LEDGER,
    MAX_RANGE_DAYS,
    Granularity,
    PeriodFigures,
    RollupRow,
    figures,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderChannel
from app.domain.validation import Checker
from app.services.analytics.rebuild import Rollup, compute
from app.services.programs.service import ProgramRecord, ProgramScope, get_program_by_slug
from app.services.segments.service import get_segment_by_key


@dataclass(frozen=True)
class InsightsInput:
    program_slug: str
    # Days of the program's time zone, both included.
    first_day: date
    last_day: date
    granularity: Granularity
    # Only the orders of this channel; the points and enrolment figures are then left out
    # (the ledger does not know channels).
    channel: OrderChannel | None = None
    # Only the members in this segment (its key) now; guests' orders are then left out.
    segment: str | None = None


@dataclass(frozen=True)
class Insights:
    program: ProgramRecord
    input: InsightsInput
    series: list[PeriodFigures]
    totals: PeriodFigures


async def program_insights(data: InsightsInput, scope: ProgramScope) -> Insights | None:
    """None when the program is unknown (or outside `scope`)."""
    check = Checker()
    if data.last_day < data.first_day:
        check.add(ErrorCode.INVALID_VALUE, "to is before from", ["to"])
    elif (data.last_day - data.first_day).days + 1 > MAX_RANGE_DAYS:
        check.add(ErrorCode.INVALID_VALUE, f"at most {MAX_RANGE_DAYS} days at once", ["to"])
    check.raise_if_any()
    program = await get_program_by_slug(data.program_slug, scope)
    if program is None:
        return None
    conn = connection()
    if data.segment is not None:
        segment = await get_segment_by_key(program.id, data.segment.strip())
        if segment is None or segment.archived_at is not None:
            raise DomainError(
                ErrorCode.SEGMENT_NOT_FOUND, "no segment with this key in the program", ["segment"]
            )
        opening_rows, range_rows = _split(
            await compute(conn, program, segment.id), data.first_day, data.last_day
        )
    else:
        opening_rows, range_rows = await _kept_rows(conn, program.id, data)
    series, totals = figures(
        opening_rows,
        range_rows,
        data.first_day,
        data.last_day,
        data.granularity,
        None if data.channel is None else data.channel.value,
    )
    return Insights(program=program, input=data, series=series, totals=totals)


def _split(
    rollup: Rollup, first_day: date, last_day: date
) -> tuple[list[RollupRow], list[RollupRow]]:
    """Recomputed rollups as the kept ones are read: the ledger before the range, summed (the
    balances at its start), and every row of the range's days."""
    opening: defaultdict[tuple[str, str], int] = defaultdict(int)
    rows = []
    for (day, metric, dimension), value in rollup.items():
        if day < first_day and metric == LEDGER:
            opening[(metric, dimension)] += value
        elif first_day <= day <= last_day:
            rows.append(RollupRow(day, metric, dimension, value))
    return [RollupRow(first_day, m, d, v) for (m, d), v in sorted(opening.items())], rows


async def _kept_rows(
    conn: BaseDBAsyncClient, program_id: int, data: InsightsInput
) -> tuple[list[RollupRow], list[RollupRow]]:
    opening = await fetch_all(
        conn,
        "SELECT metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND metric = ? AND day < ? GROUP BY metric, dimension",
        (program_id, LEDGER, data.first_day),
    )
    rows = await fetch_all(
        conn,
        "SELECT day, metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND day >= ? AND day <= ? GROUP BY day, metric, dimension",
        (program_id, data.first_day, data.last_day),
    )
    return (
        [RollupRow(data.first_day, r["metric"], r["dimension"], int(r["value"])) for r in opening],
        [_row(r) for r in rows],
    )


def _row(row: dict[str, object]) -> RollupRow:
    day = as_date(row["day"])
    assert day is not None
    return RollupRow(day, str(row["metric"]), str(row["dimension"]), int(str(row["value"])))
