"""Recompute every balance from the ledger entries and report each disagreement.

Store credit is checked like points: the cached `store_credit_minor` against the sum of the
member's MEMBER_STORE_CREDIT entries, each store-credit transaction on store-credit accounts
only (never mixed with points), each history row against its entry, and each spend's refunded
amount against its refunds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, execute, fetch_all, fetch_one, in_transaction, is_postgres
from app.domain.ledger import STORE_CREDIT_KINDS

_CREDIT_KINDS = ", ".join(f"'{kind.value}'" for kind in sorted(STORE_CREDIT_KINDS))

# Each member's cached balances against the sums of their entries and of their point lots,
# compared in the database: only the members that disagree come back, so memory does not grow
# with the members or the entries.
_MEMBER_BALANCES = """
SELECT id, customer_id, points_available, points_pending, lifetime_earned, lifetime_redeemed,
       points_debt, store_credit_minor, ledger_available, ledger_pending, ledger_earned,
       ledger_redeemed, ledger_debt, ledger_store_credit, lots_available, lots_pending
FROM (
    SELECT m.id, m.customer_id, m.points_available, m.points_pending, m.lifetime_earned,
           m.lifetime_redeemed, m.points_debt, m.store_credit_minor,
           COALESCE(e.available, 0) AS ledger_available,
           COALESCE(e.pending, 0) AS ledger_pending,
           COALESCE(e.earned, 0) AS ledger_earned,
           COALESCE(e.redeemed, 0) AS ledger_redeemed,
           COALESCE(e.debt, 0) AS ledger_debt,
           COALESCE(e.store_credit, 0) AS ledger_store_credit,
           COALESCE(l.available, 0) AS lots_available,
           COALESCE(l.pending, 0) AS lots_pending
    FROM members m
    LEFT JOIN (
        SELECT member_id,
               SUM(CASE WHEN account = 'MEMBER_AVAILABLE' THEN amount ELSE 0 END) AS available,
               SUM(CASE WHEN account = 'MEMBER_PENDING' THEN amount ELSE 0 END) AS pending,
               -SUM(CASE WHEN account = 'PROGRAM_ISSUED' THEN amount ELSE 0 END) AS earned,
               SUM(CASE WHEN account = 'PROGRAM_REDEEMED' THEN amount ELSE 0 END) AS redeemed,
               -SUM(CASE WHEN account = 'MEMBER_DEBT' THEN amount ELSE 0 END) AS debt,
               SUM(CASE WHEN account = 'MEMBER_STORE_CREDIT' THEN amount ELSE 0 END)
                   AS store_credit
        FROM ledger_entries GROUP BY member_id
    ) e ON e.member_id = m.id
    LEFT JOIN (
        SELECT member_id,
               SUM(CASE WHEN pending_until IS NULL THEN remaining ELSE 0 END) AS available,
               SUM(CASE WHEN pending_until IS NULL THEN 0 ELSE remaining END) AS pending
        FROM point_lots GROUP BY member_id
    ) l ON l.member_id = m.id
) AS balances
WHERE points_available <> ledger_available OR points_pending <> ledger_pending
   OR lifetime_earned <> ledger_earned OR lifetime_redeemed <> ledger_redeemed
   OR points_debt <> ledger_debt OR store_credit_minor <> ledger_store_credit
   OR lots_available <> ledger_available OR lots_pending <> ledger_pending
ORDER BY id
"""

# One pass over the entries in transaction order for both per-transaction checks: the sums
# (double entry, member side, store credit only on store-credit kinds) and the entries whose
# program or member is not their transaction's (counted here, listed by _MISPLACED_ENTRIES).
_TRANSACTION_CHECKS = f"""
SELECT t.id, t.points, COALESCE(SUM(e.amount), 0) AS total,
       COALESCE(SUM(CASE WHEN e.account LIKE 'MEMBER_%' AND e.account <> 'MEMBER_STORE_CREDIT'
                         THEN e.amount ELSE 0 END), 0) AS member_total,
       COUNT(e.id) AS entry_count,
       COALESCE(SUM(CASE WHEN e.account LIKE '%_STORE_CREDIT' THEN 1 ELSE 0 END), 0)
           AS credit_entries,
       CASE WHEN t.kind IN ({_CREDIT_KINDS}) THEN 1 ELSE 0 END AS credit_kind,
       COALESCE(SUM(CASE WHEN e.program_id <> t.program_id
                              OR e.member_id IS DISTINCT FROM t.member_id
                         THEN 1 ELSE 0 END), 0) AS misplaced
FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
GROUP BY t.id, t.points, t.kind
HAVING COALESCE(SUM(e.amount), 0) <> 0 OR COUNT(e.id) = 0
    OR COALESCE(SUM(CASE WHEN e.account LIKE 'MEMBER_%' AND e.account <> 'MEMBER_STORE_CREDIT'
                         THEN e.amount ELSE 0 END), 0) <> t.points
    OR COALESCE(SUM(CASE WHEN e.account LIKE '%_STORE_CREDIT' THEN 1 ELSE 0 END), 0)
       <> CASE WHEN t.kind IN ({_CREDIT_KINDS}) THEN COUNT(e.id) ELSE 0 END
    OR COALESCE(SUM(CASE WHEN e.program_id <> t.program_id
                              OR e.member_id IS DISTINCT FROM t.member_id
                         THEN 1 ELSE 0 END), 0) > 0
ORDER BY t.id
"""


def _is_unbalanced(row: dict[str, Any]) -> bool:
    credit_entries_expected = int(row["entry_count"]) if int(row["credit_kind"]) else 0
    return (
        int(row["total"]) != 0
        or int(row["entry_count"]) == 0
        or int(row["member_total"]) != int(row["points"])
        or int(row["credit_entries"]) != credit_entries_expected
    )


_ORDER_MISMATCHES = """
SELECT o.id, o.order_id, o.points_earned, COALESCE(t.points, 0) AS posted
FROM orders o LEFT JOIN ledger_transactions t ON t.id = o.transaction_id
WHERE o.points_earned <> COALESCE(t.points, 0) OR (t.id IS NOT NULL AND t.member_id <> o.member_id)
ORDER BY o.id
"""

_REDEMPTION_MISMATCHES = """
SELECT r.id, r.code, r.points_spent, t.points AS posted
FROM redemptions r JOIN ledger_transactions t ON t.id = r.transaction_id
WHERE t.points <> -r.points_spent OR t.member_id <> r.member_id
ORDER BY r.id
"""

_STORE_CREDIT_HISTORY_MISMATCHES = """
SELECT s.id, s.amount_minor, e.amount AS posted
FROM store_credit_movements s
LEFT JOIN ledger_entries e ON e.transaction_id = s.transaction_id
    AND e.account = 'MEMBER_STORE_CREDIT'
WHERE e.id IS NULL OR e.amount <> s.amount_minor OR e.member_id <> s.member_id
ORDER BY s.id
"""

_STORE_CREDIT_REFUND_MISMATCHES = """
SELECT s.id, s.refunded_minor, COALESCE(SUM(r.amount_minor), 0) AS refunds
FROM store_credit_movements s LEFT JOIN store_credit_movements r ON r.spend_id = s.id
WHERE s.kind = 'STORE_CREDIT_SPEND'
GROUP BY s.id, s.refunded_minor
HAVING s.refunded_minor <> COALESCE(SUM(r.amount_minor), 0)
ORDER BY s.id
"""

# A cancelled redemption gives back exactly what it spent, to its member, once; so does an
# expired one whose points came back.
_REVERSAL_MISMATCHES = """
SELECT r.id, r.code, r.points_spent, r.status, t.points AS posted
FROM redemptions r LEFT JOIN ledger_transactions t ON t.id = r.reversal_transaction_id
WHERE (r.reversal_transaction_id IS NOT NULL
       AND (t.points <> r.points_spent OR t.member_id <> r.member_id
            OR r.status NOT IN ('CANCELLED', 'EXPIRED')))
   OR (r.status = 'CANCELLED' AND r.reversal_transaction_id IS NULL)
ORDER BY r.id
"""

# The misplaced entries of the transactions _TRANSACTION_CHECKS flagged ({ids}: their ids).
_MISPLACED_ENTRIES = """
SELECT e.id, e.transaction_id
FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
WHERE e.transaction_id IN ({ids})
  AND (e.program_id <> t.program_id OR e.member_id IS DISTINCT FROM t.member_id)
ORDER BY e.id
"""
_MISPLACED_PAGE = 500


# Each query finds rows that disagree with what they should match; each row is one problem.
_ROW_MISMATCHES: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    (
        _STORE_CREDIT_HISTORY_MISMATCHES,
        lambda row: (
            f"store credit movement {row['id']}: says {row['amount_minor']}, its ledger entry"
            f" says {row['posted']} (or belongs to another member)"
        ),
    ),
    (
        _STORE_CREDIT_REFUND_MISMATCHES,
        lambda row: (
            f"store credit spend {row['id']}: says {row['refunded_minor']} refunded, its refunds"
            f" add up to {row['refunds']}"
        ),
    ),
    (
        _ORDER_MISMATCHES,
        lambda row: (
            f"order {row['order_id']}: says it earned {row['points_earned']},"
            f" its ledger transaction moved {row['posted']} (or belongs to another member)"
        ),
    ),
    (
        _REDEMPTION_MISMATCHES,
        lambda row: (
            f"redemption {row['code']}: spent {row['points_spent']},"
            f" its ledger transaction moved {row['posted']} (or belongs to another member)"
        ),
    ),
    (
        _REVERSAL_MISMATCHES,
        lambda row: (
            f"redemption {row['code']} ({row['status']}): spent {row['points_spent']},"
            f" its reversal moved {row['posted']} (or is missing, or belongs to another member)"
        ),
    ),
)


def _describe_unbalanced(row: dict[str, Any]) -> str:
    return (
        f"transaction {row['id']}: {row['entry_count']} entries summing to {row['total']},"
        f" member side {row['member_total']} but the transaction says {row['points']};"
        f" {row['credit_entries']} store-credit entries"
        f" ({'a store-credit' if int(row['credit_kind']) else 'a points'} kind)"
    )


def _member_problems(row: dict[str, Any]) -> Iterator[str]:
    who = f"member {row['id']} ({row['customer_id']})"
    for cached, recomputed, label in (
        ("points_available", "ledger_available", "available"),
        ("points_pending", "ledger_pending", "pending"),
        ("lifetime_earned", "ledger_earned", "lifetime earned"),
        ("lifetime_redeemed", "ledger_redeemed", "lifetime redeemed"),
        ("points_debt", "ledger_debt", "debt"),
        ("store_credit_minor", "ledger_store_credit", "store credit"),
    ):
        if int(row[cached]) != int(row[recomputed]):
            yield f"{who}: {label} is {row[cached]}, the entries say {row[recomputed]}"
    for lots, recomputed, label in (
        ("lots_available", "ledger_available", "available"),
        ("lots_pending", "ledger_pending", "pending"),
    ):
        if int(row[lots]) != int(row[recomputed]):
            yield (
                f"{who}: {label} point lots hold {row[lots]},"
                f" the entries say {row[recomputed]} {label}"
            )


async def _transaction_problems(conn: BaseDBAsyncClient) -> AsyncIterator[str]:
    flagged: list[int] = []
    for row in await fetch_all(conn, _TRANSACTION_CHECKS):
        if _is_unbalanced(row):
            yield _describe_unbalanced(row)
        if int(row["misplaced"]):
            flagged.append(int(row["id"]))
    for start in range(0, len(flagged), _MISPLACED_PAGE):
        page = flagged[start : start + _MISPLACED_PAGE]
        query = _MISPLACED_ENTRIES.format(ids=", ".join("?" * len(page)))
        for row in await fetch_all(conn, query, page):
            yield (
                f"entry {row['id']}: its program or member differs from transaction"
                f" {row['transaction_id']}"
            )


async def _problems(conn: BaseDBAsyncClient) -> AsyncIterator[str]:
    async for problem in _transaction_problems(conn):
        yield problem
    for query, describe in _ROW_MISMATCHES:
        for row in await fetch_all(conn, query):
            yield describe(row)
    total = await fetch_one(conn, "SELECT COALESCE(SUM(amount), 0) AS total FROM ledger_entries")
    if total is not None and int(total["total"]) != 0:
        yield f"the ledger as a whole sums to {total['total']}, not 0"
    postgres = is_postgres(conn)
    if postgres:
        # Summing every entry by member reads the whole table: in one sequential pass, not by
        # the (member, account) index, whose order visits the heap at random (entries are
        # stored in the order they were written) and took several times as long at 10,000,000.
        await execute(conn, "SET LOCAL enable_indexscan = off")
        await execute(conn, "SET LOCAL enable_bitmapscan = off")
    rows = await fetch_all(conn, _MEMBER_BALANCES)
    if postgres:
        await execute(conn, "SET LOCAL enable_indexscan = on")
        await execute(conn, "SET LOCAL enable_bitmapscan = on")
    for row in rows:
        for problem in _member_problems(row):
            yield problem


async def ledger_problems() -> AsyncIterator[str]:
    """Every mismatch between the ledger and what is cached or derived from it, one per line,
    as each check finds them. Every comparison runs in the database and only the rows that
    disagree come back, so a consistent ledger of any size costs the same little memory."""
    if not is_postgres(connection()):
        async for problem in _problems(connection()):
            yield problem
        return
    # PostgreSQL: one read-only transaction, so that the planner settings above stay local to
    # it, with room for the aggregates' hash tables (per sort or hash, a fixed bound).
    async with in_transaction() as conn:
        await execute(conn, "SET LOCAL work_mem = '64MB'")
        async for problem in _problems(conn):
            yield problem


async def verify_ledger() -> list[str]:
    """Every mismatch between the ledger and what is cached or derived from it, one per line."""
    return [problem async for problem in ledger_problems()]
