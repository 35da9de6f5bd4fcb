"""Compiled plans for documents that Strawberry has already answered without an error.

Strawberry runs every request through its extension hooks and graphql-core's general executor:
about 0.3 ms per operation and 5-10 µs per selected field on a small server, several times what
the database costs for a member's status (points and ten activities: about 70 fields). A
document that Strawberry answered without an error has been parsed and validated with every
rule of the schema (depth, aliases, cost, tokens), so its shape can be planned once: for each
selected field, how its value is read (an attribute, or the field's own Strawberry resolver
with its arguments) and how it is serialised (the schema's own scalar and enum serialisers).
Later requests with the same text and operation name run the plan directly. The idea is the
one of graphql-jit and Mercurius's `jit` option. Sibling fields with resolvers, and list items
whose fields have them, run at once as graphql-core runs them; objects of types marked
`shared_and_unchanging` keep their completed answers (see there).

A plan covers answers without errors only. Wherever graphql-core would report an error (a
resolver raises, a null in a non-null position, variables that do not coerce, a value a scalar
cannot serialise) the plan gives up and the request goes to Strawberry, which answers it in
full, errors and all. Running a query again changes nothing: queries read, and the one write a
read makes (a member's referral code, created on first read) is idempotent. Fields whose
resolvers spend something (a code check spends a rate-limit token) say so with
`SPENDS_ON_READ` in their metadata and keep their documents out of the plans. Fields with
permission classes or field extensions are resolved through Strawberry's own resolver, which
runs them. Documents with fragments, directives, abstract types, introspection, or one
response key selected twice are left to Strawberry.

A mutation of one root field gets a plan too (WritePlan), under a stricter rule, since a
mutation must never run twice: everything that can make it give up (the variables' coercion,
the arguments and their conversion into input objects) is done before the extensions' hooks
are entered and the resolver is called, and once the resolver has run the plan answers
whatever happens: the payload completed by the plan, or, where that would give up or the
resolver raised, graphql-core's completion of the value the resolver already returned (or its
report of the exception), errors and masking as in Strawberry's answer. Its variables are
coerced and its input objects built by coercers and converters made once per document, which
cost a fraction of graphql-core's and Strawberry's general walks of the types.

A plan runs inside the `on_operation` and `on_execute` hooks of the schema's extensions, so
tracing, metrics and error handling see planned reads like any other; a schema whose
extensions wrap each resolver call (`resolve`) gets no plans. What plans need of Strawberry
beyond its documented API is in app/graphql/executor_adapter.py and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, EnumMeta
from inspect import isawaitable
from typing import Any, TypeVar

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    VariableValues,
    get_argument_values,
    get_variable_values,
    is_leaf_type,
    parse,
)
from graphql.language import ListValueNode, ObjectValueNode, ValueNode
from graphql.pyutils import Path

from app.graphql import variables as planned_variables
from app.graphql.encoding import encode_answer
from app.graphql.executor_adapter import (
    NoResultError,
    ObservedRequest,
    OperationFacts,
    PreparedCall,
    complete_by_graphql_core,
    field_metadata,
    graphql_schema,
    prepared_call,
    python_name,
    reads_attribute_only,
    resolve_info,
    run_observed,
    run_observed_write,
    type_origin,
)

logger = logging.getLogger("laurel.plans")

SPENDS_ON_READ = "laurel.spends_on_read"
"""Field metadata key: the resolver spends something even when it only reads."""

PLAN_CACHE_SIZE = 512
_KEPT_ANSWERS = "_plan_kept_answers"  # the instance attribute that holds its kept answers
# Answers kept on one instance, by shape: a storefront asks for one or two; a flood of aliased
# variants of a document only replaces them, never grows them.
KEPT_ANSWERS_PER_INSTANCE = 4
INT_RANGE = range(-(2**31), 2**31)  # GraphQL's Int
_IMMUTABLE = (str, int, float, bool, type(None), Enum)


_SHARED_UNCHANGING_TYPES: set[type] = set()
_T = TypeVar("_T", bound=type)


def shared_and_unchanging(cls: _T) -> _T:
    """Marks a Strawberry type whose instances, and everything they hold, never change once
    made, and are handed to many requests (a cache hands out the same instance for the same
    database row). A plan keeps the answer it completes for such an instance on the instance,
    by the shape of the selection (types, fields and response keys), and gives it again to any
    request that selects the same shape: a page of ledger rows read again costs a lookup per row
    instead of a completion per field. Only subtrees of plain fields ending in scalars, enums or
    other such types are kept (a list could be changed in place)."""
    _SHARED_UNCHANGING_TYPES.add(cls)
    return cls


class GiveUpError(Exception):
    """The plan cannot give graphql-core's answer; Strawberry will."""


@dataclass(frozen=True)
class _Request:
    facts: OperationFacts  # what its resolvers may ask their `info` for
    variables: VariableValues  # for arguments given as variables


# A completer turns a resolved value into its JSON-ready answer. Synchronous completers cover
# subtrees whose fields are all plain attributes; the others return an awaitable.
SyncCompleter = Callable[[Any], Any]
AsyncCompleter = Callable[[Any, _Request, Path], Awaitable[Any]]


@dataclass(frozen=True)
class _Completion:
    sync: SyncCompleter | None
    run: AsyncCompleter | None
    # Set when the answer depends on nothing but a value that never changes (a leaf, or a
    # subtree of shared unchanging objects): the shape of the answer, the key it is kept by.
    unchanging_shape: str | None = None


class _NotPlannableError(Exception):
    """The document uses something plans do not cover."""


def _uses_variables(node: ValueNode) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_uses_variables(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_uses_variables(field.value) for field in node.fields)
    return False


def _python_name(field: GraphQLField) -> str:
    name = python_name(field)
    if name is None:
        raise _NotPlannableError("a plain field without its Strawberry definition")
    return name


class _Planner:
    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode) -> None:
        self.schema = schema
        self.operation = operation

    def selection(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None
    ) -> _Completion:
        if selection_set is None:
            raise _NotPlannableError("an object without a selection")
        fields: list[tuple[str, FieldNode]] = []
        keys: set[str] = set()
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise _NotPlannableError("fragments and directives are left to Strawberry")
            key = selection.alias.value if selection.alias else selection.name.value
            if key in keys:
                raise _NotPlannableError("a response key selected twice")
            keys.add(key)
            fields.append((key, selection))
        return self._object(parent, fields)

    def _object(
        self, parent: GraphQLObjectType, fields: list[tuple[str, FieldNode]]
    ) -> _Completion:
        # (response key, attribute to read or None for __typename, its completer); resolved
        # fields (with a resolver of their own or arguments) keep their place in `order`.
        plain: list[tuple[str, str | None, SyncCompleter | None]] = []
        resolved: dict[str, Callable[[Any, _Request, Path], Awaitable[Any]]] = {}
        order: list[str] = []
        shapes: list[str] | None = []  # of the plain fields, while all are unchanging
        for key, node in fields:
            order.append(key)
            name = node.name.value
            if name == "__typename":
                plain.append((key, None, None))
                if shapes is not None:
                    shapes.append(f"{key}:__typename")
                continue
            if name.startswith("__"):
                raise _NotPlannableError("introspection is left to Strawberry")
            field = parent.fields.get(name)
            if field is None:
                raise _NotPlannableError(f"no field {name} on {parent.name}")
            if field_metadata(field).get(SPENDS_ON_READ):
                raise _NotPlannableError(f"{parent.name}.{name} spends on read")
            completion = self.value(field.type, node.selection_set)
            if reads_attribute_only(field) and completion.sync is not None and not node.arguments:
                plain.append((key, _python_name(field), completion.sync))
                if shapes is not None and completion.unchanging_shape is not None:
                    shapes.append(f"{key}:{name}:{completion.unchanging_shape}")
                else:
                    shapes = None
            else:
                resolved[key] = self._resolver(parent, field, node, key, completion)
        is_type_of = parent.is_type_of
        typename = parent.name

        def read_plain(source: Any) -> dict[str, Any]:
            # Strawberry's own is_type_of ignores its info argument; the schema has no other.
            if is_type_of is not None and not is_type_of(source, None):  # type: ignore[arg-type]
                raise GiveUpError
            return {
                key: typename if attribute is None else complete(getattr(source, attribute))  # type: ignore[misc]
                for key, attribute, complete in plain
            }

        if not resolved:
            if shapes is not None and type_origin(parent) in _SHARED_UNCHANGING_TYPES:
                shape = f"{typename}{{{','.join(shapes)}}}"
                return _Completion(sync=_kept(read_plain, shape), run=None, unchanging_shape=shape)
            return _Completion(sync=read_plain, run=None)

        async def complete_resolved(source: Any, request: _Request, path: Path) -> Any:
            answer = read_plain(source)
            # Siblings run at once, as graphql-core runs them (on PostgreSQL a member's
            # activity, rewards and tier cost the slowest of them, not their sum).
            values = await _all_of(
                [resolve(source, request, path) for resolve in resolved.values()]
            )
            answer.update(zip(resolved, values, strict=True))
            return {key: answer[key] for key in order}

        return _Completion(sync=None, run=complete_resolved)

    def _resolver(
        self,
        parent: GraphQLObjectType,
        field: GraphQLField,
        node: FieldNode,
        key: str,
        completion: _Completion,
    ) -> Callable[[Any, _Request, Path], Awaitable[Any]]:
        resolve = field.resolve
        if resolve is None:
            raise _NotPlannableError("a field without a resolver")
        field_nodes = [node]
        static_arguments: dict[str, Any] | None = None
        if not any(_uses_variables(argument.value) for argument in node.arguments or ()):
            literal_arguments = get_argument_values(field, node)
            # Shared by every request: only values no resolver can change in place.
            if all(isinstance(value, _IMMUTABLE) for value in literal_arguments.values()):
                static_arguments = literal_arguments
        field_type = field.type
        parent_name = parent.name
        sync = completion.sync
        run = completion.run

        async def resolve_field(source: Any, request: _Request, path: Path) -> Any:
            field_path = Path(path, key, parent_name)
            arguments = (
                static_arguments
                if static_arguments is not None
                else get_argument_values(field, node, request.variables)
            )
            info = resolve_info(request.facts, field_nodes, field_type, parent, field_path)
            value = resolve(source, info, **arguments)
            if isawaitable(value):
                value = await value
            if sync is not None:
                return sync(value)
            assert run is not None
            return await run(value, request, field_path)

        return resolve_field

    def value(
        self, field_type: GraphQLOutputType, selection: SelectionSetNode | None
    ) -> _Completion:
        non_null = isinstance(field_type, GraphQLNonNull)
        inner_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if is_leaf_type(inner_type):
            return _Completion(
                sync=_leaf(inner_type, non_null=non_null),
                run=None,
                unchanging_shape=inner_type.name,
            )
        if isinstance(inner_type, GraphQLList):
            return _guarded(_list(self.value(inner_type.of_type, selection)), non_null=non_null)
        if isinstance(inner_type, GraphQLObjectType):
            return _guarded(self.selection(inner_type, selection), non_null=non_null)
        raise _NotPlannableError("abstract types are left to Strawberry")


def kept_answers(instance: object) -> dict[str, Any]:
    """The answers plans keep on a shared unchanging instance, by shape (for tests and
    diagnostics)."""
    return dict(getattr(instance, _KEPT_ANSWERS, None) or {})


def _kept(read_plain: SyncCompleter, shape: str) -> SyncCompleter:
    """`read_plain` for a shared unchanging type: its answer is made once per instance and
    shape, and kept on the instance, where every plan of that shape finds it (plans come and go
    with the plan cache; the answers of an instance stay few). Answers are shared by the
    responses that contain them, so nothing may change one after it is made (the completer of
    an object with resolved fields writes into its answer: it is never kept)."""

    def complete_kept(source: Any) -> Any:
        kept: dict[str, Any] | None = getattr(source, _KEPT_ANSWERS, None)
        if kept is not None:
            answer = kept.get(shape)
            if answer is not None:
                return answer
        answer = read_plain(source)  # checks the instance's type before anything is kept on it
        if kept is None:
            kept = {}
            setattr(source, _KEPT_ANSWERS, kept)
        elif len(kept) >= KEPT_ANSWERS_PER_INSTANCE:
            kept.clear()
        kept[shape] = answer
        return answer

    return complete_kept


def _leaf(leaf_type: GraphQLLeafType, *, non_null: bool) -> SyncCompleter:
    """Serialise with the schema's own serialiser; the values that graphql-core's String, ID,
    Boolean and Int serialisers return unchanged skip the call (most of a page's fields)."""
    serialize = leaf_type.serialize
    unchanged: type | None = None
    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        unchanged = str
    elif leaf_type is GraphQLBoolean:
        unchanged = bool
    is_int = leaf_type is GraphQLInt
    # Strawberry's enum serialiser scans the enum's values for every member it is given; what
    # it answers for each member is worked out once here.
    enum_class: type | None = getattr(leaf_type, "wrapped_cls", None)
    enum_names: dict[Any, Any] = {}
    if isinstance(leaf_type, GraphQLEnumType) and isinstance(enum_class, EnumMeta):
        members: list[Enum] = list(enum_class)
        for member in members:
            with contextlib.suppress(Exception):
                enum_names[member] = serialize(member)

    def complete_leaf(value: Any) -> Any:
        if value is None:
            if non_null:
                raise GiveUpError
            return None
        value_type = type(value)
        if value_type is unchanged or (is_int and value_type is int and value in INT_RANGE):
            return value
        if value_type is enum_class and value in enum_names:
            return enum_names[value]
        if isinstance(value, Exception):
            raise GiveUpError
        serialized = serialize(value)
        if serialized is None:
            raise GiveUpError
        return serialized

    return complete_leaf


def _guarded(inner: _Completion, *, non_null: bool) -> _Completion:
    """What graphql-core's completeValue does before a list or an object: a null is null, or an
    error where the schema says non-null; an exception returned as a value is an error.
    (Each completer comes sync and async: the sync one keeps pages of plain fields free of
    coroutines.)"""
    if inner.sync is not None:
        inner_sync = inner.sync

        def complete_guarded(value: Any) -> Any:
            if value is None:
                if non_null:
                    raise GiveUpError
                return None
            if isinstance(value, Exception):
                raise GiveUpError
            return inner_sync(value)

        # A guard refuses a null; it never changes an answer's shape.
        return _Completion(sync=complete_guarded, run=None, unchanging_shape=inner.unchanging_shape)
    inner_run = inner.run
    assert inner_run is not None

    async def run_guarded(value: Any, request: _Request, path: Path) -> Any:
        if value is None:
            if non_null:
                raise GiveUpError
            return None
        if isinstance(value, Exception):
            raise GiveUpError
        return await inner_run(value, request, path)

    return _Completion(sync=None, run=run_guarded)


async def _all_of(awaitables: list[Awaitable[Any]]) -> list[Any]:
    """Run at once and wait for every one, even after one gives up: a plan that gives up
    cancels nothing. (Tortoise's transaction, cancelled while it starts, keeps SQLite's lock
    or its pooled connection; the one write a read makes, a referral code on first read, runs
    in one.) The first failure, in order, is the plan's. One alone is awaited as it is: no
    task (a member's status has one resolved field at each level)."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, GiveUpError):
            raise result
        if isinstance(result, BaseException):
            raise GiveUpError from result
    return results


def _is_list_value(value: Any) -> bool:
    return not isinstance(value, (str, bytes, dict)) and hasattr(value, "__iter__")


def _list(inner: _Completion) -> _Completion:
    """The items of a list already past `_guarded`."""
    if inner.sync is not None:
        inner_sync = inner.sync

        def complete_list(value: Any) -> Any:
            if not _is_list_value(value):
                raise GiveUpError
            return [inner_sync(item) for item in value]

        return _Completion(sync=complete_list, run=None)
    inner_run = inner.run
    assert inner_run is not None

    async def run_list(value: Any, request: _Request, path: Path) -> Any:
        if not _is_list_value(value):
            raise GiveUpError
        # Items whose fields have resolvers run at once, as graphql-core runs them.
        return await _all_of(
            [inner_run(item, request, Path(path, index, None)) for index, item in enumerate(value)]
        )

    return _Completion(sync=None, run=run_list)


@dataclass(frozen=True)
class _PlannedDocument:
    """What a query plan and a write plan both hold of their document, and how both take a
    request's variables and hand the extensions' hooks the request."""

    query: str
    operation_name: str | None
    document: DocumentNode
    operation: OperationDefinitionNode
    root: GraphQLObjectType

    @staticmethod
    def variables_of(variables: Any) -> dict[str, Any]:
        """The request's variables (none: empty); GiveUpError when they are not an object."""
        if variables is None:
            return {}
        if not isinstance(variables, dict):
            raise GiveUpError
        return variables

    def observed(
        self, variables: dict[str, Any], context: Any, operation_extensions: dict[str, Any] | None
    ) -> ObservedRequest:
        return ObservedRequest(
            self.query, self.document, self.operation_name, variables, context, operation_extensions
        )


@dataclass(frozen=True)
class Plan(_PlannedDocument):
    completion: _Completion

    async def answer(
        self,
        schema: strawberry.Schema,
        variables: Any,
        context: Any,
        operation_extensions: dict[str, Any] | None = None,
    ) -> bytes:
        """The response body, as Strawberry's view would give it, or GiveUpError where
        graphql-core would report an error (or an extension leaves no answer)."""
        variables = self.variables_of(variables)
        core_schema = graphql_schema(schema)

        async def execute() -> dict[str, Any] | None:
            try:
                data: dict[str, Any] = await self._data(
                    core_schema, variables, context, operation_extensions
                )
            except GiveUpError:
                return None
            return data

        try:
            answer = await run_observed(
                schema, self.observed(variables, context, operation_extensions), execute
            )
        except NoResultError as error:
            raise GiveUpError from error
        if answer.extensions:
            return encode_answer({"data": answer.data, "extensions": answer.extensions})
        return encode_answer({"data": answer.data})

    async def _data(
        self,
        schema: GraphQLSchema,
        variables: dict[str, Any],
        context: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> Any:
        try:
            coerced = get_variable_values(
                schema, self.operation.variable_definitions or (), variables
            )
            if not isinstance(coerced, VariableValues):
                raise GiveUpError
            facts = OperationFacts(
                schema, self.operation, coerced.coerced, context, operation_extensions
            )
            request = _Request(facts, coerced)
            if self.completion.sync is not None:
                return self.completion.sync(None)
            assert self.completion.run is not None
            return await self.completion.run(None, request, None)  # type: ignore[arg-type]
        except GiveUpError:
            raise
        except Exception as error:
            # Whatever failed, graphql-core would have reported it as an error of the answer.
            raise GiveUpError from error


def plan_document(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    writes: strawberry.Schema | None = None,
) -> Plan | WritePlan | None:
    """The plan of a query's operation, or None when the document is left to Strawberry. With
    `writes` (the Strawberry schema whose resolvers a mutation calls), a mutation of one root
    field is planned too (see WritePlan)."""
    document = parse(query)
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if len(operations) != len(document.definitions) or len(operations) != 1:
        return None
    operation = operations[0]
    if operation.directives:
        return None
    if operation_name is not None and (
        operation.name is None or operation.name.value != operation_name
    ):
        return None
    if operation.operation is OperationType.MUTATION and writes is not None:
        return _plan_write(schema, writes, query, operation_name, document, operation)
    if operation.operation is not OperationType.QUERY:
        return None
    root = schema.query_type
    if root is None:
        return None
    planner = _Planner(schema, operation)
    try:
        selection = planner.selection(root, operation.selection_set)
    except _NotPlannableError:
        return None
    # The root value is None, as Strawberry's view passes it; the root selection is never null.
    return Plan(
        query=query,
        operation_name=operation_name,
        document=document,
        operation=operation,
        root=root,
        completion=selection,
    )


def _plan_write(
    schema: GraphQLSchema,
    writes: strawberry.Schema,
    query: str,
    operation_name: str | None,
    document: DocumentNode,
    operation: OperationDefinitionNode,
) -> WritePlan | None:
    root = schema.mutation_type
    selections = operation.selection_set.selections
    if root is None or len(selections) != 1:
        return None  # several writes run one after another: each would need its own give-up
    node = selections[0]
    if not isinstance(node, FieldNode) or node.directives or node.name.value.startswith("__"):
        return None
    field = root.fields.get(node.name.value)
    if field is None or field_metadata(field).get(SPENDS_ON_READ):
        return None
    call = prepared_call(writes, field)
    if call is None:
        return None
    try:
        completion = _Planner(schema, operation).value(field.type, node.selection_set)
    except _NotPlannableError:
        return None
    return WritePlan(
        query=query,
        operation_name=operation_name,
        document=document,
        operation=operation,
        root=root,
        field=field,
        node=node,
        key=node.alias.value if node.alias else node.name.value,
        call=call,
        completion=completion,
        coerce_variables=planned_variables.variables_coercer(schema, operation),
    )


@dataclass(frozen=True)
class WritePlan(_PlannedDocument):
    """The plan of a mutation of one root field. It never runs the mutation twice: everything
    that can make it give up (the variables' coercion, the arguments, their conversion into
    input objects) happens before the extensions' hooks are entered and the resolver is called;
    from then on the plan answers itself. It completes the payload as a query plan does, and
    where that would give up (a null in a non-null place, a field of the payload raising) or
    the resolver raised, graphql-core completes the value the resolver returned, or reports the
    exception it raised, exactly as in Strawberry's run: the same errors, paths and masking.
    (Giving up inside the hooks would also have the admin-write audit record a failed attempt
    before Strawberry's own.)"""

    field: GraphQLField
    node: FieldNode
    key: str
    call: PreparedCall
    completion: _Completion
    coerce_variables: planned_variables.CoerceVariables | None

    async def answer(
        self,
        schema: strawberry.Schema,
        variables: Any,
        context: Any,
        operation_extensions: dict[str, Any] | None = None,
    ) -> bytes:
        variables = self.variables_of(variables)
        core_schema = graphql_schema(schema)
        try:
            planned = (
                self.coerce_variables(variables) if self.coerce_variables is not None else None
            )
            coerced = (
                planned
                if planned is not None
                else get_variable_values(
                    core_schema, self.operation.variable_definitions or (), variables
                )
            )
            if not isinstance(coerced, VariableValues):
                raise GiveUpError
            facts = OperationFacts(
                core_schema, self.operation, coerced.coerced, context, operation_extensions
            )
            path = Path(None, self.key, self.root.name)
            info = resolve_info(facts, [self.node], self.field.type, self.root, path)
            write = self.call(None, info, get_argument_values(self.field, self.node, coerced))
        except GiveUpError:
            raise
        except Exception as error:
            raise GiveUpError from error
        request = _Request(facts, coerced)
        key = self.key
        completion = self.completion

        async def execute(execution_context: Any) -> ExecutionResult:
            # From here on the write may have happened: no giving up.
            try:
                value = await write()
            except Exception as error:
                return await complete_by_graphql_core(schema, execution_context, key, raised=error)
            try:
                if completion.sync is not None:
                    answer = completion.sync(value)
                else:
                    assert completion.run is not None
                    answer = await completion.run(value, request, path)
            except Exception:
                return await complete_by_graphql_core(schema, execution_context, key, value=value)
            return ExecutionResult(data={key: answer})

        answer = await run_observed_write(
            schema, self.observed(variables, context, operation_extensions), execute
        )
        # In the order and shape of Strawberry's `process_result`.
        body: dict[str, Any] = {"data": answer.data}
        if answer.errors:
            body["errors"] = [error.formatted for error in answer.errors]
        if answer.extensions:
            body["extensions"] = answer.extensions
        return encode_answer(body)
