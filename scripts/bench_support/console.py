"""The console's page load on a big program (scripts/bench-console), on PostgreSQL: a program of
`--members` members (1,000,000 by default, seeded in bulk as bench-members does), Laurel on
127.0.0.1, and Debian's Chromium driven by Playwright opening each console page `--rounds`
times in a signed-in tab.

For each page it times, from the navigation to the page's content being on screen (its data
loaded and drawn): a full load of /console (the HTML, the modules from the browser's cache
after the first round, the API requests of the page), and prints the median and the slowest.
The figures are reported, not asserted (machines differ); the issue's aim is under 1 s.

The cohort heat map reads the per-customer activity rows (analytics_days), which the bulk seed
of members does not write: the run adds them for every member (an enrolment month among the
last twelve, and an order in about one month of four since), so that the heat map's query has a
million customers to group.
Exit 2 when it cannot run. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.db import close_db, init_db, normalise_url
from app.main import create_app
from app.services.access.api_keys import create_api_key, set_rate_limit
from bench_support.jobs_main import drop
from bench_support.members import seed
from bench_support.seeding import (
    DEFAULT_ADMIN_URL,
    fresh_database,
    with_database,
)
from tests.live_server import free_port, healthy

DATABASE = "laurel_console_bench"
CHROMIUM = Path(os.environ.get("LAUREL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]
# Each page's route and what is on screen once its data has arrived.
PAGES = [
    ("overview", ".plot canvas"),
    ("overview-cohorts", "table[data-heatmap] tbody tr"),
    ("members", 'table[aria-label="Members"] tbody tr'),
    ("members-search", 'table[aria-label="Members"] tbody tr:has-text("Sara")'),
    ("member", "table[data-ledger]"),
    # The deliveries section once its answer is in: the list, or the line saying there is none.
    ("member-deliveries", '[aria-labelledby="deliveries-title"] :is(table, p:not(.loading))'),
    ("program", 'table[aria-labelledby="rewards-title"]'),
    ("audit", 'table[aria-label="Audit log"]'),
]


# Every member's enrolment month (one of the last twelve, by id) and, in about one month of four
# from it to this one, an order of 25.00: the rows the writes keep (app/services/analytics).
SEED_ACTIVITY = (
    """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
SELECT program_id, (date_trunc('month', now()) - (id % 12) * interval '1 month')::date,
    'customer_enrolled', 'm:' || id, 1, 0
FROM members WHERE program_id = $1
""",
    """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
SELECT m.program_id,
    (date_trunc('month', now()) - (m.id % 12 - k) * interval '1 month')::date,
    v.metric, 'm:' || m.id, v.value, 0
FROM members m, generate_series(0, m.id % 12) AS k,
    (VALUES ('customer_orders', 1), ('customer_revenue_minor', 2500)) AS v(metric, value)
WHERE m.program_id = $1 AND (m.id * 31 + k * 17) % 4 = 0
""",
)


async def seed_activity(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        program_id = await conn.fetchval("SELECT id FROM programs WHERE slug = 'shop'")
        for statement in SEED_ACTIVITY:
            await conn.execute(statement, program_id)
        await conn.execute("ANALYZE analytics_days")
        rows = await conn.fetchval("SELECT count(*) FROM analytics_days")
        log(f"seeded {rows:,} activity rows in {time.perf_counter() - started:.0f} s")
    finally:
        await conn.close()


# How long a page may take to show its data before the run gives up: well above the aim, as
# a slow page is a figure to report (the cohort heat map's query grows with the members).
READY_TIMEOUT_MS = 120_000


def log(message: str) -> None:
    print(f"[bench-console {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def admin_key(url: str) -> tuple[str, int]:
    await init_db(Settings(database_url=url))
    try:
        created = await create_api_key(KeyKind.ADMIN, None, "console bench")
        await set_rate_limit(created.id, 100_000.0, 100_000)
        from app.db import connection, fetch_one

        row = await fetch_one(connection(), "SELECT max(id) AS id FROM members")
        assert row is not None
        return created.secret, int(row["id"])
    finally:
        await close_db()


def measure(base: str, key: str, newest_member: int, rounds: int) -> list[tuple[str, list[float]]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from app.domain.ids import encode_id

    routes = {
        "overview": "overview",
        "overview-cohorts": "overview",
        "members": "members",
        "members-search": "members",
        "member": f"members/{encode_id('Member', newest_member)}",
        "member-deliveries": f"members/{encode_id('Member', newest_member)}",
        "program": "program",
        "audit": "audit",
    }
    results: list[tuple[str, list[float]]] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/console")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
        for name, ready in PAGES:
            timings = []
            for _ in range(rounds + 1):  # the first round fills the browser's cache
                page.goto("about:blank")
                started = time.perf_counter()
                page.goto(f"{base}/console#/{routes[name]}")
                if name == "members-search":
                    # From the click on Search to the matches on screen.
                    page.locator('table[aria-label="Members"] tbody tr').first.wait_for(
                        timeout=30_000
                    )
                    started = time.perf_counter()
                    page.get_by_label("Search").fill("sara")
                    page.get_by_role("button", name="Search").click()
                try:
                    page.locator(ready).first.wait_for(timeout=READY_TIMEOUT_MS)
                except PlaywrightTimeout:
                    # Reported as a page that did not show its data (an API error is shown
                    # instead, or nothing): the run goes on to the other pages.
                    log(f"{name}: no data on screen after {READY_TIMEOUT_MS / 1000:.0f} s")
                    timings.append(float("inf"))
                    break
                timings.append((time.perf_counter() - started) * 1000)
            results.append((name, timings[1:] or timings))
            log(f"{name}: median {statistics.median(timings[1:] or timings):.0f} ms")
        browser.close()
    return results


def shown(ms: float) -> str:
    return f"{ms:.0f}" if ms != float("inf") else f"none in {READY_TIMEOUT_MS // 1000} s"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench-console", description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database a --keep run left (no new seeding)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    if not CHROMIUM.exists():
        print(
            f"bench-console: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr
        )
        return 2
    if options.reuse:
        url = with_database(
            normalise_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)), DATABASE
        )
    else:
        fresh = fresh_database("bench-console", DATABASE)
        if fresh is None:
            return 2
        url = fresh
    try:
        if not options.reuse:
            asyncio.run(seed(url, options.members))
            asyncio.run(seed_activity(url))
        key, newest = asyncio.run(admin_key(url))
        settings = Settings(database_url=url)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not healthy(base):
            if time.monotonic() > deadline:
                print("bench-console: the server did not start", file=sys.stderr)
                return 2
            time.sleep(0.1)
        try:
            results = measure(base, key, newest, options.rounds)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        if not options.keep:
            drop(url)
    print(f"Console page loads, {options.members:,} members, {options.rounds} rounds (ms):")
    print("| page | median | slowest |")
    print("|---|---:|---:|")
    for name, timings in results:
        print(f"| {name} | {shown(statistics.median(timings))} | {shown(max(timings))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
