"""Permission and id checks for queries. In a query an unknown or foreign object is null, and a
malformed id or a forbidden read is a top-level error with its code (mutations put the same
refusals in `userErrors`)."""

from __future__ import annotations

from app.auth.api_keys import Principal
from app.graphql.core.context import Info, admin, member_reader, member_session
from app.graphql.core.errors import as_query_errors
from app.graphql.core.ids import decode_id


def member_reader_in_query(info: Info) -> Principal:
    with as_query_errors():
        return member_reader(info)


def admin_in_query(info: Info) -> Principal:
    with as_query_errors():
        return admin(info)


def member_session_in_query(info: Info) -> Principal:
    with as_query_errors():
        return member_session(info)


def decoded_in_query(global_id: str, type_name: str) -> int:
    with as_query_errors():
        return decode_id(global_id, type_name)
