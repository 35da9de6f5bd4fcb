"""Expiry through the API and the job runner: each policy, FIFO spending, the non-retroactive
switch, pending points, and what a member sees of their next expiries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.clock import ManualClock
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, create_reward, enroll, grant_points
from tests.jobs.helpers import (
    T0,
    Expiry,
    earn,
    expire_transactions,
    lots,
    next_expiries,
    points_of,
    redeem,
    run,
    set_expiry,
    update_settings,
)

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { pointsReversed pointsUnrecovered userErrors { code } }
}"""


def refund_input(order_id: str, **fields: Any) -> dict[str, Any]:
    return {"programSlug": "shop", "orderId": order_id, **fields}


async def test_lot_lifetime_in_days_expires_each_lot_on_its_own_date_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    member = await enroll(api)
    await earn(api, clock, 10, "order-1")
    clock.advance(10 * DAY)
    await earn(api, clock, 20, "order-2")

    assert await next_expiries(api, member["id"]) == [
        Expiry(10, T0 + 30 * DAY, date(2030, 2, 6)),
        Expiry(20, T0 + 40 * DAY, date(2030, 2, 16)),
    ]
    clock.set(T0 + 30 * DAY - SECOND)
    early = await run(JobName.EXPIRE, clock)
    clock.set(T0 + 30 * DAY)
    due = await run(JobName.EXPIRE, clock)
    again = await run(JobName.EXPIRE, clock)

    assert early.summary == {"members": 0, "points": 0}
    assert due.summary == {"members": 1, "points": 10}
    assert again.summary == {"members": 0, "points": 0}
    assert await points_of(api, member["id"]) == (20, 0)
    assert await next_expiries(api, member["id"]) == [Expiry(20, T0 + 40 * DAY, date(2030, 2, 16))]
    clock.set(T0 + 40 * DAY)
    last = await run(JobName.EXPIRE, clock)

    assert last.summary == {"members": 1, "points": 20}
    assert await points_of(api, member["id"]) == (0, 0)
    assert await next_expiries(api, member["id"]) == []
    assert [t["points"] for t in await expire_transactions()] == [-10, -20]
    assert [(lot.remaining, lot.expired_by_id is not None) for lot in await lots()] == [
        (0, True),
        (0, True),
    ]
    assert await verify_ledger() == []


async def test_lot_lifetime_in_months_rounded_to_the_end_of_the_local_month(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Europe/Stockholm")
    await set_expiry(api, "LOT_LIFETIME", lifetime=1, round_to="END_OF_MONTH")
    member = await enroll(api)
    clock.set(datetime(2030, 1, 31, 22, 0, tzinfo=UTC))  # 31 January, 23:00 in Stockholm
    await earn(api, clock, 15, "order-1")
    clock.set(datetime(2030, 1, 31, 23, 30, tzinfo=UTC))  # already 1 February there
    await earn(api, clock, 25, "order-2")
    end_of_february = datetime(2030, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 00:00 local
    end_of_march = datetime(2030, 3, 31, 22, 0, tzinfo=UTC)  # 1 April 00:00 local (summer)

    assert await next_expiries(api, member["id"]) == [
        Expiry(15, end_of_february, date(2030, 3, 1)),
        Expiry(25, end_of_march, date(2030, 4, 1)),
    ]
    clock.set(end_of_february - SECOND)
    early = await run(JobName.EXPIRE, clock)
    clock.set(end_of_february)
    due = await run(JobName.EXPIRE, clock)
    clock.set(end_of_march + 5 * DAY)
    rest = await run(JobName.EXPIRE, clock)

    assert (early.summary["points"], due.summary["points"], rest.summary["points"]) == (0, 15, 25)
    assert await points_of(api, member["id"]) == (0, 0)
    assert await verify_ledger() == []


async def test_inactivity_expires_everything_of_idle_members_only(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "INACTIVITY", inactivity_months=6)
    reward = await create_reward(api, cost_points=10)
    idle = await enroll(api, customer_id="idle")
    earner = await enroll(api, customer_id="earner")
    spender = await enroll(api, customer_id="spender")
    adjusted = await enroll(api, customer_id="adjusted")
    clock.set(datetime(2030, 2, 7, 12, 0, tzinfo=UTC))
    for customer in ("idle", "earner", "spender", "adjusted"):
        await earn(api, clock, 40, f"first-{customer}", customer)
    clock.set(datetime(2030, 5, 7, 12, 0, tzinfo=UTC))
    await redeem(api, spender["id"], reward["id"], "spend")  # spending is activity
    await grant_points(api, adjusted["id"], 5)  # an admin adjustment is not
    clock.set(datetime(2030, 6, 7, 12, 0, tzinfo=UTC))
    await earn(api, clock, 40, "second-earner", "earner")  # earning restarts the clock

    assert await next_expiries(api, spender["id"]) == [
        Expiry(30, datetime(2030, 11, 7, 12, 0, tzinfo=UTC), date(2030, 11, 7))
    ]
    clock.set(datetime(2030, 8, 7, 12, 0, tzinfo=UTC) - SECOND)
    early = await run(JobName.EXPIRE, clock)
    clock.set(datetime(2030, 8, 7, 12, 0, tzinfo=UTC))
    first = await run(JobName.EXPIRE, clock)
    again = await run(JobName.EXPIRE, clock)

    assert early.summary == {"members": 0, "points": 0}
    assert first.summary == {"members": 2, "points": 85}
    assert again.summary == {"members": 0, "points": 0}
    assert await points_of(api, idle["id"]) == (0, 0)
    assert await points_of(api, adjusted["id"]) == (0, 0)
    assert await points_of(api, spender["id"]) == (30, 0)
    assert await points_of(api, earner["id"]) == (80, 0)
    clock.set(datetime(2030, 11, 7, 12, 0, tzinfo=UTC))
    spender_due = await run(JobName.EXPIRE, clock)
    clock.set(datetime(2030, 12, 7, 12, 0, tzinfo=UTC))
    earner_due = await run(JobName.EXPIRE, clock)

    assert spender_due.summary == {"members": 1, "points": 30}
    assert earner_due.summary == {"members": 1, "points": 80}
    assert {lot.remaining for lot in await lots()} == {0}
    assert await verify_ledger() == []


async def test_no_expiry_policy_keeps_points_forever(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    member = await enroll(api)
    await earn(api, clock, 10, "order-1")
    await grant_points(api, member["id"], 7)

    clock.advance(100 * 366 * DAY)
    result = await run(JobName.EXPIRE, clock)

    assert result.summary == {"members": 0, "points": 0}
    assert await points_of(api, member["id"]) == (17, 0)
    assert await next_expiries(api, member["id"]) == []
    assert {lot.expires_at for lot in await lots()} == {None}
    assert await verify_ledger() == []


async def test_spending_takes_the_lot_that_expires_first_not_the_oldest(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=12)
    reward = await create_reward(api, cost_points=100)
    member = await enroll(api)
    await earn(api, clock, 100, "order-old")  # expires T0 + 12 months
    clock.advance(DAY)
    # A shorter lifetime dates only lots earned from now on.
    await set_expiry(api, "LOT_LIFETIME", lifetime=1)
    clock.advance(DAY)
    await earn(api, clock, 100, "order-new")  # expires 9 February, long before the old one
    clock.advance(DAY)

    await redeem(api, member["id"], reward["id"], "spend")

    old, new = await lots(member["id"])
    assert (old.remaining, new.remaining) == (100, 0)
    clock.set(datetime(2030, 3, 1, tzinfo=UTC))
    after_new_date = await run(JobName.EXPIRE, clock)
    assert after_new_date.summary == {"members": 0, "points": 0}
    assert await points_of(api, member["id"]) == (100, 0)
    clock.set(datetime(2031, 1, 7, 12, 0, tzinfo=UTC))
    after_old_date = await run(JobName.EXPIRE, clock)
    assert after_old_date.summary == {"members": 1, "points": 100}
    assert await verify_ledger() == []


async def test_spending_takes_the_oldest_of_lots_expiring_together_and_the_rest_survives(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=6)
    reward = await create_reward(api, cost_points=40)
    member = await enroll(api)
    await earn(api, clock, 30, "order-1")
    clock.advance(30 * DAY)
    await earn(api, clock, 30, "order-2")
    clock.advance(30 * DAY)
    await set_expiry(api, "LOT_LIFETIME", lifetime=1, round_to="END_OF_YEAR")
    await earn(api, clock, 30, "order-3")  # 8 April, rounded: expires at New Year 2031
    await earn(api, clock, 30, "order-4")  # the same moment as order-3: a tie

    await redeem(api, member["id"], reward["id"], "first")
    await redeem(api, member["id"], reward["id"], "second")

    # The two lots due in July and August go first, then the older of the tied pair.
    assert [lot.remaining for lot in await lots(member["id"])] == [0, 0, 10, 30]
    clock.set(datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC))
    early_lots_due = await run(JobName.EXPIRE, clock)
    clock.set(datetime(2031, 1, 1, tzinfo=UTC))
    late_lots_due = await run(JobName.EXPIRE, clock)

    assert early_lots_due.summary == {"members": 0, "points": 0}
    assert late_lots_due.summary == {"members": 1, "points": 40}
    assert [lot.remaining for lot in await lots(member["id"])] == [0, 0, 0, 0]
    assert await verify_ledger() == []


async def test_turning_lot_expiry_on_is_not_retroactive(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    member = await enroll(api)
    await earn(api, clock, 50, "ancient")
    switch = datetime(2033, 1, 5, 12, 0, tzinfo=UTC)  # three years on
    clock.set(switch)

    program = await set_expiry(api, "LOT_LIFETIME", lifetime=12)
    clock.advance(DAY)
    next_day = await run(JobName.EXPIRE, clock)

    assert datetime.fromisoformat(program["expiry"]["since"]) == switch
    assert next_day.summary == {"members": 0, "points": 0}
    one_year_on = datetime(2034, 1, 5, 12, 0, tzinfo=UTC)
    assert await next_expiries(api, member["id"]) == [Expiry(50, one_year_on, date(2034, 1, 5))]
    clock.set(one_year_on - SECOND)
    almost = await run(JobName.EXPIRE, clock)
    clock.set(one_year_on)
    due = await run(JobName.EXPIRE, clock)

    assert almost.summary["points"] == 0
    assert due.summary == {"members": 1, "points": 50}
    assert await verify_ledger() == []


async def test_turning_expiry_off_clears_the_dates_and_on_again_counts_afresh(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    member = await enroll(api)
    await earn(api, clock, 50, "order-1")
    clock.advance(20 * DAY)

    program = await set_expiry(api, "NONE")
    cleared = await lots(member["id"])
    clock.advance(20 * DAY)
    while_off = await run(JobName.EXPIRE, clock)

    assert program["expiry"]["since"] is None
    assert [lot.expires_at for lot in cleared] == [None]
    assert await next_expiries(api, member["id"]) == []
    assert while_off.summary == {"members": 0, "points": 0}
    restart = clock.now()
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    assert await next_expiries(api, member["id"]) == [
        Expiry(50, restart + 30 * DAY, date(2030, 3, 18))
    ]
    clock.set(restart + 30 * DAY - SECOND)
    assert (await run(JobName.EXPIRE, clock)).summary["points"] == 0
    clock.set(restart + 30 * DAY)
    assert (await run(JobName.EXPIRE, clock)).summary["points"] == 50
    assert await verify_ledger() == []


async def test_turning_inactivity_expiry_on_is_not_retroactive(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    member = await enroll(api)
    never_active = await enroll(api, customer_id="cust-2")
    await earn(api, clock, 50, "ancient")
    await grant_points(api, never_active["id"], 20)
    switch = datetime(2033, 1, 5, 12, 0, tzinfo=UTC)  # three years on
    clock.set(switch)

    await set_expiry(api, "INACTIVITY", inactivity_months=6)
    clock.advance(DAY)
    next_day = await run(JobName.EXPIRE, clock)

    assert next_day.summary == {"members": 0, "points": 0}
    deadline = datetime(2033, 7, 5, 12, 0, tzinfo=UTC)
    assert await next_expiries(api, member["id"]) == [Expiry(50, deadline, date(2033, 7, 5))]
    clock.set(deadline - SECOND)
    almost = await run(JobName.EXPIRE, clock)
    clock.set(deadline)
    due = await run(JobName.EXPIRE, clock)

    assert almost.summary["points"] == 0
    assert due.summary == {"members": 2, "points": 70}
    assert await verify_ledger() == []


async def test_next_expiries_are_summed_per_local_day(api: Api, clock: ManualClock) -> None:
    await create_program(api, timeZone="America/New_York")
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    member = await enroll(api)
    clock.set(datetime(2030, 1, 10, 13, 0, tzinfo=UTC))  # 08:00 in New York
    await earn(api, clock, 10, "morning")
    clock.set(datetime(2030, 1, 11, 3, 0, tzinfo=UTC))  # 22:00 the same local day
    await earn(api, clock, 20, "evening")
    clock.set(datetime(2030, 1, 11, 14, 0, tzinfo=UTC))  # the next local day
    await earn(api, clock, 40, "next-day")
    clock.set(datetime(2030, 1, 20, 14, 0, tzinfo=UTC))
    await earn(api, clock, 80, "later")

    expiries = await next_expiries(api, member["id"])
    first_two = await next_expiries(api, member["id"], first=2)

    assert expiries == [
        Expiry(30, datetime(2030, 2, 9, 13, 0, tzinfo=UTC), date(2030, 2, 9)),
        Expiry(40, datetime(2030, 2, 10, 14, 0, tzinfo=UTC), date(2030, 2, 10)),
        Expiry(80, datetime(2030, 2, 19, 14, 0, tzinfo=UTC), date(2030, 2, 19)),
    ]
    assert first_two == expiries[:2]


async def test_pending_points_are_dated_when_they_mature_not_before(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    await earn(api, clock, 25, "order-1")  # pending until T0 + 14 days
    clock.advance(DAY)
    # Turned on while the points are pending: they are not dated yet.
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    clock.advance(DAY)
    await earn(api, clock, 10, "order-2")  # pending until T0 + 16 days

    assert [lot.expires_at for lot in await lots(member["id"])] == [None, None]
    assert await next_expiries(api, member["id"]) == []
    clock.set(T0 + 14 * DAY)
    matured = await run(JobName.MATURE, clock)

    assert matured.summary == {"lots": 1}
    assert await next_expiries(api, member["id"]) == [Expiry(25, T0 + 44 * DAY, date(2030, 2, 20))]
    clock.set(T0 + 16 * DAY)
    await run(JobName.MATURE, clock)
    first, second = await lots(member["id"])
    assert (first.expires_at, second.expires_at) == (T0 + 44 * DAY, T0 + 46 * DAY)
    clock.set(T0 + 44 * DAY - SECOND)
    assert (await run(JobName.EXPIRE, clock)).summary["points"] == 0
    clock.set(T0 + 44 * DAY)
    assert (await run(JobName.EXPIRE, clock)).summary == {"members": 1, "points": 25}
    assert await points_of(api, member["id"]) == (10, 0)
    assert await verify_ledger() == []


async def test_pending_points_are_not_expired_while_pending(api: Api, clock: ManualClock) -> None:
    await create_program(api, pendingDays=60)
    await set_expiry(api, "LOT_LIFETIME", lifetime=7, unit="DAYS")
    member = await enroll(api)
    await earn(api, clock, 25, "order-1")

    clock.advance(30 * DAY)
    result = await run(JobName.EXPIRE, clock)

    assert result.summary == {"members": 0, "points": 0}
    assert await points_of(api, member["id"]) == (0, 25)
    assert await verify_ledger() == []


@pytest.mark.parametrize("policy", ["WRITE_OFF", "NEGATIVE_BALANCE"])
async def test_a_refund_after_expiry_does_not_take_the_expired_points_again(
    api: Api, clock: ManualClock, policy: str
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await update_settings(api, refundShortfallPolicy=policy)
    member = await enroll(api)
    await earn(api, clock, 100, "order-1")
    clock.advance(31 * DAY)
    await run(JobName.EXPIRE, clock)
    await earn(api, clock, 40, "order-2")

    half = await api.data(
        REFUND, {"input": refund_input("order-1", amountMinor=5000, idempotencyKey="r1")}
    )
    rest = await api.data(REFUND, {"input": refund_input("order-1", idempotencyKey="r2")})

    # 100 points expired; refunding the order finds them gone already and takes nothing else.
    assert half["refundOrder"]["pointsReversed"] == 50
    assert rest["refundOrder"]["pointsReversed"] == 50
    assert rest["refundOrder"]["pointsUnrecovered"] == 0
    assert await points_of(api, member["id"]) == (40, 0)
    status = await api.data(
        "query($id: ID!) { member(id: $id) { points { debt } } }", {"id": member["id"]}
    )
    assert status["member"]["points"]["debt"] == 0
    assert await verify_ledger() == []
