"""The outbox of domain events as the API shows it (app/services/core/events.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.graphql.core.connection import Connection, Edges, page_size
from app.graphql.core.context import Info
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.programs import program_keyset_page
from app.graphql.core.query_checks import admin_in_query
from app.graphql.core.records import from_record
from app.services.core import events as events_service
from app.services.core.events import EventRecord


@strawberry.type(description="A domain event from the outbox, in the order it happened.")
class Event(Node):
    type: str
    member_id: strawberry.ID | None
    payload: JSON
    created_at: datetime

    @classmethod
    def from_record(cls, record: EventRecord) -> Event:
        payload: Any = record.payload
        return from_record(
            cls,
            record,
            member_id=None
            if record.member_id is None
            else strawberry.ID(encode_id("Member", record.member_id)),
            payload=payload,
        )


@strawberry.field(description="The outbox of domain events of a program, oldest first.")
async def events(
    info: Info,
    program_slug: str,
    first: int = 50,
    after: str | None = None,
    type: str | None = None,
) -> Connection[Event] | None:
    admin_in_query(info)
    page_size(first)
    return await program_keyset_page(
        program_slug,
        None,
        lambda program_id, position, limit: events_service.list_events(
            program_id, after_id=position, limit=limit, event_type=type
        ),
        first=first,
        after=after,
        edges=Edges("Event", Event.from_record),
    )
