"""A real Laurel on 127.0.0.1 in a background thread, for tests that drive it as outside clients
do (Schemathesis, Apollo Client in Node, the `gql` client): the demo program on a fresh SQLite
file, its keys with limits out of the way, and a member token for the demo's Alice.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.config import Settings
from app.db import apply_migrations, close_db, init_db
from app.main import create_app

START_SECONDS = 20


@dataclass(frozen=True)
class LiveServer:
    url: str
    admin_key: str
    publishable_key: str
    member_token: str
    # Admin keys with a staff role (app/domain/roles.py), by role: "support" (adjusts at most
    # SUPPORT_POINTS_LIMIT points), "marketing", "read_only".
    staff_keys: dict[str, str] = field(default_factory=dict)

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def member_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.publishable_key}",
            "X-Member-Token": self.member_token,
        }


SUPPORT_POINTS_LIMIT = 100


async def seed_demo_program(settings: Settings) -> tuple[str, str, str]:
    """The demo's admin and publishable keys and a member token of Alice."""
    admin, publishable, token, _ = await seed_demo_with_staff(settings)
    return admin, publishable, token


async def seed_demo_with_staff(settings: Settings) -> tuple[str, str, str, dict[str, str]]:
    """`seed_demo_program`, and a staff key of each role but the owner's, by role."""
    from app.auth.api_keys import KeyKind
    from app.domain.roles import StaffRole
    from app.services.access.api_keys import create_api_key, list_api_keys, set_rate_limit
    from app.services.access.member_tokens import create_member_token
    from app.services.demo.service import seed_demo

    await apply_migrations(settings)
    await init_db(settings)
    try:
        keys = await seed_demo()
        staff = {}
        for role in (StaffRole.SUPPORT, StaffRole.MARKETING, StaffRole.READ_ONLY):
            limit = SUPPORT_POINTS_LIMIT if role is StaffRole.SUPPORT else None
            created = await create_api_key(
                KeyKind.ADMIN, None, f"demo {role}", role=role, points_adjustment_limit=limit
            )
            staff[role.value] = created.secret
        for key in await list_api_keys():
            await set_rate_limit(key.id, 10_000.0, 10_000)
        token = await create_member_token("demo", "cust-alice", None, None)
        return keys.admin, keys.publishable, token.token, staff
    finally:
        await close_db()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(directory: Path, **overrides: Any) -> Iterator[LiveServer]:
    """`overrides`: settings other than the defaults (load shedding, limits)."""
    database = directory / "laurel.sqlite3"
    settings = replace(
        Settings(database_url=f"sqlite://{database}"),
        **{"api_key_cache_seconds": 60.0, **overrides},
    )
    # Seeded on a thread of its own: the caller may be inside a running event loop (Playwright's
    # sync API keeps one on the main thread), where asyncio.run refuses to start.
    with ThreadPoolExecutor(max_workers=1) as seeding:
        admin, publishable, token, staff = seeding.submit(
            asyncio.run, seed_demo_with_staff(settings)
        ).result()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while not healthy(url):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the test server did not start within {START_SECONDS} s")
            time.sleep(0.1)
        yield LiveServer(url, admin, publishable, token, staff)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
