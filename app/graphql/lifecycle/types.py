"""Lifecycle in the API: when a member's points expire."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from app.graphql.core.connection import page_size
from app.graphql.core.context import Info
from app.graphql.loaders import loads_in_batch
from app.services.lifecycle import expiries as expiries_service


@strawberry.type(description="Points that will expire on one day unless they are spent.")
class PointsExpiry:
    points: int
    expires_at: datetime = strawberry.field(
        description="The exact instant they go: when the points became available plus the"
        " program's lifetime, at that wall-clock time (or, when the program rounds to the end"
        " of a month or year, the first moment after it); expiresOn is its day."
    )
    expires_on: date = strawberry.field(description="The day, in the program's time zone.")


async def next_expiries_of(
    info: Info, member_id: int, program_id: int, first: int
) -> list[PointsExpiry]:
    limit = page_size(first)
    if loads_in_batch(info.path):
        rows = (await info.context.loaders.next_expiries.load((member_id, program_id)))[:limit]
    else:
        rows = await expiries_service.next_expiries(member_id, program_id, limit)
    return [
        PointsExpiry(points=row.points, expires_at=row.expires_at, expires_on=row.expires_on)
        for row in rows
    ]
