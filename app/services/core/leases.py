"""Job leases: a job taken by a runner that then died is taken again by the next one.

A runner claims a job (an import upload or a bulk operation) with one guarded update: QUEUED, or
RUNNING with a lease that has passed. The claim sets `lease_until` LEASE_SECONDS ahead and adds
one to `claims`; while the job runs, a task renews the lease every RENEW_SECONDS. A runner
killed outright (SIGKILL, a lost machine) renews nothing, so its lease passes and the next
runner resumes the job where its progress says (imports and bulk operations do nothing twice:
app/jobs/imports.py, app/jobs/bulk.py). A runner that was only slow, and whose job was taken
over meanwhile, finds its renewal refused (`claims` moved on) and stops at the next item.

The lease is read on the process's clock (app/clock.py), so tests move it instead of waiting.
A RUNNING job without a lease (claimed before leases existed) counts as expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.db import connection, fetch_one, utc_now
from app.db import execute as run_statement

log = logging.getLogger("laurel.jobs")

# How long a claim holds without renewal: three missed renewals before another runner takes it.
LEASE_SECONDS = float(os.environ.get("LAUREL_JOB_LEASE_SECONDS", "90"))
RENEW_SECONDS = LEASE_SECONDS / 3

# The tables whose rows are jobs with leases (a fixed list: the name goes into SQL text).
LEASED_TABLES = frozenset({"import_jobs", "bulk_operations"})

_CLAIMABLE = (
    "(status = 'QUEUED' OR (status = 'RUNNING' AND (lease_until IS NULL OR lease_until < ?)))"
)


def _table(name: str) -> str:
    if name not in LEASED_TABLES:
        raise ValueError(f"{name} holds no leased jobs")
    return name


async def claim_job(table: str, columns: str, job_id: int | None = None) -> dict[str, Any] | None:
    """The oldest job of `table` (or job `job_id`) that is queued or whose runner's lease has
    passed, now RUNNING for this runner alone (its `columns`, with `claims`); None when there
    is none."""
    table = _table(table)
    only = "" if job_id is None else " AND id = ?"
    only_params: tuple[int, ...] = () if job_id is None else (job_id,)
    while True:
        now = utc_now()
        candidate = await fetch_one(
            connection(),
            f"SELECT id FROM {table} WHERE {_CLAIMABLE}{only} ORDER BY id LIMIT 1",
            (now, *only_params),
        )
        if candidate is None:
            return None
        claimed = await fetch_one(
            connection(),
            f"UPDATE {table} SET status = 'RUNNING', claims = claims + 1, lease_until = ?,"
            f" updated_at = ? WHERE id = ? AND {_CLAIMABLE} RETURNING {columns}, claims",
            (now + timedelta(seconds=LEASE_SECONDS), now, candidate["id"], now),
        )
        if claimed is not None:
            return claimed
        # Another runner took it between the two statements: look again.


class LeaseLostError(Exception):
    """This runner's job was taken over by another runner: stop without reporting."""


@dataclass
class Lease:
    """A claimed job's lease, renewed by `held` while the job runs."""

    table: str
    job_id: int
    claims: int
    lost: bool = False

    async def renew(self) -> bool:
        """Push the lease on; False (and `lost`) when another runner has taken the job."""
        table = _table(self.table)
        now = utc_now()
        changed = await run_statement(
            connection(),
            f"UPDATE {table} SET lease_until = ?"
            " WHERE id = ? AND claims = ? AND status = 'RUNNING'",
            (now + timedelta(seconds=LEASE_SECONDS), self.job_id, self.claims),
        )
        if changed == 0:
            self.lost = True
        return not self.lost

    async def _renew_forever(self, every: float) -> None:
        while not self.lost:
            await asyncio.sleep(every)
            try:
                await self.renew()
            except Exception:
                # A missed renewal is survivable (the lease has two more in hand); the next
                # one tries again.
                log.exception("renewing the lease of %s %s failed", self.table, self.job_id)

    @contextlib.asynccontextmanager
    async def held(self, every: float = RENEW_SECONDS) -> AsyncIterator[Lease]:
        """Renew the lease every `every` seconds until the block ends."""
        renewer = asyncio.create_task(self._renew_forever(every))
        try:
            yield self
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
