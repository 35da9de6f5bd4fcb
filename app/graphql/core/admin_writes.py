"""The shapes writes share, written once (most of them admin writes): the caller's check
first (a refused caller runs nothing), then the input's global ids decoded (an invalid one is a
userError at `input.<field>`), then one service call, inside the caller's program scope where the
service takes one. The resolver keeps its name, arguments and payload; it only wraps the result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from app.auth.api_keys import Principal
from app.graphql.core.context import Info, admin
from app.graphql.core.ids import decode_id
from app.graphql.core.records import service_input

R = TypeVar("R")
RecordT = TypeVar("RecordT")
PayloadT = TypeVar("PayloadT")
ServiceInputT = TypeVar("ServiceInputT")

# A principal's program scope: the one program a scoped key may touch, None for every program.
ProgramScope = int | None


def admin_id(info: Info, global_id: str, type_name: str, field: str = "id") -> int:
    """Admin only: the primary key inside the input's global id `field` of `type_name`."""
    admin(info)
    return decode_id(global_id, type_name, ["input", field])


async def write_by_id(
    principal: Principal,
    global_id: str,
    type_name: str,
    write: Callable[[int, ProgramScope], Awaitable[R]],
    *,
    field: str = "id",
) -> R:
    """`write(pk, program_scope)` on the record of the input's global id `field`, for a caller
    already checked (`admin(info)`, `member_reader(info)`, ...)."""
    return await write(decode_id(global_id, type_name, ["input", field]), principal.program_scope)


async def admin_write(
    info: Info,
    input: Any,
    target: type[ServiceInputT],
    write: Callable[[ServiceInputT], Awaitable[R]],
    *,
    ids: Mapping[str, str] | None = None,
    **overrides: Any,
) -> R:
    """Admin only: `write` with the service input `target` filled from the GraphQL input (the
    services that take no program scope: creating configuration, program settings)."""
    admin(info)
    return await write(service_input(input, target, ids=ids, **overrides))


async def admin_update(
    info: Info,
    input: Any,
    type_name: str,
    target: type[ServiceInputT],
    write: Callable[[ServiceInputT, ProgramScope], Awaitable[R]],
    *,
    id_name: str,
    ids: Mapping[str, str] | None = None,
) -> R:
    """Admin only: `write(changes, program_scope)` where `changes` is the service input
    `target` filled from the GraphQL input, its `id_name` the pk of the input's `id`."""
    principal = admin(info)
    pk = decode_id(input.id, type_name, ["input", "id"])
    overrides: dict[str, Any] = {id_name: pk}
    changes = service_input(input, target, ids=ids, **overrides)
    return await write(changes, principal.program_scope)


async def scoped_write(
    principal: Principal,
    input: Any,
    target: type[ServiceInputT],
    write: Callable[[ServiceInputT, ProgramScope], Awaitable[R]],
    *,
    ids: Mapping[str, str] | None = None,
    **overrides: Any,
) -> R:
    """`write(service input, program_scope)` for a caller already checked (`admin`,
    `member_reader`, ...): the service input `target` filled from the GraphQL input."""
    return await write(service_input(input, target, ids=ids, **overrides), principal.program_scope)


class RecordPayloads(Generic[RecordT, PayloadT]):
    """The writes of one kind of record whose payload holds that record in one field (a
    mutation's `XPayload(x=X.from_record(record))`), said once per kind as Saleor's model
    mutations say their `return_field_name`: each resolver is then one call of a method below.
    """

    def __init__(
        self,
        type_name: str,
        node: Callable[[RecordT], object],
        payload: Callable[..., PayloadT],
        field: str,
    ) -> None:
        self.type_name = type_name
        self.node = node
        self.payload = payload
        self.field = field

    def of(self, record: RecordT) -> PayloadT:
        """The payload holding the record as its node."""
        return self.payload(**{self.field: self.node(record)})

    async def by_id(
        self,
        principal: Principal,
        global_id: str,
        write: Callable[[int, ProgramScope], Awaitable[RecordT]],
        *,
        field: str = "id",
    ) -> PayloadT:
        """`write_by_id` on the input's global id `field` of this kind, its record as the
        payload."""
        return self.of(await write_by_id(principal, global_id, self.type_name, write, field=field))

    async def scoped(
        self,
        principal: Principal,
        input: Any,
        target: type[ServiceInputT],
        write: Callable[[ServiceInputT, ProgramScope], Awaitable[RecordT]],
        *,
        ids: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> PayloadT:
        """`scoped_write`, its record as the payload."""
        return self.of(await scoped_write(principal, input, target, write, ids=ids, **overrides))

    async def created(
        self,
        info: Info,
        input: Any,
        target: type[ServiceInputT],
        write: Callable[[ServiceInputT], Awaitable[RecordT]],
        *,
        ids: Mapping[str, str] | None = None,
    ) -> PayloadT:
        """`admin_write`, its record as the payload."""
        return self.of(await admin_write(info, input, target, write, ids=ids))

    async def updated(
        self,
        info: Info,
        input: Any,
        target: type[ServiceInputT],
        write: Callable[[ServiceInputT, ProgramScope], Awaitable[RecordT]],
        *,
        id_name: str,
        ids: Mapping[str, str] | None = None,
    ) -> PayloadT:
        """`admin_update` of a record of this kind, its record as the payload."""
        return self.of(
            await admin_update(info, input, self.type_name, target, write, id_name=id_name, ids=ids)
        )
