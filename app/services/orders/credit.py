"""The credit of guest orders at enrolment (the rules: app/services/orders/guests.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_all, fetch_one, from_json
from app.domain.expiry import local_date
from app.domain.tiers import TierChangeReason
from app.services.analytics import rollups
from app.services.orders.guests import lock_customer
from app.services.orders.service import OrderRecord, earn_order_points, order_row
from app.services.programs.service import ProgramRecord
from app.services.tiers.service import on_member_activity as on_tier_activity


async def credit_guest_orders(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    *,
    member_id: int,
    customer_id: str,
    now: datetime,
) -> int:
    """Credit the customer's guest orders in the window to the member enrolled now; returns
    how many were credited. Runs in the enrolment's transaction."""
    await lock_customer(conn, program.id, customer_id)
    if program.retro_credit_days <= 0:
        return 0
    rows = await fetch_all(
        conn,
        f"SELECT {order_row.columns} FROM orders WHERE program_id = ? AND customer_id = ?"
        " AND member_id IS NULL AND status = 'PLACED' AND refunded_minor = 0"
        " AND placed_at >= ? ORDER BY placed_at, id",
        (program.id, customer_id, now - timedelta(days=program.retro_credit_days)),
    )
    for row in rows:
        order = order_row(row)
        stored: dict[str, Any] = from_json(row["earning"]) or {}
        creditable: dict[str, Any] = stored.get("creditable") or {
            "points": 0,
            "baseMinor": 0,
            "lines": [],
            "orderComponents": [],
        }
        points = int(creditable["points"])
        await fetch_one(
            conn,
            "UPDATE orders SET member_id = ?, points_earned = ?, earning = ?"
            " WHERE id = ? RETURNING id",
            (member_id, points, json.dumps(creditable, separators=(",", ":")), order.id),
        )
        order = replace(order, member_id=member_id, points_earned=points, earning=creditable)
        await _move_to_members(conn, program, order)
        since = order.fulfilled_at or order.placed_at
        await earn_order_points(conn, program, order, since, now)
    if rows:
        await on_tier_activity(
            conn,
            program_id=program.id,
            member_id=member_id,
            reason=TierChangeReason.ORDER,
            now=now,
        )
    return len(rows)


async def _move_to_members(
    conn: BaseDBAsyncClient, program: ProgramRecord, order: OrderRecord
) -> None:
    """The credited order leaves the guests' rollup of its day for the members', and the
    guest's activity rows of its month for the member's."""
    revenue = rollups.in_program_currency(
        order.total_minor, order.currency, program.currency, order.exchange_rate
    )
    day = local_date(order.placed_at, program.time_zone)
    counts = {
        **rollups.order_counts(
            member=False, channel=order.channel, orders=-1, revenue_minor=-revenue, refunded_minor=0
        ),
        **rollups.order_counts(
            member=True, channel=order.channel, orders=1, revenue_minor=revenue, refunded_minor=0
        ),
    }
    await rollups.add_rows(
        conn,
        program.id,
        rollups.rows_of(day, counts)
        + rollups.customer_order_rows(
            day, rollups.customer_key(None, order.customer_id), -1, -revenue
        )
        + rollups.customer_order_rows(day, rollups.customer_key(order.member_id, None), 1, revenue),
    )
