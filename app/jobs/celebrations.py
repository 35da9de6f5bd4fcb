"""Birthday and anniversary points, once a year, on the day in the program's time zone.

A member born on 29 February celebrates on 28 February in common years. A run awards every
celebration that fell in the last `CATCH_UP_DAYS` days, so a day the runner missed is made up
by the next run; the action's reference is the year celebrated, and an action reference never
earns twice, so runs that overlap award once. Members who joined after the day, who opted out,
or whose anniversary is their enrolment day itself, get nothing for it.

Every member whose birthday it is, whether or not a BIRTHDAY rule gives points, is announced
once a year as `member.birthday`, so the store's messaging tool can send its wishes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.db import as_date, as_datetime, connection, fetch_all, fetch_one, in_transaction
from app.domain.actions import ActionKind
from app.domain.errors import DomainError
from app.domain.expiry import celebrated_month_days, local_date, month_day
from app.domain.ids import encode_id
from app.jobs.progress import Progress
from app.services.actions.service import ActionRuleRecord, active_rule, award_action
from app.services.core.events import append_event

CATCH_UP_DAYS = 7
DEFAULT_BATCH_SIZE = 500

_COLUMN = {
    ActionKind.BIRTHDAY: "birthday_month_day",
    ActionKind.ANNIVERSARY: "anniversary_month_day",
}


def _recent_days(today: date) -> dict[int, date]:
    """Each month-day celebrated in the catch-up window, with the date it is celebrated on."""
    days: dict[int, date] = {}
    for back in range(CATCH_UP_DAYS):
        day = today - timedelta(days=back)
        for key in celebrated_month_days(day):
            days.setdefault(key, day)
    return days


def _local_noon(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _search_keys(action: ActionKind, days: dict[int, date]) -> list[int]:
    """Stored keys to look members up by. Anniversary keys are UTC dates, which differ from the
    program's local date by at most a day either way."""
    if action is ActionKind.BIRTHDAY:
        return sorted(days)
    keys = set()
    for day in days.values():
        for shift in (-1, 0, 1):
            keys.update(celebrated_month_days(day + timedelta(days=shift)))
    return sorted(keys)


def _celebrated_on(
    action: ActionKind, row: dict[str, Any], days: dict[int, date], zone: str
) -> date | None:
    """The day the member celebrates in the window, or None if they are not owed it."""
    joined = local_date(as_datetime(row["enrolled_at"]), zone)
    if action is ActionKind.ANNIVERSARY:
        day = days.get(month_day(joined))
        return day if day is not None and joined.year < day.year else None
    day = days.get(int(row["month_day"]))
    return day if day is not None and joined <= day else None


async def _award_for(
    action: ActionKind, rule: ActionRuleRecord, zone: str, now: datetime, batch_size: int
) -> tuple[int, int]:
    days = _recent_days(local_date(now, zone))
    keys = _search_keys(action, days)
    marks = ", ".join("?" for _ in keys)
    awarded = refused = 0
    after_id = 0
    while True:
        rows = await fetch_all(
            connection(),
            f"SELECT id, enrolled_at, {_COLUMN[action]} AS month_day FROM members"
            f" WHERE program_id = ? AND {_COLUMN[action]} IN ({marks})"
            " AND opted_out_at IS NULL AND id > ? ORDER BY id LIMIT ?",
            (rule.program_id, *keys, after_id, batch_size),
        )
        if not rows:
            return awarded, refused
        for row in rows:
            day = _celebrated_on(action, row, days, zone)
            if day is None:
                continue
            try:
                async with in_transaction() as conn:
                    award = await award_action(
                        conn,
                        rule=rule,
                        member_id=int(row["id"]),
                        reference=f"{action.value.lower()}:{day.year}",
                        # The celebrated day, not the run: a late run counts in that day's
                        # period of the rule (per year, in the program's calendar).
                        occurred_at=min(_local_noon(day, zone), now),
                        now=now,
                    )
            except DomainError:
                # The rule's own frequency limit or cap said no: nothing to award.
                refused += 1
                continue
            if not award.already_recorded:
                awarded += 1
        after_id = int(rows[-1]["id"])


async def _announce_birthdays(program_id: int, zone: str, now: datetime, batch_size: int) -> int:
    days = _recent_days(local_date(now, zone))
    keys = sorted(days)
    marks = ", ".join("?" for _ in keys)
    announced = 0
    after_id = 0
    while True:
        rows = await fetch_all(
            connection(),
            "SELECT id, enrolled_at, birthday, birthday_month_day AS month_day FROM members"
            f" WHERE program_id = ? AND birthday_month_day IN ({marks})"
            " AND opted_out_at IS NULL AND id > ? ORDER BY id LIMIT ?",
            (program_id, *keys, after_id, batch_size),
        )
        if not rows:
            return announced
        for row in rows:
            day = _celebrated_on(ActionKind.BIRTHDAY, row, days, zone)
            if day is None:
                continue
            member_id = int(row["id"])
            async with in_transaction() as conn:
                # The claim and the event commit together: a run that loses the race, or
                # overlaps yesterday's window, finds the year taken and announces nothing.
                claimed = await fetch_one(
                    conn,
                    "UPDATE members SET birthday_announced_year = ? WHERE id = ?"
                    " AND (birthday_announced_year IS NULL OR birthday_announced_year < ?)"
                    " RETURNING id",
                    (day.year, member_id, day.year),
                )
                if claimed is None:
                    continue
                born = as_date(row["birthday"])
                await append_event(
                    conn,
                    program_id=program_id,
                    member_id=member_id,
                    event_type="member.birthday",
                    payload={
                        "memberId": encode_id("Member", member_id),
                        "celebratedOn": day.isoformat(),
                        "age": None if born is None else day.year - born.year,
                    },
                    now=now,
                )
            announced += 1
        after_id = int(rows[-1]["id"])


async def award_celebrations(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """Award BIRTHDAY and ANNIVERSARY action rules to every member whose day it is."""
    programs = await fetch_all(connection(), "SELECT id, time_zone FROM programs ORDER BY id")
    progress.start(len(programs))
    totals = {"birthdays": 0, "anniversaries": 0, "refused": 0, "announced": 0}
    for program in programs:
        totals["announced"] += await _announce_birthdays(
            int(program["id"]), str(program["time_zone"]), now, batch_size
        )
        for action, label in (
            (ActionKind.BIRTHDAY, "birthdays"),
            (ActionKind.ANNIVERSARY, "anniversaries"),
        ):
            rule = await active_rule(connection(), int(program["id"]), action, "")
            if rule is None:
                continue
            awarded, refused = await _award_for(
                action, rule, str(program["time_zone"]), now, batch_size
            )
            totals[label] += awarded
            totals["refused"] += refused
        progress.advance(1)
    return totals
