"""SQLite group commit (app/db/group_commit.py `SqliteGroupCommit`): transactions that wait
while a batch is open run in it, each in its own savepoint, and share its one COMMIT.

A batch is held open here by a transaction that waits on an event, so that the others queue
behind it for certain; each test then checks what the batch kept, what it refused, in which
order, and that nothing was acknowledged before its COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.exceptions import TransactionManagementError

from app.db import (
    connection,
    execute,
    fetch_all,
    fetch_one,
    group_commit_counts,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import Account, TransactionKind
from app.services.ledger.service import Movement, post_movement
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

WAIT_SECONDS = 60
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("group commit is SQLite's: PostgreSQL commits each connection's own")


async def _shop(*customers: str) -> dict[str, int]:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    members = {}
    for customer in customers:
        member = await enroll_member(
            EnrollMemberInput(program_slug="shop", customer_id=customer), None
        )
        members[customer] = member.id
    return members


def _order(customer: str, order_id: str, unit_minor: int = 1000, currency: str = "EUR") -> Any:
    return RecordOrderInput(
        program_slug="shop",
        customer_id=customer,
        order_id=order_id,
        currency=currency,
        total_minor=unit_minor,
        lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=unit_minor)],
        placed_at=utc_now() - timedelta(hours=1),
    )


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():  # noqa: ASYNC110 - the conditions are counters, not events
            await asyncio.sleep(0.005)


@asynccontextmanager
async def _open_batch() -> AsyncIterator[list[BaseException]]:
    """A transaction that holds a batch open until the block ends (it writes nothing); the
    list gets its error, if any."""
    release = asyncio.Event()
    opened = asyncio.Event()

    async def holder() -> None:
        async with in_transaction() as conn:
            await fetch_one(conn, "SELECT 1 AS one")
            opened.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await opened.wait()
    errors: list[BaseException] = []
    try:
        yield errors
    finally:
        release.set()
        errors += [
            outcome
            for outcome in await asyncio.gather(task, return_exceptions=True)
            if isinstance(outcome, BaseException)
        ]


async def _queued(*work: Awaitable[Any]) -> list[asyncio.Task[Any]]:
    """Start each piece of work in turn, once the one before waits in the batch."""
    tasks: list[asyncio.Task[Any]] = []
    for item in work:
        task = asyncio.ensure_future(item)
        tasks.append(task)
        await _until(
            lambda task=task: group_commit_counts().waiting >= len(tasks) or task.done()  # type: ignore[misc]
        )
    return tasks


async def _debit_after_a_write(member_id: int, points: int) -> None:
    async with in_transaction() as conn:
        await execute(conn, "UPDATE members SET name = 'debited' WHERE id = ?", (member_id,))
        await post_movement(
            conn,
            Movement(
                program_id=1,
                member_id=member_id,
                kind=TransactionKind.ADJUST,
                points=-points,
                counter_account=Account.PROGRAM_ADJUSTED,
                member_account=Account.MEMBER_AVAILABLE,
                description="debit",
            ),
            utc_now(),
        )


async def test_a_refused_transaction_rolls_back_alone_and_the_batch_commits_the_others(
    db: None, sqlite_only: None
) -> None:
    members = await _shop("ann", "bob", "cid")
    first = await record_order(_order("ann", "taken", 1000), None)
    before = group_commit_counts()

    async with _open_batch() as holder_errors:
        tasks = await _queued(
            record_order(_order("ann", "a-1", 1000), None),
            # A debit the member cannot pay, refused by the ledger after a first write.
            _debit_after_a_write(members["bob"], 50),
            record_order(_order("bob", "b-1", 2000), None),
            # The same new order reported again with other content: it looked before b-1 was
            # committed, and its INSERT meets b-1's row inside the batch.
            record_order(_order("cid", "b-1", 999), None),
            record_order(_order("cid", "c-1", 3000), None),
        )
        # Refused before any transaction: the order is already recorded with other content,
        # and a currency the program has no rate for.
        duplicate = asyncio.ensure_future(record_order(_order("bob", "taken", 999), None))
        currency = asyncio.ensure_future(record_order(_order("cid", "c-2", 500, "XYZ"), None))
        refused_early = await asyncio.gather(duplicate, currency, return_exceptions=True)
        # Nothing of the batch is acknowledged, or visible to another connection, before it
        # commits.
        assert not any(task.done() for task in tasks)
        assert _committed_order_ids() == ["taken"]

    outcomes: list[Any] = await asyncio.gather(*tasks, return_exceptions=True)
    after = group_commit_counts()
    assert holder_errors == []

    assert [outcome.order.order_id for outcome in (outcomes[0], outcomes[2], outcomes[4])] == [
        "a-1",
        "b-1",
        "c-1",
    ]
    assert isinstance(outcomes[1], DomainError)
    assert outcomes[1].code is ErrorCode.INSUFFICIENT_POINTS
    assert isinstance(outcomes[3], DomainError)
    assert outcomes[3].code is ErrorCode.ORDER_ALREADY_RECORDED
    assert isinstance(refused_early[0], DomainError)
    assert refused_early[0].code is ErrorCode.ORDER_ALREADY_RECORDED
    assert isinstance(refused_early[1], DomainError)
    assert _committed_order_ids() == ["a-1", "b-1", "c-1", "taken"]
    balances = await fetch_all(
        connection(),
        "SELECT customer_id, name, points_available FROM members ORDER BY customer_id",
    )
    assert [(row["customer_id"], row["name"], row["points_available"]) for row in balances] == [
        ("ann", None, first.order.points_earned + 10),
        ("bob", None, 20),
        ("cid", None, 30),
    ]
    ledger = await fetch_all(
        connection(), "SELECT order_ref FROM ledger_transactions ORDER BY order_ref"
    )
    assert [row["order_ref"] for row in ledger] == ["a-1", "b-1", "c-1", "taken"]
    # One COMMIT for the holder and the five queued behind it, of which two were refused.
    assert after.batches - before.batches == 1
    assert after.transactions - before.transactions == 4


async def test_transactions_of_one_member_keep_their_order_inside_a_batch(
    db: None, sqlite_only: None
) -> None:
    await _shop("ann", "bob")
    # The program's configuration, read once (then cached) outside the batch.
    await record_order(_order("bob", "warm"), None)

    async with _open_batch() as holder_errors:
        tasks = await _queued(
            *(record_order(_order("ann", f"o-{n}", 1000 * (n + 1)), None) for n in range(5))
        )
    await asyncio.gather(*tasks)
    assert holder_errors == []

    rows = await fetch_all(
        connection(),
        "SELECT order_ref, points FROM ledger_transactions WHERE order_ref LIKE 'o-%' ORDER BY id",
    )
    events = await fetch_all(
        connection(),
        "SELECT payload FROM outbox_events WHERE type = 'points.earned' AND member_id ="
        " (SELECT id FROM members WHERE customer_id = 'ann') ORDER BY id",
    )
    assert [(row["order_ref"], row["points"]) for row in rows] == [
        (f"o-{n}", 10 * (n + 1)) for n in range(5)
    ]
    assert [json.loads(row["payload"])["availableAfter"] for row in events] == [
        10,
        30,
        60,
        100,
        150,
    ]


async def test_a_failure_that_ends_the_database_transaction_fails_the_whole_batch(
    db: None, sqlite_only: None
) -> None:
    await _shop("ann")

    async def ends_the_transaction() -> None:
        async with in_transaction() as conn:
            await execute(conn, "UPDATE members SET name = 'x' WHERE customer_id = 'ann'")
            # What SQLite does on some errors (a full disk, an I/O error): the whole
            # transaction is gone, savepoints and all.
            await conn.execute_query("ROLLBACK")
            raise RuntimeError("the transaction was rolled back under this one")

    await record_order(_order("ann", "warm"), None)
    async with _open_batch() as holder_errors:
        tasks = await _queued(
            record_order(_order("ann", "kept-1"), None),
            ends_the_transaction(),
            record_order(_order("ann", "after"), None),
        )
    outcomes: list[Any] = await asyncio.gather(*tasks, return_exceptions=True)

    # The order before the failure (and the holder) were never acknowledged: they failed with
    # the batch, and the order after ran in the next batch.
    assert [type(error) for error in holder_errors] == [TransactionManagementError]
    assert isinstance(outcomes[0], TransactionManagementError)
    assert isinstance(outcomes[1], RuntimeError)
    assert outcomes[2].order.order_id == "after"
    assert _committed_order_ids() == ["after", "warm"]


def _committed_order_ids() -> list[str]:
    """What another connection (another process) sees committed."""
    path = getattr(connection(), "filename", None)
    assert isinstance(path, str)
    with sqlite3.connect(path) as reader:
        return [row[0] for row in reader.execute("SELECT order_id FROM orders ORDER BY order_id")]


CRASHING_PROCESS = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import timedelta
    from tortoise import Tortoise
    from app.config import Settings
    from app.db import fetch_one, group_commit_counts, in_transaction, tortoise_config, utc_now
    from app.services.orders.cart import OrderLineInput
    from app.services.orders.service import RecordOrderInput, record_order

    def order(order_id):
        line = OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=1000)
        return RecordOrderInput(
            program_slug="shop", customer_id="ann", order_id=order_id, currency="EUR",
            total_minor=1000, lines=[line], placed_at=utc_now() - timedelta(hours=1),
        )

    async def main():
        await Tortoise.init(config=tortoise_config(Settings.from_env()))
        # A first batch, committed and acknowledged.
        first = [record_order(order(f"acked-{n}"), None) for n in range(3)]
        for recorded in await asyncio.gather(*first):
            print("acked", recorded.order.order_id, flush=True)
        # A second batch: three orders run in it, then a last transaction holds it open, so
        # their rows are written but wait for a COMMIT that never comes.
        release_first, first_open, last_running = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def first_holder():
            async with in_transaction() as conn:
                await fetch_one(conn, "SELECT 1 AS one")
                first_open.set()
                await release_first.wait()

        async def last_holder():
            async with in_transaction() as conn:
                seen = await fetch_one(
                    conn, "SELECT COUNT(*) AS n FROM orders WHERE order_id LIKE 'open-%'"
                )
                print("written", seen["n"], flush=True)
                last_running.set()
                await asyncio.Event().wait()

        asyncio.ensure_future(first_holder())
        await first_open.wait()
        tasks = [asyncio.ensure_future(record_order(order(f"open-{n}"), None)) for n in range(3)]
        while group_commit_counts().waiting < 3:
            await asyncio.sleep(0.01)
        asyncio.ensure_future(last_holder())
        while group_commit_counts().waiting < 4:
            await asyncio.sleep(0.01)
        release_first.set()
        await last_running.wait()
        for task in tasks:
            if task.done():
                print("acked", task.result().order.order_id, flush=True)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_a_crash_before_the_batch_commits_keeps_every_acknowledged_order_and_none_other(
    db: None, sqlite_only: None, database_url: str
) -> None:
    await _shop("ann")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_PROCESS,
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    acknowledged: list[str] = []
    written = 0
    try:
        assert process.stdout is not None
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), WAIT_SECONDS)).decode()
            if not line:
                problem = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"the process ended: {problem.decode()}")
            if line.strip() == "ready":
                break
            what, value = line.split()
            if what == "written":
                written = int(value)
            else:
                acknowledged.append(value)
        # The orders of the open batch wait for its COMMIT: kill the process now.
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WAIT_SECONDS)

    kept = _committed_order_ids()
    # The batch held the three orders' rows, never acknowledged; the crash left none of them.
    assert written == 3
    assert acknowledged == ["acked-0", "acked-1", "acked-2"]
    assert kept == ["acked-0", "acked-1", "acked-2"]
    transactions = await fetch_all(
        connection(), "SELECT order_ref FROM ledger_transactions ORDER BY order_ref"
    )
    assert [row["order_ref"] for row in transactions] == kept
