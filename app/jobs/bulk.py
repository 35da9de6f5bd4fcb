"""Running bulk operations: claimed from the queue (or resumed after a runner died), their
records applied in file order, stopped between members when cancelled.

The records before the operation's position were handled by an earlier runner: they are read
again only to know which members the file named already (a member is changed once per
operation), then the run goes on from the position. Each member's change and the position past
it commit together (app/services/bulk/apply.py), so a resumed operation does nothing twice and
its counts stay exact.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from app.domain.bulk import BulkRow, BulkStatus, read_rows
from app.jobs.progress import Progress, SilentProgress
from app.services.bulk import repository
from app.services.bulk.apply import Progress as OperationProgress
from app.services.bulk.apply import handle_record
from app.services.bulk.repository import BulkOperationRecord, ClaimedOperation
from app.services.core.leases import LeaseLostError
from app.services.programs.service import get_program

log = logging.getLogger("laurel.bulk")


async def run_claimed(
    claimed: ClaimedOperation,
    progress: Progress | None = None,
    after_record: Callable[[int], Awaitable[None]] | None = None,
) -> BulkOperationRecord:
    """Run the claimed operation to its end (DONE, CANCELLED, or FAILED on an unexpected
    error); its record as it then is. `after_record` is told the position after each record
    (the command line's own follow-up; tests stop a run there)."""
    operation = claimed.operation
    lease = claimed.lease
    progress = progress or SilentProgress()
    progress.start(operation.rows_total)
    progress.advance(operation.position)
    state = OperationProgress(operation, lease, operation.position, list(operation.errors))
    program = await get_program(operation.program_id, None)
    assert program is not None
    status = BulkStatus.DONE
    failure: str | None = None
    try:
        async with lease.held():
            records = read_rows(operation.kind, claimed.content, operation.parameters.get("points"))
            for index, item in enumerate(records):
                if index < operation.position:
                    if isinstance(item, BulkRow):
                        state.seen.setdefault(item.customer_id, item.line)
                    continue
                if lease.lost:
                    raise LeaseLostError
                if await repository.cancel_requested(operation.id):
                    status = BulkStatus.CANCELLED
                    break
                await handle_record(program, state, item)
                progress.advance(1)
                if after_record is not None:
                    await after_record(state.position)
    except LeaseLostError:
        log.warning("bulk operation %s was taken over by another runner; stopping", operation.id)
        found = await repository.read(operation.id)
        assert found is not None
        return found
    except Exception:
        log.exception("bulk operation %s failed", operation.id)
        status = BulkStatus.FAILED
        failure = "the operation stopped on an unexpected error (in the server's log)"
    await repository.finish(lease, status, failure)
    found = await repository.read(operation.id)
    assert found is not None
    log.info(
        "bulk operation %s (%s) %s: %s applied, %s skipped, %s failed",
        found.id,
        found.kind.value,
        found.status.value,
        found.applied,
        found.skipped,
        found.failed,
    )
    return found


async def run_queued_bulk_operations(
    now: datetime, progress: Progress | None = None
) -> dict[str, int]:
    """Run every queued operation (and every one whose runner died), one after the other."""
    ran = 0
    while (claimed := await repository.claim()) is not None:
        await run_claimed(claimed)
        ran += 1
    return {"bulk operations": ran}
