"""programInsights: a program's KPIs over a range of its days, from the daily rollups.

Two reads whatever the range: the ledger rows before it (summed in SQL: the balances at its
start) and the rows of its days; never the ledger or the orders themselves. The KPIs and their
formulas are in docs/capabilities/analytics.md.

A filter on a set of members (segments) would need rollups keyed by member; see
docs/capabilities/analytics.md, "Limits".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.db import as_date, connection, fetch_all
from app.domain.analytics import (
    LEDGER,
    MAX_RANGE_DAYS,
    Granularity,
    PeriodFigures,
    RollupRow,
    figures,
)
from app.domain.errors import ErrorCode
from app.domain.orders import OrderChannel
from app.domain.validation import Checker
from app.services.programs.service import ProgramRecord, ProgramScope, get_program_by_slug


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
    opening = await fetch_all(
        conn,
        "SELECT metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND metric = ? AND day < ? GROUP BY metric, dimension",
        (program.id, LEDGER, data.first_day),
    )
    rows = await fetch_all(
        conn,
        "SELECT day, metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND day >= ? AND day <= ? GROUP BY day, metric, dimension",
        (program.id, data.first_day, data.last_day),
    )
    series, totals = figures(
        [RollupRow(data.first_day, r["metric"], r["dimension"], int(r["value"])) for r in opening],
        [_row(r) for r in rows],
        data.first_day,
        data.last_day,
        data.granularity,
        None if data.channel is None else data.channel.value,
    )
    return Insights(program=program, input=data, series=series, totals=totals)


def _row(row: dict[str, object]) -> RollupRow:
    day = as_date(row["day"])
    assert day is not None
    return RollupRow(day, str(row["metric"]), str(row["dimension"]), int(str(row["value"])))
