"""The Relay `Node` interface: every object type has a global id (see app/graphql/core/ids.py),
and a registry of how `node(id:)` loads each type (app/graphql/node.py registers them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

import strawberry

from app.graphql.core.context import Info, principal_of

if TYPE_CHECKING:
    from app.auth.api_keys import Principal


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


NodeLoader = Callable[[Info, int], Awaitable[Node | None]]


class _FromRecord(Protocol):
    def from_record(self, record: Any) -> Node: ...


_LOADERS: dict[str, NodeLoader] = {}


def register_node_loader(type_name: str, loader: NodeLoader) -> None:
    """`node(id:)` answers ids of `type_name` with `loader`; a type registers once."""
    if type_name in _LOADERS:
        raise ValueError(f"a node loader for {type_name} is already registered")
    _LOADERS[type_name] = loader


def register_node(
    node_type: _FromRecord,
    get: Callable[[int, int | None], Awaitable[Any]],
    *,
    check: Callable[[Info], Principal] | None = None,
    visible: Callable[[Any, Principal], bool] | None = None,
) -> None:
    """The common loader: `check` (the reader's access, as a query error) first, then the record
    by its id within the reader's program scope, hidden when `visible` says this reader may not
    see it (a storefront key sees only what its lists show)."""

    async def load(info: Info, pk: int) -> Node | None:
        principal = check(info) if check else principal_of(info)
        record = await get(pk, principal.program_scope)
        if record is None or (visible is not None and not visible(record, principal)):
            return None
        return node_type.from_record(record)

    register_node_loader(cast(type, node_type).__name__, load)


def node_loader_of(type_name: str) -> NodeLoader | None:
    return _LOADERS.get(type_name)
