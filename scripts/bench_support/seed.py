"""Seed a migrated, empty database for `scripts/bench`; prints what it made as one JSON line.

Run as `python -m bench_support.seed` with DATABASE_URL set. The program and the three solo
members (1, 11 and 10,000 activities) go through the services; the 10,000 pool members are one
bulk insert (they hold no points, so they touch no ledger). The solo members' histories are
real orders, `record_order` through the services, so `laurel verify-ledger` holds afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from app.auth.api_keys import KeyKind, Principal
from app.config import Settings
from app.db import close_db, connection, fetch_one, init_db, is_postgres, utc_now
from app.domain.earning import RuleKind
from app.graphql.core.context import Context
from app.graphql.core.ids import encode_id
from app.graphql.schema import schema
from app.services.core.outbox_signal import OUTBOX_SIGNAL
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import RuleInput, create_earning_rule
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program
from bench_support.documents import MEMBER_STATUS_DOCUMENT, RECORD_ORDER_DOCUMENT

PROGRAM_SLUG = "bench"
CURRENCY = "EUR"
POOL_PREFIX = "bench-"
LIGHT_CUSTOMER = "solo-light"  # 1 activity
PAGE_CUSTOMER = "solo-page"  # 11 activities: a full first page, like the heavy member
HEAVY_CUSTOMER = "solo-heavy"  # 10,000 activities
_MEMBER_COLUMNS = (
    "program_id, customer_id, email, name, birthday, enrolled_at, points_available,"
    " points_pending, lifetime_earned, lifetime_redeemed"
)


class _StatementLog(logging.Handler):
    """Collects the SQL texts Tortoise's client logs (at DEBUG) before it runs them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.args[0] if isinstance(record.args, tuple) and record.args else record.msg
        # PostgreSQL gets `$1, $2...` (app/db/sql.py); compare in the services' own `?` spelling.
        self.statements.append(re.sub(r"\$\d+", "?", str(text)))


async def traced(work: Callable[[], Awaitable[object]]) -> list[str]:
    """The statements `work` runs, in order."""
    logger = logging.getLogger("tortoise.db_client")
    handler = _StatementLog()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        await work()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    return handler.statements


def pool_customer_id(index: int) -> str:
    return f"{POOL_PREFIX}{index:05d}"


def _order(customer_id: str, order_id: str) -> RecordOrderInput:
    return RecordOrderInput(
        program_slug=PROGRAM_SLUG,
        customer_id=customer_id,
        order_id=order_id,
        currency=CURRENCY,
        total_minor=1995 + 495,
        shipping_minor=495,
        lines=[OrderLineInput(sku="SKU-SEED", quantity=1, unit_price_minor=1995)],
        placed_at=utc_now() - timedelta(days=1),
    )


async def _record_orders(customer_id: str, count: int, prefix: str, concurrency: int) -> None:
    """`count` orders of one member through the services, a few at a time."""
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await record_order(_order(customer_id, f"{prefix}-{number}"), None)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _earning_rules(now: datetime) -> None:
    """Ten active rules, two of them campaigns running now, as a live program would have."""
    rules = (
        [
            RuleInput(
                name=f"Bonus on SKU-{n}",
                kind=RuleKind.BONUS_PER_UNIT,
                points=10 + n,
                include_skus=(f"SKU-{n}",),
            )
            for n in range(4)
        ]
        + [
            RuleInput(
                name=f"Double on category {n}",
                kind=RuleKind.MULTIPLIER,
                multiplier="2",
                include_categories=(f"category-{n}",),
            )
            for n in range(3)
        ]
        + [
            RuleInput(
                name="Big basket bonus",
                kind=RuleKind.BONUS_PER_ORDER,
                points=100,
                minimum_order_minor=10_000,
            ),
            RuleInput(
                name="Weekend campaign",
                kind=RuleKind.MULTIPLIER,
                multiplier="1.5",
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
            ),
            RuleInput(
                name="Seed SKU campaign",
                kind=RuleKind.BONUS_PER_UNIT,
                points=5,
                include_skus=("SKU-SEED",),
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                priority=10,
            ),
        ]
    )
    for rule in rules:
        await create_earning_rule(PROGRAM_SLUG, rule)


async def seed(pool_size: int, heavy_orders: int) -> dict[str, Any]:
    await init_db(Settings.from_env())
    try:
        program = await create_program(
            CreateProgramInput(
                slug=PROGRAM_SLUG,
                name="Bench Rewards",
                currency=CURRENCY,
                points_per_currency_unit=1,
            )
        )
        await _earning_rules(now=utc_now())
        conn = connection()
        placeholders = (
            ", ".join(f"${n}" for n in range(1, 11)) if is_postgres(conn) else ", ".join("?" * 10)
        )
        now = utc_now()
        rows: list[list[Any]] = [
            [program.id, pool_customer_id(i), None, None, None, now, 0, 0, 0, 0]
            for i in range(pool_size)
        ]
        await conn.execute_many(
            f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES ({placeholders})", rows
        )
        first_pk = await _pool_first_pk(program.id, pool_size)
        light = await enroll_member(
            EnrollMemberInput(program_slug=PROGRAM_SLUG, customer_id=LIGHT_CUSTOMER), None
        )
        page = await enroll_member(
            EnrollMemberInput(program_slug=PROGRAM_SLUG, customer_id=PAGE_CUSTOMER), None
        )
        heavy = await enroll_member(
            EnrollMemberInput(program_slug=PROGRAM_SLUG, customer_id=HEAVY_CUSTOMER), None
        )
        await _record_orders(LIGHT_CUSTOMER, 1, "seed-light", 1)
        await _record_orders(PAGE_CUSTOMER, 11, "seed-page", 1)
        await _record_orders(HEAVY_CUSTOMER, heavy_orders, "seed-heavy", 4)
        # What the floor must mirror: the statements that one request of each document runs
        # through the schema, as a secret key of the program (its key lookup is cached).
        context = Context(principal=Principal(key_id=0, kind=KeyKind.SECRET, program_id=program.id))
        order_input = {
            "programSlug": PROGRAM_SLUG,
            "customerId": pool_customer_id(0),
            "orderId": "seed-trace",
            "currency": CURRENCY,
            "totalMinor": 2495,
            "shippingMinor": 495,
            "placedAt": "2025-01-15T10:00:00Z",
            "lines": [{"sku": "SKU-1", "quantity": 1, "unitPriceMinor": 2000}],
        }
        record_sql = await traced(
            lambda: _execute(RECORD_ORDER_DOCUMENT, {"input": order_input}, context)
        )
        # The order's NOTIFY (PostgreSQL) goes out after its commit: not the read's statement.
        await OUTBOX_SIGNAL.settled()
        status_sql = await traced(
            lambda: _execute(MEMBER_STATUS_DOCUMENT, {"id": encode_id("Member", heavy.id)}, context)
        )
        return {
            "program_id": program.id,
            "program_slug": PROGRAM_SLUG,
            "currency": CURRENCY,
            "pool_prefix": POOL_PREFIX,
            "pool_size": pool_size,
            "pool_first_pk": first_pk,
            "light_pk": light.id,
            "page_pk": page.id,
            "heavy_pk": heavy.id,
            "heavy_orders": heavy_orders,
            "record_order_sql": record_sql,
            "member_status_sql": status_sql,
        }
    finally:
        await close_db()


async def _execute(document: str, variables: dict[str, Any], context: Context) -> None:
    result = await schema.execute(document, variable_values=variables, context_value=context)
    if result.errors or not result.data or 'userErrors":[{' in json.dumps(result.data):
        raise SystemExit(f"traced request failed: {result.errors or result.data}")


async def _pool_first_pk(program_id: int, pool_size: int) -> int:
    """The pool members' primary keys are contiguous, in customer-id order: check it."""
    conn = connection()
    bounds = await fetch_one(
        conn,
        "SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM members WHERE program_id = ?",
        (program_id,),
    )
    assert bounds is not None
    lo, hi, n = int(bounds["lo"]), int(bounds["hi"]), int(bounds["n"])
    if n != pool_size or hi - lo + 1 != pool_size:
        raise SystemExit(f"pool members are not contiguous: ids {lo}..{hi}, {n} rows")
    for index in (0, pool_size // 2, pool_size - 1):
        member = await fetch_one(
            conn, "SELECT customer_id FROM members WHERE id = ?", (lo + index,)
        )
        if member is None or member["customer_id"] != pool_customer_id(index):
            raise SystemExit(f"pool member {lo + index} is not {pool_customer_id(index)}")
    return lo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pool-size", type=int, default=10_000)
    parser.add_argument("--heavy-orders", type=int, default=10_000)
    args = parser.parse_args()
    info = asyncio.run(seed(args.pool_size, args.heavy_orders))
    sys.stdout.write(json.dumps(info) + "\n")


if __name__ == "__main__":
    main()
