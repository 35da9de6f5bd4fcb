"""The one shape of a background job in the API (imports, bulk operations, backtests).

Every job is a `Job`: a node with its progress, why it failed, and when it was queued and
finished. A capability's job type adds its own counters and states the fields in its own words;
`job_fields` fills the shared ones from its record. It is queued or cancelled by a mutation that
returns it at once (`admin_job`) and followed with a query or `node` (`find_job`,
`register_job`), both for admin keys only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypedDict, TypeVar, cast

import strawberry

from app.auth.api_keys import Principal
from app.domain.imports import RowError
from app.graphql.core.context import Info, admin
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node, register_node
from app.graphql.core.query_checks import admin_in_query, decoded_in_query


@strawberry.interface(
    description="Work run in the background: queued by a mutation, followed with its own query"
    " or `node` until `finishedAt` is set."
)
class Job(Node):
    progress: float = strawberry.field(description="How far it got, 0 to 1.")
    failure: str | None = strawberry.field(description="Why it stopped (FAILED).")
    created_at: datetime
    finished_at: datetime | None


@strawberry.type(description="A record of an import that was not imported, and why.")
class ImportRowError:
    line: int = strawberry.field(description="The line of the file the record starts on.")
    field: str | None = strawberry.field(description="The column at fault, when one is.")
    code: str = strawberry.field(
        description="An ErrorCode, or one of the import's own (MALFORMED_RECORD,"
        " NOT_IN_TIME_ORDER, PLACED_BEFORE_ENROLMENT, INCONSISTENT_ORDER,"
        " BALANCE_ALREADY_IMPORTED); docs/capabilities/import.md."
    )
    message: str

    @classmethod
    def all_of(cls, errors: list[RowError]) -> list[ImportRowError]:
        return [cls(line=e.line, field=e.field, code=e.code, message=e.message) for e in errors]


def share_done(done: int, total: int) -> float:
    """A job's progress from 0 to 1; a job with nothing to do is done."""
    return 1.0 if total == 0 else min(1.0, done / total)


class JobRecord(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def failure(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...


class JobFields(TypedDict):
    id: strawberry.ID
    progress: float
    failure: str | None
    created_at: datetime
    finished_at: datetime | None


def job_fields(type_name: str, record: JobRecord, progress: float) -> JobFields:
    """The fields every `Job` has, for the job type's constructor."""
    return JobFields(
        id=strawberry.ID(encode_id(type_name, record.id)),
        progress=progress,
        failure=record.failure,
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


JobT = TypeVar("JobT", bound=Node, covariant=True)
J = TypeVar("J", bound=Node)


class JobType(Protocol[JobT]):
    """A job's GraphQL type (its ids carry its class's name), made from its service's record."""

    def from_record(self, record: Any) -> JobT: ...


# A job by its id within the reader's program scope (None for every program); None when not
# found.
GetJob = Callable[[int, int | None], Awaitable[Any]]


async def find_job(info: Info, global_id: str, job_type: JobType[J], get: GetJob) -> J | None:
    """A job's query field: admin keys only, null when not found or of another program."""
    principal = admin_in_query(info)
    record = await get(
        decoded_in_query(global_id, cast(type, job_type).__name__), principal.program_scope
    )
    return None if record is None else job_type.from_record(record)


async def admin_job(
    info: Info, job_type: JobType[J], work: Callable[[Principal], Awaitable[Any]]
) -> J:
    """A job mutation's work (queue, cancel) done for an admin key, its job as it now stands."""
    return job_type.from_record(await work(admin(info)))


def register_job(job_type: JobType[Node], get: GetJob) -> None:
    """`node(id:)` answers a job's id as its query does: admin keys only."""
    register_node(job_type, get, check=admin_in_query)
