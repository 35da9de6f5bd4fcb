"""Two runners at once: each lot expired, matured, warned and each birthday awarded once.

On PostgreSQL the work really interleaves over the connection pool; the advisory lock lets
one `run_job` per job run at a time, and the jobs' own row locks and guarded updates make
even two unlocked runs (the job functions called directly) do each thing once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from app.clock import ManualClock
from app.config import Settings
from app.jobs.celebrations import award_celebrations
from app.jobs.expiry import expire_inactive, expire_lots, send_expiry_warnings
from app.jobs.maturing import mature_due_points
from app.jobs.progress import SilentProgress
from app.jobs.runner import JobName, _lock_key, describe, run_job
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import action_rule, count, earn, expire_transactions, lots, set_expiry

DAY = timedelta(days=1)
MEMBERS = 12


async def members_with_lots(api: Api, clock: ManualClock) -> None:
    for n in range(MEMBERS):
        await enroll(api, customer_id=f"cust-{n}", birthday="1990-03-14")
        await earn(api, clock, 10, f"order-{n}", f"cust-{n}")
        await earn(api, clock, 1, f"order-{n}-b", f"cust-{n}")


async def assert_each_member_expired_once() -> None:
    transactions = await expire_transactions()
    assert len(transactions) == MEMBERS
    assert len({t["member_id"] for t in transactions}) == MEMBERS
    assert {t["points"] for t in transactions} == {-11}
    assert {lot.remaining for lot in await lots()} == {0}
    assert await verify_ledger() == []


async def test_two_expiry_runners_at_once_expire_each_lot_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(30 * DAY)

    results = await asyncio.gather(
        run_job(JobName.EXPIRE, clock.now()), run_job(JobName.EXPIRE, clock.now())
    )

    ran = [r for r in results if r.ran]
    assert ran, [describe(r) for r in results]
    assert sum(r.summary["points"] for r in ran) == MEMBERS * 11
    assert sum(r.summary["members"] for r in ran) == MEMBERS
    for skipped in (r for r in results if not r.ran):
        assert describe(skipped) == "expire: skipped, another runner holds it"
    await assert_each_member_expired_once()


async def test_two_unlocked_lot_expiries_at_once_expire_each_lot_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(30 * DAY)

    results = await asyncio.gather(
        expire_lots(clock.now(), SilentProgress(), batch_size=2),
        expire_lots(clock.now(), SilentProgress(), batch_size=3),
        expire_lots(clock.now(), SilentProgress(), batch_size=5),
    )

    assert sum(r["members"] for r in results) == MEMBERS
    assert sum(r["points"] for r in results) == MEMBERS * 11
    await assert_each_member_expired_once()


async def test_two_unlocked_inactivity_expiries_at_once_expire_each_member_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "INACTIVITY", inactivity_months=1)
    await members_with_lots(api, clock)
    clock.advance(40 * DAY)

    results = await asyncio.gather(
        expire_inactive(clock.now(), SilentProgress(), batch_size=2),
        expire_inactive(clock.now(), SilentProgress(), batch_size=3),
    )

    assert sum(r["members"] for r in results) == MEMBERS
    await assert_each_member_expired_once()


async def test_two_maturing_runners_at_once_mature_each_lot_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, pendingDays=14)
    await members_with_lots(api, clock)
    clock.advance(14 * DAY)

    direct = await asyncio.gather(
        mature_due_points(clock.now(), batch_size=2),
        mature_due_points(clock.now(), batch_size=3),
        run_job(JobName.MATURE, clock.now()),
        run_job(JobName.MATURE, clock.now()),
    )

    first, second, *runners = direct
    assert isinstance(first, int) and isinstance(second, int)
    from_runners = sum(r.summary["lots"] for r in runners if not isinstance(r, int) and r.ran)
    assert first + second + from_runners == 2 * MEMBERS
    assert await count("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'MATURE'") == (
        2 * MEMBERS
    )
    assert await count("SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NULL") == (
        2 * MEMBERS
    )
    assert await verify_ledger() == []


async def test_two_celebration_and_warning_runs_at_once_do_each_thing_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS", expiryWarningDays=7)
    await action_rule(api, "BIRTHDAY", 50)
    clock.set(datetime(2030, 2, 15, 12, 0, tzinfo=UTC))
    await members_with_lots(api, clock)
    # Everyone's birthday, three days before their lots expire.
    clock.set(datetime(2030, 3, 14, 12, 0, tzinfo=UTC))

    results = await asyncio.gather(
        award_celebrations(clock.now(), SilentProgress(), batch_size=2),
        award_celebrations(clock.now(), SilentProgress(), batch_size=5),
        send_expiry_warnings(clock.now(), SilentProgress(), batch_size=2),
        send_expiry_warnings(clock.now(), SilentProgress(), batch_size=5),
    )

    assert sum(r.get("birthdays", 0) for r in results) == MEMBERS
    assert sum(r.get("warnings", 0) for r in results) == MEMBERS
    assert await count("SELECT COUNT(*) AS n FROM action_records") == MEMBERS
    assert sum(r.get("announced", 0) for r in results) == MEMBERS
    assert (
        await count("SELECT COUNT(*) AS n FROM outbox_events WHERE type = 'member.birthday'")
        == MEMBERS
    )
    assert (
        await count("SELECT COUNT(*) AS n FROM outbox_events WHERE type = 'points.expiring'")
        == MEMBERS
    )
    assert await verify_ledger() == []


async def test_a_job_whose_lock_another_runner_holds_is_skipped(
    api: Api, clock: ManualClock, backend: str, settings: Settings
) -> None:
    await create_program(api)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS")
    await members_with_lots(api, clock)
    clock.advance(30 * DAY)
    if backend == "sqlite":
        # One writer and no lock: every run runs, and the second finds nothing left.
        first = await run_job(JobName.EXPIRE, clock.now())
        second = await run_job(JobName.EXPIRE, clock.now())
        assert (first.ran, second.ran) == (True, True)
        assert second.summary == {"members": 0, "points": 0}
        await assert_each_member_expired_once()
        return

    other_server = await asyncpg.connect(settings.database_url)
    try:
        held = await other_server.fetchval(
            "SELECT pg_try_advisory_lock($1)", _lock_key(JobName.EXPIRE)
        )
        assert held is True
        skipped = await run_job(JobName.EXPIRE, clock.now())
        other_job = await run_job(JobName.MATURE, clock.now())
        await other_server.fetchval("SELECT pg_advisory_unlock($1)", _lock_key(JobName.EXPIRE))
    finally:
        await other_server.close()
    ran = await run_job(JobName.EXPIRE, clock.now())

    assert (skipped.ran, skipped.summary) == (False, {})
    assert describe(skipped) == "expire: skipped, another runner holds it"
    assert other_job.ran
    assert ran.summary == {"members": MEMBERS, "points": MEMBERS * 11}
    await assert_each_member_expired_once()
