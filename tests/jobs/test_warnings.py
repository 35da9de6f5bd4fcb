"""Expiry warnings: one `points.expiring` outbox event per member and expiry date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.clock import ManualClock
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import T0, count, earn, events_of, run, set_expiry, update_settings

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


async def test_each_member_and_expiry_date_is_warned_once_with_amount_and_date(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS", expiryWarningDays=7)
    first = await enroll(api, customer_id="first")
    second = await enroll(api, customer_id="second")
    await earn(api, clock, 10, "f-1", "first")
    await earn(api, clock, 5, "s-1", "second")
    clock.advance(HOUR)
    await earn(api, clock, 20, "f-2", "first")  # expires the same day as f-1
    clock.set(T0 + 5 * DAY)
    await earn(api, clock, 40, "f-3", "first")  # a later date

    sent = []
    for moment in (
        T0 + 22 * DAY,  # nothing within 7 days yet
        T0 + 23 * DAY + 2 * HOUR,  # 6 February: both members
        T0 + 23 * DAY + 2 * HOUR,
        T0 + 24 * DAY,
        T0 + 27 * DAY,
        T0 + 28 * DAY,  # 11 February: the first member's later lot
        T0 + 28 * DAY,
        T0 + 29 * DAY,
    ):
        clock.set(moment)
        sent.append((await run(JobName.EXPIRY_WARNINGS, clock)).summary["warnings"])

    assert sent == [0, 2, 0, 0, 0, 1, 0, 0]
    events = await events_of(api, "points.expiring")
    assert [(event["memberId"], event["payload"]) for event in events] == [
        (
            first["id"],
            {
                "memberId": first["id"],
                "points": 30,
                "expiresAt": (T0 + 30 * DAY).isoformat(),
                "expiresOn": "2030-02-06",
                "timeZone": "UTC",
            },
        ),
        (
            second["id"],
            {
                "memberId": second["id"],
                "points": 5,
                "expiresAt": (T0 + 30 * DAY).isoformat(),
                "expiresOn": "2030-02-06",
                "timeZone": "UTC",
            },
        ),
        (
            first["id"],
            {
                "memberId": first["id"],
                "points": 40,
                "expiresAt": (T0 + 35 * DAY).isoformat(),
                "expiresOn": "2030-02-11",
                "timeZone": "UTC",
            },
        ),
    ]
    assert await count("SELECT COUNT(*) AS n FROM expiry_warnings") == 3
    clock.set(T0 + 30 * DAY + 2 * HOUR)
    await run(JobName.EXPIRE, clock)
    after_expiry = await run(JobName.EXPIRY_WARNINGS, clock)
    assert after_expiry.summary == {"warnings": 0}
    assert await verify_ledger() == []


async def test_no_warnings_when_warning_days_is_zero_or_nothing_expires(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, slug="silent")  # expiry without warnings
    await set_expiry(api, "LOT_LIFETIME", slug="silent", lifetime=5, unit="DAYS")
    await create_program(api, slug="forever")  # warnings set, but nothing expires
    await update_settings(api, "forever", expiryWarningDays=30)
    await enroll(api, "silent", "a")
    await enroll(api, "forever", "b")
    await earn(api, clock, 10, "o-a", "a", slug="silent")
    await earn(api, clock, 10, "o-b", "b", slug="forever")
    clock.advance(4 * DAY)

    result = await run(JobName.EXPIRY_WARNINGS, clock)

    assert result.summary == {"warnings": 0}
    assert (
        await count("SELECT COUNT(*) AS n FROM outbox_events WHERE type = 'points.expiring'") == 0
    )


async def test_inactivity_warns_before_the_deadline_and_again_after_new_activity(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Europe/Stockholm")
    await set_expiry(api, "INACTIVITY", inactivity_months=6, expiryWarningDays=10)
    member = await enroll(api)
    await earn(api, clock, 60, "order-1")
    # Six months on, at the same local hour: 13:00 in winter time, 13:00 in summer time.
    deadline = datetime(2030, 7, 7, 13, 0, tzinfo=STOCKHOLM).astimezone(UTC)
    assert deadline == datetime(2030, 7, 7, 11, 0, tzinfo=UTC)

    clock.set(deadline - 10 * DAY - HOUR)
    early = await run(JobName.EXPIRY_WARNINGS, clock)
    clock.set(deadline - 10 * DAY)
    due = await run(JobName.EXPIRY_WARNINGS, clock)
    clock.advance(3 * DAY)
    again = await run(JobName.EXPIRY_WARNINGS, clock)
    await earn(api, clock, 15, "order-2")  # activity: a new deadline, six months on
    new_deadline = datetime(2030, 12, 30, 13, 0, tzinfo=STOCKHOLM).astimezone(UTC)
    clock.set(new_deadline - 5 * DAY)
    later = await run(JobName.EXPIRY_WARNINGS, clock)

    assert [r.summary["warnings"] for r in (early, due, again, later)] == [0, 1, 0, 1]
    payloads = [event["payload"] for event in await events_of(api, "points.expiring")]
    assert payloads == [
        {
            "memberId": member["id"],
            "points": 60,
            "expiresAt": deadline.isoformat(),
            "expiresOn": "2030-07-07",
            "timeZone": "Europe/Stockholm",
        },
        {
            "memberId": member["id"],
            "points": 75,
            "expiresAt": new_deadline.isoformat(),
            "expiresOn": "2030-12-30",
            "timeZone": "Europe/Stockholm",
        },
    ]
    assert await verify_ledger() == []


async def test_a_warning_counts_every_point_expiring_that_day(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS", expiryWarningDays=7)
    await enroll(api)
    clock.set(T0 - 6 * HOUR)  # 06:00
    await earn(api, clock, 10, "morning")
    clock.set(T0 + 6 * HOUR)  # 18:00, the same day
    await earn(api, clock, 20, "evening")

    clock.set(T0 + 23 * DAY)  # noon, seven days before both lots expire on 6 February
    await run(JobName.EXPIRY_WARNINGS, clock)
    clock.advance(12 * HOUR)
    await run(JobName.EXPIRY_WARNINGS, clock)

    payloads = [event["payload"] for event in await events_of(api, "points.expiring")]
    assert [(p["expiresOn"], p["points"]) for p in payloads] == [("2030-02-06", 30)]
