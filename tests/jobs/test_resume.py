"""Jobs killed midway and run again: nothing done twice, nothing missed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest

from app.clock import ManualClock
from app.jobs import celebrations, expiry, maturing
from app.jobs.progress import SilentProgress
from app.jobs.runner import JobName
from app.services.actions.service import award_action
from app.services.core.events import append_event
from app.services.ledger.service import mature_lot, post_movement
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import (
    T0,
    action_rule,
    count,
    earn,
    expire_transactions,
    lots,
    run,
    set_expiry,
)

DAY = timedelta(days=1)
MEMBERS = 7

T = TypeVar("T")


class KilledError(Exception):
    """The process dying midway through a job."""


def dies_after(calls: int, function: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """`function`, except that the call after the first `calls` ones raises instead."""
    done = 0

    async def wrapper(*args: Any, **kwargs: Any) -> T:
        nonlocal done
        if done == calls:
            raise KilledError
        done += 1
        return await function(*args, **kwargs)

    return wrapper


async def members_with_lots(api: Api, clock: ManualClock) -> list[dict[str, Any]]:
    """MEMBERS members, each with a lot of 10 points; the fourth with a second one of 5."""
    members = []
    for n in range(MEMBERS):
        members.append(await enroll(api, customer_id=f"cust-{n}"))
        await earn(api, clock, 10, f"order-{n}", f"cust-{n}")
    await earn(api, clock, 5, "order-extra", "cust-3")
    return members


async def assert_every_lot_expired_once() -> None:
    every_lot = await lots()
    transactions = await expire_transactions()
    assert [lot.remaining for lot in every_lot] == [0] * len(every_lot)
    assert all(lot.expired_by_id is not None for lot in every_lot)
    assert len(transactions) == MEMBERS
    assert len({t["member_id"] for t in transactions}) == MEMBERS
    assert sum(t["points"] for t in transactions) == -(MEMBERS * 10 + 5)
    assert {lot.expired_by_id for lot in every_lot} == {t["id"] for t in transactions}
    assert await verify_ledger() == []


async def test_lot_expiry_killed_between_members_finishes_on_the_next_run(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(31 * DAY)
    monkeypatch.setattr(expiry, "expire_member_lots", dies_after(3, expiry.expire_member_lots))

    with pytest.raises(KilledError):
        await expiry.expire_lots(clock.now(), SilentProgress(), batch_size=2)

    assert len(await expire_transactions()) == 3
    monkeypatch.undo()
    rerun = await run(JobName.EXPIRE, clock)
    last = await run(JobName.EXPIRE, clock)
    assert rerun.summary == {"members": MEMBERS - 3, "points": (MEMBERS - 3) * 10 + 5}
    assert last.summary == {"members": 0, "points": 0}
    await assert_every_lot_expired_once()


async def test_lot_expiry_killed_inside_a_members_transaction_rolls_it_back(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(31 * DAY)
    # Dies in the fourth member's transaction, after that member's row was locked.
    monkeypatch.setattr(expiry, "post_movement", dies_after(3, post_movement))

    with pytest.raises(KilledError):
        await expiry.expire_lots(clock.now(), SilentProgress(), batch_size=3)

    assert len(await expire_transactions()) == 3
    assert sum(lot.remaining for lot in await lots()) == (MEMBERS - 3) * 10 + 5
    assert await verify_ledger() == []
    monkeypatch.undo()
    await expiry.expire_lots(clock.now(), SilentProgress(), batch_size=3)
    await assert_every_lot_expired_once()


async def test_inactivity_expiry_killed_midway_finishes_on_the_next_run(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await set_expiry(api, "INACTIVITY", inactivity_months=1)
    await members_with_lots(api, clock)
    clock.advance(40 * DAY)
    monkeypatch.setattr(expiry, "post_movement", dies_after(2, post_movement))

    with pytest.raises(KilledError):
        await expiry.expire_inactive(clock.now(), SilentProgress(), batch_size=2)

    assert len(await expire_transactions()) == 2
    monkeypatch.undo()
    rerun = await expiry.expire_inactive(clock.now(), SilentProgress(), batch_size=2)
    last = await run(JobName.EXPIRE, clock)
    assert rerun == {"members": MEMBERS - 2, "points": (MEMBERS - 2) * 10 + 5}
    assert last.summary == {"members": 0, "points": 0}
    transactions = await expire_transactions()
    assert len(transactions) == MEMBERS
    assert sum(t["points"] for t in transactions) == -(MEMBERS * 10 + 5)
    assert {lot.remaining for lot in await lots()} == {0}
    assert await verify_ledger() == []


async def test_maturing_killed_midway_matures_each_lot_once(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api, pendingDays=14)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(14 * DAY)
    monkeypatch.setattr(maturing, "mature_lot", dies_after(4, mature_lot))

    with pytest.raises(KilledError):
        await maturing.mature_due_points(clock.now(), batch_size=3)

    assert await count("SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NULL") == 4
    monkeypatch.undo()
    rerun = await maturing.mature_due_points(clock.now(), batch_size=3)
    last = await maturing.mature_due_points(clock.now(), batch_size=3)
    assert (rerun, last) == (MEMBERS + 1 - 4, 0)
    assert await count("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'MATURE'") == (
        MEMBERS + 1
    )
    assert {lot.expires_at for lot in await lots()} == {clock.now() + 30 * DAY}
    assert await verify_ledger() == []


async def test_celebrations_killed_midway_award_each_member_once(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await action_rule(api, "BIRTHDAY", 50)
    for n in range(MEMBERS):
        await enroll(api, customer_id=f"cust-{n}", birthday="1990-03-14")
    clock.set(datetime(2030, 3, 14, 9, 0, tzinfo=T0.tzinfo))
    monkeypatch.setattr(celebrations, "award_action", dies_after(3, award_action))

    with pytest.raises(KilledError):
        await celebrations.award_celebrations(clock.now(), SilentProgress(), batch_size=2)

    monkeypatch.undo()
    clock.advance(DAY)  # the next run is a day later: the catch-up window still covers it
    rerun = await run(JobName.CELEBRATIONS, clock)
    last = await run(JobName.CELEBRATIONS, clock)
    assert (rerun.summary["birthdays"], last.summary["birthdays"]) == (MEMBERS - 3, 0)
    assert (
        await count("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'ACTION'")
        == MEMBERS
    )
    assert await count("SELECT COUNT(DISTINCT member_id) AS n FROM ledger_transactions") == (
        MEMBERS
    )
    assert await verify_ledger() == []


async def test_warnings_killed_midway_warn_each_member_once(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS", expiryWarningDays=7)
    await members_with_lots(api, clock)
    clock.advance(25 * DAY)
    monkeypatch.setattr(expiry, "append_event", dies_after(3, append_event))

    with pytest.raises(KilledError):
        await expiry.send_expiry_warnings(clock.now(), SilentProgress(), batch_size=2)

    monkeypatch.undo()
    rerun = await expiry.send_expiry_warnings(clock.now(), SilentProgress(), batch_size=2)
    last = await run(JobName.EXPIRY_WARNINGS, clock)
    # Batches of two: the first committed, the second died with one of its two warnings.
    assert (rerun, last.summary) == ({"warnings": MEMBERS - 2}, {"warnings": 0})
    assert await count("SELECT COUNT(*) AS n FROM expiry_warnings") == MEMBERS
    assert (
        await count("SELECT COUNT(*) AS n FROM outbox_events WHERE type = 'points.expiring'")
        == MEMBERS
    )
    assert await count("SELECT COUNT(*) AS n FROM expiry_warnings WHERE points = 15") == 1
