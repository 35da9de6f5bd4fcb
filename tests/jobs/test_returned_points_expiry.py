"""Points given back after a redemption (cancelled, or its code expired with points returned)
expire no later than the lots they were spent from: redeeming points about to expire and
getting them back never buys them a new lifetime."""

from __future__ import annotations

from datetime import timedelta

from app.clock import ManualClock
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.graphql.rewards.factories import SETTINGS, cancel, make_reward
from tests.jobs.helpers import (
    T0,
    earn,
    expire_transactions,
    lots,
    points_of,
    redeem,
    run,
    set_expiry,
)

DAY = timedelta(days=1)


async def test_cancelled_points_keep_the_expiry_of_the_lot_they_came_from(
    api: Api, clock: ManualClock
) -> None:
    # Given 10 points from a 30-day lot, redeemed the day before they expire
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    member = await enroll(api)
    await earn(api, clock, 10, "order-1")
    reward = await make_reward(api, costPoints=10)
    clock.set(T0 + 29 * DAY)
    redemption = (await redeem(api, member["id"], reward["id"], "r-1"))["redemption"]

    # When the redemption is cancelled and the expiry job runs on the original lot's date
    clock.set(T0 + 29 * DAY + timedelta(hours=1))
    cancelled = await cancel(api, redemption["id"])
    returned = await points_of(api, member["id"])
    clock.set(T0 + 30 * DAY)
    await run(JobName.EXPIRE, clock)

    # Then the points came back with the original lot's expiry, and expired on it
    assert cancelled["userErrors"] == []
    assert returned == (10, 0)
    assert [lot.expires_at for lot in await lots(member["id"])] == [T0 + 30 * DAY] * 2
    assert await points_of(api, member["id"]) == (0, 0)
    assert [int(t["points"]) for t in await expire_transactions()] == [-10]
    assert await verify_ledger() == []


async def test_points_returned_after_their_lots_expired_come_back_expired(
    api: Api, clock: ManualClock
) -> None:
    # Given a program that returns the points of expired codes, and 10 points spent the day
    # before their lot expires on a code valid for 5 days
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    settings = await api.data(
        SETTINGS, {"input": {"programSlug": "shop", "expiredCodesReturnPoints": True}}
    )
    assert settings["updateRedemptionSettings"]["userErrors"] == []
    member = await enroll(api)
    await earn(api, clock, 10, "order-1")
    reward = await make_reward(api, costPoints=10, codeValidDays=5)
    clock.set(T0 + 29 * DAY)
    await redeem(api, member["id"], reward["id"], "r-1")

    # When the code expires unused after the lot's own date
    clock.set(T0 + 35 * DAY)
    await run(JobName.EXPIRE_CODES, clock)

    # Then the points are returned and expired in the same moment: the member never has them
    assert await points_of(api, member["id"]) == (0, 0)
    expired = await expire_transactions()
    assert [int(t["points"]) for t in expired] == [-10]
    returned_lot = (await lots(member["id"]))[-1]
    assert (returned_lot.remaining, returned_lot.expires_at) == (0, T0 + 30 * DAY)
    assert await verify_ledger() == []
