"""Reads of one program's objects, named by its slug in a query's arguments.

A slug the caller's key cannot see reads as an unknown one: nothing (an empty list, an empty
page or null), never an error, so a key learns nothing about other programs. These helpers are
that rule written once; the resolver says only what it reads for the program.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from app.graphql.core.connection import Connection, Edges, RowT, SortedEdges, keyset_page
from app.graphql.core.context import Info, principal_of
from app.graphql.core.query_checks import member_reader_in_query
from app.services.programs import service as programs_service
from app.services.programs.service import ProgramScope

RecordT = TypeVar("RecordT")
NodeT = TypeVar("NodeT")
ResultT = TypeVar("ResultT")


async def program_id_of(program_slug: str, scope: ProgramScope) -> int | None:
    """The id of the program `program_slug` names, or None when `scope` (a key's program, or
    None for every program) does not hold it."""
    program = await programs_service.get_program_by_slug(program_slug, scope)
    return None if program is None else program.id


async def program_list(
    program_slug: str,
    scope: ProgramScope,
    load: Callable[[int], Awaitable[Iterable[RecordT]]],
    to_node: Callable[[RecordT], NodeT],
) -> list[NodeT]:
    """What `load` reads for the program, each as `to_node`; none for a program not in scope."""
    program_id = await program_id_of(program_slug, scope)
    if program_id is None:
        return []
    return [to_node(record) for record in await load(program_id)]


async def readable_program_list(
    info: Info,
    program_slug: str,
    load: Callable[[int], Awaitable[Iterable[RecordT]]],
    to_node: Callable[[RecordT], NodeT],
    *,
    members_only: bool = True,
) -> list[NodeT]:
    """`program_list` in the caller's program scope; `members_only` (lists a storefront key may
    not read, or their hidden entries) asks for a member reader first, as a query error."""
    principal = member_reader_in_query(info) if members_only else principal_of(info)
    return await program_list(program_slug, principal.program_scope, load, to_node)


async def program_page(
    program_slug: str,
    scope: ProgramScope,
    page: Callable[[int], Awaitable[Connection[NodeT] | None]],
) -> Connection[NodeT] | None:
    """The page `page` reads for the program; an empty one for a program not in scope."""
    program_id = await program_id_of(program_slug, scope)
    if program_id is None:
        return Connection.empty()
    return await page(program_id)


async def program_one(
    program_slug: str,
    scope: ProgramScope,
    load: Callable[[int], Awaitable[ResultT | None]],
) -> ResultT | None:
    """What `load` reads for the program; None for a program not in scope."""
    program_id = await program_id_of(program_slug, scope)
    return None if program_id is None else await load(program_id)


async def program_keyset_page(
    program_slug: str,
    scope: ProgramScope,
    fetch: Callable[[int, Any, int], Awaitable[Sequence[RowT]]],
    *,
    first: int,
    after: str | None,
    edges: Edges[RowT, NodeT] | SortedEdges[RowT, NodeT],
) -> Connection[NodeT]:
    """A keyset page of the program's rows: `fetch(program_id, position, limit)` reads them
    (app/graphql/core/connection.py); an empty page for a program not in scope."""
    program_id = await program_id_of(program_slug, scope)
    if program_id is None:
        return Connection.empty()
    return await keyset_page(
        lambda position, limit: fetch(program_id, position, limit),
        first=first,
        after=after,
        edges=edges,
    )
