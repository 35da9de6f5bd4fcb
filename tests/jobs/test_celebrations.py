"""Birthday and anniversary points: once a year, on the day in the program's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from app.clock import ManualClock
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, member_status
from tests.jobs.helpers import action_rule, events_of, points_of, run, update_settings


async def celebrate(clock: ManualClock, moment: datetime) -> dict[str, int]:
    clock.set(moment)
    return (await run(JobName.CELEBRATIONS, clock)).summary


async def test_a_birthday_earns_once_a_year_on_the_day_in_the_programs_zone(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    program = await update_settings(api, timeZone="Pacific/Auckland")
    await action_rule(api, "BIRTHDAY", 50)
    member = await enroll(api, birthday="1990-03-14")

    # Auckland is 13 hours ahead in March: its 14 March starts at 11:00 UTC on the 13th.
    before = await celebrate(clock, datetime(2030, 3, 13, 10, 59, tzinfo=UTC))
    on_the_day = await celebrate(clock, datetime(2030, 3, 13, 11, 0, tzinfo=UTC))
    rerun = await celebrate(clock, datetime(2030, 3, 13, 11, 0, tzinfo=UTC))
    days_later = await celebrate(clock, datetime(2030, 3, 16, 9, 0, tzinfo=UTC))
    next_year = await celebrate(clock, datetime(2031, 3, 14, 0, 0, tzinfo=UTC))

    assert program["timeZone"] == "Pacific/Auckland"
    assert [r["birthdays"] for r in (before, on_the_day, rerun, days_later, next_year)] == [
        0,
        1,
        0,
        0,
        1,
    ]
    assert on_the_day == {"birthdays": 1, "anniversaries": 0, "refused": 0, "announced": 1}
    assert await points_of(api, member["id"]) == (100, 0)
    activity = (await member_status(api, member["id"]))["activity"]["edges"]
    assert [edge["node"]["kind"] for edge in activity] == ["ACTION", "ACTION"]
    assert await verify_ledger() == []


async def test_29_february_birthdays_are_celebrated_on_28_february_in_common_years(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Pacific/Auckland")
    await action_rule(api, "BIRTHDAY", 50)
    leapling = await enroll(api, customer_id="leapling", birthday="2000-02-29")
    eve = await enroll(api, customer_id="eve", birthday="2001-02-28")

    # 01:00 on 28 February 2030 in Auckland (a common year).
    common = await celebrate(clock, datetime(2030, 2, 27, 12, 0, tzinfo=UTC))
    first_of_march = await celebrate(clock, datetime(2030, 2, 28, 12, 0, tzinfo=UTC))
    assert (common["birthdays"], first_of_march["birthdays"]) == (2, 0)
    assert await points_of(api, leapling["id"]) == (50, 0)
    # 2032 is a leap year: 28 February is only eve's day, 29 February is the leapling's.
    leap_28 = await celebrate(clock, datetime(2032, 2, 27, 12, 0, tzinfo=UTC))
    assert await points_of(api, leapling["id"]) == (50, 0)
    leap_29 = await celebrate(clock, datetime(2032, 2, 28, 12, 0, tzinfo=UTC))
    leap_rerun = await celebrate(clock, datetime(2032, 3, 1, 12, 0, tzinfo=UTC))

    assert (leap_28["birthdays"], leap_29["birthdays"], leap_rerun["birthdays"]) == (1, 1, 0)
    assert await points_of(api, leapling["id"]) == (100, 0)
    assert await points_of(api, eve["id"]) == (100, 0)
    assert await verify_ledger() == []


async def test_a_missed_day_is_caught_up_within_seven_days_only(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await action_rule(api, "BIRTHDAY", 50)
    six_days_ago = await enroll(api, customer_id="six", birthday="1990-03-14")
    seven_days_ago = await enroll(api, customer_id="seven", birthday="1990-03-13")

    late = await celebrate(clock, datetime(2030, 3, 20, 23, 0, tzinfo=UTC))
    again = await celebrate(clock, datetime(2030, 3, 21, 1, 0, tzinfo=UTC))

    assert (late["birthdays"], again["birthdays"]) == (1, 0)
    assert await points_of(api, six_days_ago["id"]) == (50, 0)
    assert await points_of(api, seven_days_ago["id"]) == (0, 0)
    next_year = await celebrate(clock, datetime(2031, 3, 14, 8, 0, tzinfo=UTC))
    assert next_year["birthdays"] == 2
    assert await verify_ledger() == []


async def test_nothing_for_a_birthday_before_the_member_joined(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Europe/Stockholm")
    await action_rule(api, "BIRTHDAY", 50)
    clock.set(datetime(2030, 3, 14, 8, 0, tzinfo=UTC))  # the birthday itself, 09:00 local
    on_the_day = await enroll(api, customer_id="on-the-day", birthday="1990-03-14")
    clock.set(datetime(2030, 3, 16, 8, 0, tzinfo=UTC))
    after = await enroll(api, customer_id="after", birthday="1990-03-14")

    this_year = await celebrate(clock, datetime(2030, 3, 17, 8, 0, tzinfo=UTC))
    next_year = await celebrate(clock, datetime(2031, 3, 14, 8, 0, tzinfo=UTC))

    assert (this_year["birthdays"], next_year["birthdays"]) == (1, 2)
    assert await points_of(api, on_the_day["id"]) == (100, 0)
    assert await points_of(api, after["id"]) == (50, 0)
    assert await verify_ledger() == []


async def test_an_anniversary_earns_from_the_first_year_on_not_on_the_enrolment_day(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Pacific/Auckland")
    await action_rule(api, "ANNIVERSARY", 30)
    await action_rule(api, "BIRTHDAY", 50)
    # 9 May 20:00 UTC is 10 May 08:00 in Auckland (12 hours ahead in winter).
    clock.set(datetime(2030, 5, 9, 20, 0, tzinfo=UTC))
    member = await enroll(api)  # no birthday given: no birthday points

    enrolment_day = await celebrate(clock, datetime(2030, 5, 10, 6, 0, tzinfo=UTC))
    week_after = await celebrate(clock, datetime(2030, 5, 15, 6, 0, tzinfo=UTC))
    eve = await celebrate(clock, datetime(2031, 5, 9, 11, 59, tzinfo=UTC))
    first = await celebrate(clock, datetime(2031, 5, 9, 12, 0, tzinfo=UTC))
    rerun = await celebrate(clock, datetime(2031, 5, 12, 12, 0, tzinfo=UTC))
    second = await celebrate(clock, datetime(2032, 5, 10, 0, 0, tzinfo=UTC))

    assert [r["anniversaries"] for r in (enrolment_day, week_after, eve, first, rerun, second)] == [
        0,
        0,
        0,
        1,
        0,
        1,
    ]
    assert {r["birthdays"] for r in (enrolment_day, first, second)} == {0}
    assert await points_of(api, member["id"]) == (60, 0)
    assert await verify_ledger() == []


async def test_no_rule_no_points_and_opted_out_members_get_nothing(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, slug="plain")
    await create_program(api, slug="shop")
    await action_rule(api, "BIRTHDAY", 50, slug="shop")
    plain = await enroll(api, "plain", "p", birthday="1990-03-14")
    shop = await enroll(api, "shop", "s", birthday="1990-03-14")
    opted_out = await enroll(api, "shop", "o", birthday="1990-03-14")
    data = await api.data(
        "mutation($input: SetMemberOptOutInput!) { setMemberOptOut(input: $input)"
        " { userErrors { code } } }",
        {"input": {"memberId": opted_out["id"], "optedOut": True}},
    )
    assert data["setMemberOptOut"]["userErrors"] == []

    result = await celebrate(clock, datetime(2030, 3, 14, 12, 0, tzinfo=UTC))

    assert result["birthdays"] == 1
    assert await points_of(api, plain["id"]) == (0, 0)
    assert await points_of(api, shop["id"]) == (50, 0)
    assert await points_of(api, opted_out["id"]) == (0, 0)
    assert await verify_ledger() == []
    # Both programs wish their members a happy birthday, with or without a rule; opted-out
    # members get no messages.
    assert result["announced"] == 2
    for slug, member in (("plain", plain), ("shop", shop)):
        wishes = await events_of(api, "member.birthday", slug=slug)
        assert [(w["memberId"], w["payload"]) for w in wishes] == [
            (
                member["id"],
                {"memberId": member["id"], "celebratedOn": "2030-03-14", "age": 40},
            )
        ]


async def test_a_birthday_is_announced_once_a_year_across_overlapping_runs(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    member = await enroll(api, birthday="1990-03-14")

    runs = [
        await celebrate(clock, moment)
        for moment in (
            datetime(2030, 3, 13, 12, 0, tzinfo=UTC),
            datetime(2030, 3, 14, 12, 0, tzinfo=UTC),
            datetime(2030, 3, 16, 12, 0, tzinfo=UTC),
            datetime(2031, 3, 14, 12, 0, tzinfo=UTC),
        )
    ]

    assert [r["announced"] for r in runs] == [0, 1, 0, 1]
    wishes = await events_of(api, "member.birthday")
    assert [w["payload"]["celebratedOn"] for w in wishes] == ["2030-03-14", "2031-03-14"]
    assert {w["memberId"] for w in wishes} == {member["id"]}


async def test_a_per_year_birthday_rule_awards_each_year_near_new_year_in_a_zone_ahead_of_utc(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Pacific/Auckland")
    await action_rule(api, "BIRTHDAY", 50)  # PER_YEAR, limit 1
    member = await enroll(api, birthday="1990-01-01")

    # 1 January 2031 14:00 in Auckland is 01:00 UTC the same day...
    first = await celebrate(clock, datetime(2031, 1, 1, 1, 0, tzinfo=UTC))
    # ...but 1 January 2032 00:30 in Auckland is still 31 December 2031 in UTC.
    second = await celebrate(clock, datetime(2031, 12, 31, 11, 30, tzinfo=UTC))

    assert (first["birthdays"], second["birthdays"]) == (1, 1)
    assert await points_of(api, member["id"]) == (100, 0)


async def test_a_birthday_caught_up_after_new_year_does_not_use_up_the_next_years(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await action_rule(api, "BIRTHDAY", 50)  # PER_YEAR, limit 1
    member = await enroll(api, birthday="1990-12-30")

    caught_up = await celebrate(clock, datetime(2031, 1, 2, 9, 0, tzinfo=UTC))  # for 2030
    on_time = await celebrate(clock, datetime(2031, 12, 30, 9, 0, tzinfo=UTC))  # for 2031

    assert (caught_up["birthdays"], on_time["birthdays"]) == (1, 1)
    assert await points_of(api, member["id"]) == (100, 0)


async def test_an_anniversary_follows_a_later_change_of_time_zone(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)  # UTC
    await action_rule(api, "ANNIVERSARY", 30)
    # 5 March 03:00 UTC is still 4 March in Los Angeles.
    clock.set(datetime(2030, 3, 5, 3, 0, tzinfo=UTC))
    member = await enroll(api)
    await update_settings(api, timeZone="America/Los_Angeles")

    # 4 March 2031, 12:00 in Los Angeles: the local anniversary (the UTC date was the 5th).
    on_the_local_day = await celebrate(clock, datetime(2031, 3, 4, 20, 0, tzinfo=UTC))

    assert on_the_local_day["anniversaries"] == 1
    assert await points_of(api, member["id"]) == (30, 0)
