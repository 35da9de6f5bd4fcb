"""The adapter to Strawberry's internals (app/graphql/executor_adapter.py): each test fails
when Strawberry moves one of the internals plans rely on, here rather than as a wrong answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission
from strawberry.types import ExecutionResult, Info

from app.graphql.compiled import plan_document
from app.graphql.encoding import encode_answer
from app.graphql.executor_adapter import (
    INTERNALS_FOUND,
    ObservedRequest,
    field_metadata,
    graphql_schema,
    has_field_middleware,
    planned_reads_observed,
    plans_supported,
    python_name,
    reads_attribute_only,
    run_observed,
    type_origin,
)
from app.graphql.schema import schema as laurel_schema


class Allow(BasePermission):
    message = "allowed"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return True


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Seen:
    """What a resolver reads from its `info`, through Strawberry's documented `Info`."""

    field_name: str
    python_name: str
    path: str
    operation_name: str | None
    variables: str
    input_extensions: str
    selected: list[str]
    schema_query_type: str
    context: str
    root_value: str | None


@strawberry.type
class Shelf:
    plain_label: str
    allowed: str = strawberry.field(permission_classes=[Allow], default="p")
    shouted: str = strawberry.field(extensions=[Upper()], default="e")
    tagged: int = strawberry.field(metadata={"laurel.test": True}, default=1)

    @strawberry.field
    def computed(self) -> str:
        return self.plain_label

    @strawberry.field
    def seen(self, info: Info, mark: str = "") -> Seen:
        return Seen(
            field_name=info.field_name,
            python_name=info.python_name,
            path=repr(info.path.as_list()),
            operation_name=info.operation.name.value if info.operation.name else None,
            variables=repr(info.variable_values),
            input_extensions=repr(info.input_extensions),
            selected=[field.name for field in info.selected_fields[0].selections],  # type: ignore[union-attr]
            schema_query_type=str(info.schema.as_str().splitlines()[0]),
            context=repr(info.context),
            root_value=repr(info.root_value),
        )


@strawberry.type
class ShelfQuery:
    @strawberry.field
    def shelf(self) -> Shelf:
        return Shelf(plain_label="oak")


shelves = strawberry.Schema(query=ShelfQuery)


def _shelf_type(schema: GraphQLSchema) -> GraphQLObjectType:
    shelf = schema.get_type("Shelf")
    assert isinstance(shelf, GraphQLObjectType)
    return shelf


def test_the_graphql_core_schema_is_the_one_strawberry_executes() -> None:
    core = graphql_schema(shelves)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None and core.query_type.name == "ShelfQuery"
    assert core is graphql_schema(shelves), "built once, not per call"


def test_only_plain_attribute_fields_read_their_attribute_directly() -> None:
    fields = _shelf_type(graphql_schema(shelves)).fields
    assert reads_attribute_only(fields["plainLabel"])
    assert python_name(fields["plainLabel"]) == "plain_label"
    # A resolver of its own, permission classes or field extensions run only through Strawberry.
    for name in ("computed", "allowed", "shouted", "seen"):
        assert not reads_attribute_only(fields[name]), name


def test_field_metadata_and_type_origin_are_read_from_strawberry() -> None:
    shelf = _shelf_type(graphql_schema(shelves))
    assert field_metadata(shelf.fields["tagged"]) == {"laurel.test": True}
    assert field_metadata(shelf.fields["plainLabel"]) == {}
    assert type_origin(shelf) is Shelf


@pytest.mark.parametrize("extensions", [None, {"trace": "abc"}])
async def test_a_planned_resolver_sees_the_info_strawberry_gives_it(
    extensions: dict[str, Any] | None,
) -> None:
    query = (
        "query Look($mark: String!) { shelf { plainLabel seen(mark: $mark) {"
        " fieldName pythonName path operationName variables inputExtensions selected"
        " schemaQueryType context rootValue } } }"
    )
    variables = {"mark": "m"}
    reference = await shelves.execute(
        query,
        variable_values=variables,
        context_value="the context",
        operation_name="Look",
        operation_extensions=extensions,
    )
    assert reference.errors is None
    plan = plan_document(graphql_schema(shelves), query, "Look")
    assert plan is not None
    answer = await plan.answer(shelves, variables, "the context", extensions)
    assert answer == encode_answer({"data": reference.data})


class Counting(SchemaExtension):
    operations = 0
    executions = 0

    def on_operation(self) -> Iterator[None]:
        type(self).operations += 1
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        type(self).executions += 1
        yield


class Stamped(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        return {"stamp": "s"}


class Cached(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        self.execution_context.result = ExecutionResult(
            data={"shelf": {"plainLabel": "kept"}}, errors=None
        )
        yield


class EveryResolver(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


async def test_extensions_see_a_planned_read_once_and_give_it_their_results() -> None:
    schema = strawberry.Schema(query=ShelfQuery, extensions=[Counting, Stamped])
    query = "{ shelf { plainLabel computed } }"
    reference = await schema.execute(query)
    plan = plan_document(graphql_schema(schema), query, None)
    assert plan is not None
    Counting.operations = Counting.executions = 0
    answer = await plan.answer(schema, {}, None)
    assert (Counting.operations, Counting.executions) == (1, 1)
    assert answer == encode_answer({"data": reference.data, "extensions": {"stamp": "s"}})


async def test_a_result_an_extension_sets_in_on_execute_is_the_answer() -> None:
    schema = strawberry.Schema(query=ShelfQuery, extensions=[Cached])
    plan = plan_document(graphql_schema(schema), "{ shelf { plainLabel } }", None)
    assert plan is not None
    assert await plan.answer(schema, {}, None) == b'{"data":{"shelf":{"plainLabel":"kept"}}}'


def test_the_internals_are_where_the_adapter_looks_for_them() -> None:
    # Otherwise the app runs, every request through Strawberry, and plans are off for good.
    assert INTERNALS_FOUND
    assert plans_supported(shelves)


def test_an_extension_that_wraps_every_resolver_turns_plans_off() -> None:
    assert not has_field_middleware(shelves)
    wrapped = strawberry.Schema(query=ShelfQuery, extensions=[EveryResolver])
    assert has_field_middleware(wrapped)
    assert not plans_supported(wrapped)


class Plain(SchemaExtension):
    calls: ClassVar[list[str]] = []

    def on_operation(self) -> None:  # type: ignore[override]
        Plain.calls.append("operation")

    async def on_execute(self) -> None:  # type: ignore[override]
        Plain.calls.append("execute")


class Guarded(SchemaExtension):
    closed: ClassVar[list[str]] = []

    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            Guarded.closed.append("closed")


async def test_function_hooks_run_on_entry_and_a_cancelled_read_closes_the_hooks() -> None:
    schema = strawberry.Schema(query=ShelfQuery, extensions=[Plain, Guarded])
    plan = plan_document(graphql_schema(schema), "{ shelf { plainLabel } }", None)
    assert plan is not None
    Plain.calls.clear()
    Guarded.closed.clear()
    assert await plan.answer(schema, {}, None) == b'{"data":{"shelf":{"plainLabel":"oak"}}}'
    assert (Plain.calls, Guarded.closed) == (["operation", "execute"], ["closed"])

    async def cancelled() -> None:
        raise asyncio.CancelledError

    Guarded.closed.clear()
    with pytest.raises(asyncio.CancelledError):
        await run_observed(
            schema,
            ObservedRequest("{ shelf { plainLabel } }", plan.document, None, {}, None, None),
            cancelled,
        )
    assert Guarded.closed == ["closed"]


def test_the_apps_own_extensions_leave_planned_reads_alone_and_any_other_sees_them() -> None:
    assert not planned_reads_observed(laurel_schema)

    class Watching(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            yield

    watched = strawberry.Schema(
        query=laurel_schema.query, extensions=[*laurel_schema.extensions, Watching]
    )
    assert planned_reads_observed(watched)
