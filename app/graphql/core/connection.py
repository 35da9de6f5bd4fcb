"""The one cursor connection: `Connection[T]` of `Edge[T]` with keyset cursors and a bounded
`first`. Strawberry names a connection after its node type (`Connection[Activity]` is
`ActivityConnection`, its edges `ActivityEdge`), which are the names the schema has always had.

A page is read with one row more than it shows: the extra row says whether a next page exists.
Which way the keyset runs (newest first, or oldest first) is the service's business; a cursor
is the global id of the last row shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.graphql.core.errors import as_query_errors, query_error
from app.graphql.core.ids import decode_cursor, encode_cursor

MAX_PAGE_SIZE = 100

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT", bound="_Keyed")


class _Keyed(Protocol):
    @property
    def id(self) -> int: ...


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @classmethod
    def empty(cls) -> Connection[NodeT]:
        return cls(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise query_error(
            DomainError(ErrorCode.INVALID_VALUE, f"first must be between 1 and {MAX_PAGE_SIZE}")
        )
    return first


def cursor_position(after: str | None) -> int | None:
    with as_query_errors():
        return decode_cursor(after, ["after"])


def edge_of(node: Callable[[RowT], NodeT]) -> Callable[[RowT], Edge[NodeT]]:
    """How a row becomes an edge: its node, and its id as the cursor."""

    def edge(row: RowT) -> Edge[NodeT]:
        return Edge(cursor=encode_cursor(row.id), node=node(row))

    return edge


async def keyset_page(
    fetch: Callable[[int | None, int], Awaitable[Sequence[RowT]]],
    *,
    first: int,
    after: str | None,
    edge: Callable[[RowT], Edge[NodeT]],
) -> Connection[NodeT]:
    """One page: `fetch(position, limit)` reads up to `limit` rows past the cursor's row
    (None: from the start); `edge` makes each row's edge, usually `edge_of(Node.from_record)`."""
    limit = page_size(first)
    rows = await fetch(cursor_position(after), limit + 1)
    edges = [edge(row) for row in rows[:limit]]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=edges[-1].cursor if edges else None
        ),
    )
