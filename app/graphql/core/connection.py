"""The one cursor connection: `Connection[T]` of `Edge[T]` with keyset cursors and a bounded
`first`. Strawberry names a connection after its node type (`Connection[Activity]` is
`ActivityConnection`, its edges `ActivityEdge`), which are the names the schema has always had.

A page is read with one row more than it shows: the extra row says whether a next page exists.
Which way the keyset runs (newest first, or oldest first) is the service's business; a cursor
names its row and its connection's kind of node, so a cursor of one list is refused by another
with INVALID_CURSOR.

A page that cannot be read (a bad cursor, `first` out of range) is an error on that field
alone: the fields that return connections are nullable, so the error nulls the connection and
not the object holding it (`me` keeps its other fields).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import MAX_ID_LENGTH, decode_any_id
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
    has_previous_page: bool = strawberry.field(
        default=False, description="True on any page read after a cursor."
    )
    start_cursor: str | None = None


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


@dataclass(frozen=True)
class Edges(Generic[RowT, NodeT]):
    """How the rows of one kind of connection become edges, and its cursors positions.

    `cache_size`: rows that never change (the ledger's) may keep their edges, shared by every
    request that lists them; a cache is keyed by the whole row, never by its id alone."""

    kind: str
    node: Callable[[RowT], NodeT]
    cache_size: int = 0

    def __post_init__(self) -> None:
        if self.cache_size:
            cached = functools.lru_cache(maxsize=self.cache_size)(self._make_edge)
            object.__setattr__(self, "edge", cached)

    def edge(self, row: RowT) -> Edge[NodeT]:
        return self._make_edge(row)

    def _make_edge(self, row: RowT) -> Edge[NodeT]:
        return Edge(cursor=encode_cursor(self.kind, row.id), node=self.node(row))

    def position(self, after: str | None) -> int | None:
        with as_query_errors():
            return decode_cursor(after, self.kind, ["after"])


@dataclass(frozen=True)
class SortedEdges(Generic[RowT, NodeT]):
    """Edges of a list sorted by a whole-number value of its rows, then by id (members by
    points): the position is the pair (value, id) of the last row seen. The cursor carries
    the sort it belongs to, so a cursor of one sort is refused by another (INVALID_CURSOR)."""

    kind: str
    sort: str
    value: Callable[[RowT], int]
    node: Callable[[RowT], NodeT]

    def edge(self, row: RowT) -> Edge[NodeT]:
        cursor = encode_cursor(f"{self.kind}.{self.sort}.{self.value(row)}", row.id)
        return Edge(cursor=cursor, node=self.node(row))

    def position(self, after: str | None) -> tuple[int, int] | None:
        if after is None:
            return None
        decoded = decode_any_id(after)
        prefix = f"cursor.{self.kind}.{self.sort}."
        value = "" if decoded is None else decoded[0].removeprefix(prefix)
        if decoded is None or not decoded[0].startswith(prefix) or not value.isdigit():
            with as_query_errors():
                raise DomainError(
                    ErrorCode.INVALID_CURSOR,
                    f"{after[:MAX_ID_LENGTH]!r} is not a cursor of this {self.kind} list",
                    ["after"],
                )
        return int(value), decoded[1]


async def keyset_page(
    fetch: Callable[[Any, int], Awaitable[Sequence[RowT]]],
    *,
    first: int,
    after: str | None,
    edges: Edges[RowT, NodeT] | SortedEdges[RowT, NodeT],
) -> Connection[NodeT]:
    """One page: `fetch(position, limit)` reads up to `limit` rows past the cursor's row
    (None: from the start; the position is what `edges` makes of the cursor)."""
    limit = page_size(first)
    rows = await fetch(edges.position(after), limit + 1)
    shown = [edges.edge(row) for row in rows[:limit]]
    return Connection(
        edges=shown,
        page_info=PageInfo(
            has_next_page=len(rows) > limit,
            end_cursor=shown[-1].cursor if shown else None,
            has_previous_page=after is not None,
            start_cursor=shown[0].cursor if shown else None,
        ),
    )
