"""Guest orders: orders of customers who are not members, and their credit at enrolment.

A guest order is recorded like any order (idempotent by its order id, refundable) with no
member, no points and no event (app/services/orders/service.py). What it would have earned for
a new member, under the rules of the moment it was placed, is stored with it (`creditable`).

When the customer enrols, their guest orders placed at most `retro_credit_days` days before the
enrolment (the program's setting; 0, the default, credits none) and not refunded in any part
become the new member's orders and earn what was stored: pending until the return window
(`pending_days` from delivery, else from placing) closes, like any order's points. Older guest
orders, and guest orders refunded before the enrolment, stay guest orders. Referral rewards and
punch cards are not moved by a credited order (it was placed before the member joined).

A guest order and the enrolment of its customer take one advisory lock (PostgreSQL; SQLite has
one writer), so an order reported while its customer enrols is either credited by the
enrolment or recorded as the member's. The credit itself is app/services/orders/credit.py.
"""

from __future__ import annotations

import zlib

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_one, lock_until_commit

CUSTOMER_LOCK_CLASS = 0x4C47


def _customer_key(program_id: int, customer_id: str) -> int:
    """A signed 32-bit key for the customer's advisory lock (collisions only serialise)."""
    return zlib.crc32(f"{program_id}:{customer_id}".encode()) - 2**31


async def lock_customer(conn: BaseDBAsyncClient, program_id: int, customer_id: str) -> None:
    await lock_until_commit(conn, CUSTOMER_LOCK_CLASS, _customer_key(program_id, customer_id))


async def is_member(conn: BaseDBAsyncClient, program_id: int, customer_id: str) -> bool:
    row = await fetch_one(
        conn,
        "SELECT id FROM members WHERE program_id = ? AND customer_id = ?",
        (program_id, customer_id),
    )
    return row is not None
