"""Everything query plans (app/graphql/compiled.py) need from Strawberry beyond its documented
API, in one place: the one module allowed to name Strawberry's internals.

A plan calls Strawberry's own field resolvers and serialisers, so it needs what Strawberry's
executor gives them: the graphql-core schema a `strawberry.Schema` wraps, the resolve-info
class whose `operation_extensions` Strawberry's `Info.input_extensions` reads, and the facts
Strawberry keeps on each converted field (its definition, whether its resolver is the default
attribute read). Strawberry renames these between releases; tests/graphql/
test_executor_adapter.py fails when one of them moves, and CI runs the suite against the newest
Strawberry (.ci/run), so a drift shows up here and nowhere else.

It also runs the schema extensions around a planned read, with the semantics of Strawberry's
own runner: every extension's `on_operation` and `on_execute` hooks see the read, as they see
any request, an extension that sets the result in `on_execute` (a cache) is obeyed, and
`get_results` goes into the answer's `extensions`. `on_parse`
and `on_validate` do not run again: a plan exists only for a document that was parsed and
validated by the same extensions, from the same text, when it was planned.

A planned mutation needs two more things: its root resolver split in two, the conversion of
its arguments into Strawberry's input objects (which may fail, and then the plan gives up)
apart from the call of the resolver through its field extensions (which writes, so it happens
once); and graphql-core's own completion of a value the resolver has already returned (or of
the exception it raised), for the answers a plan does not complete itself.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import MISSING, dataclass
from functools import partial, reduce
from inspect import isawaitable
from typing import Any, Literal

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    MiddlewareManager,
    OperationDefinitionNode,
    execute,
)
from graphql.pyutils import Path
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

# A release that moves these turns plans off, not the app: every request then goes to Strawberry.
try:
    from strawberry.extensions.field_extension import build_field_extension_resolvers
    from strawberry.relay.types import GlobalID
    from strawberry.resolvers import is_default_resolver
    from strawberry.scalars import is_scalar
    from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo
    from strawberry.schema.schema_converter import GraphQLCoreConverter, get_arguments
    from strawberry.types.base import (
        StrawberryList,
        StrawberryMaybe,
        StrawberryOptional,
        has_object_definition,
    )
    from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
    from strawberry.types.unset import UNSET
except ImportError:
    INTERNALS_FOUND = False
else:
    INTERNALS_FOUND = True
    _DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built and executes."""
    return schema._schema


@dataclass(frozen=True)
class OperationFacts:
    """What the resolvers of one operation may ask their `info` for (one per request)."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    variables: dict[str, Any]
    context: Any
    operation_extensions: dict[str, Any] | None


def resolve_info(
    facts: OperationFacts,
    field_nodes: list[FieldNode],
    return_type: GraphQLOutputType,
    parent_type: GraphQLObjectType,
    path: Path,
) -> GraphQLResolveInfo[Any]:
    """The info Strawberry's executor hands a field resolver (`build_resolve_info` of its
    execution context): graphql-core's, plus the operation's extensions."""
    return _OperationContextAwareGraphQLResolveInfo(  # type: ignore[return-value]
        field_name=field_nodes[0].name.value,
        field_nodes=field_nodes,
        return_type=return_type,
        parent_type=parent_type,
        path=path,
        schema=facts.schema,
        fragments={},  # plans refuse documents with fragments
        root_value=None,  # as Strawberry's view passes it
        operation=facts.operation,
        variable_values=facts.variables,
        context=facts.context,
        is_awaitable=isawaitable,
        abort_signal=None,
        async_helpers=None,
        operation_extensions=facts.operation_extensions,  # type: ignore[arg-type]
    )


def strawberry_definition(holder: GraphQLField | GraphQLObjectType) -> Any:
    """The Strawberry field or type a graphql-core field or object type was converted from."""
    return holder.extensions.get(_DEFINITION)


def reads_attribute_only(field: GraphQLField) -> bool:
    """A field that only reads the attribute of its Python name: Strawberry's default resolver,
    no resolver of its own, no field extensions and no permission classes (those run only
    through `field.resolve`)."""
    definition = strawberry_definition(field)
    return (
        field.resolve is not None
        and is_default_resolver(field.resolve)
        and definition is not None
        and getattr(definition, "base_resolver", None) is None
        and not getattr(definition, "extensions", None)
        and not getattr(definition, "permission_classes", None)
    )


def python_name(field: GraphQLField) -> str | None:
    """The attribute a plain field reads."""
    name = getattr(strawberry_definition(field), "python_name", None)
    return name if isinstance(name, str) else None


def field_metadata(field: GraphQLField) -> Mapping[str, Any]:
    """The `metadata` given to `strawberry.field`."""
    metadata = getattr(strawberry_definition(field), "metadata", None)
    return metadata if isinstance(metadata, Mapping) else {}


def type_origin(object_type: GraphQLObjectType) -> type | None:
    """The Python class of a Strawberry object type."""
    origin = getattr(strawberry_definition(object_type), "origin", None)
    return origin if isinstance(origin, type) else None


def has_field_middleware(schema: strawberry.Schema) -> bool:
    """Whether an extension wraps every resolver call (`resolve`): plans call resolvers
    directly, past graphql-core's middleware, so they must then leave every document to
    Strawberry."""
    return any(
        type(extension).resolve is not SchemaExtension.resolve
        for extension in schema.get_extensions()
    )


def plans_supported(schema: strawberry.Schema) -> bool:
    """Whether plans can answer for this schema with the installed Strawberry."""
    return INTERNALS_FOUND and not has_field_middleware(schema)


# How each extension class implements a hook: None where it keeps SchemaExtension's no-op.
_HookKind = Literal["generator", "async generator", "coroutine", "function"]
_hook_kinds: dict[tuple[type[SchemaExtension], str], _HookKind | None] = {}


def _hook_kind(cls: type[SchemaExtension], name: str) -> _HookKind | None:
    key = (cls, name)
    if key in _hook_kinds:
        return _hook_kinds[key]
    hook = getattr(cls, name)
    kind: _HookKind | None
    if hook is getattr(SchemaExtension, name):
        kind = None
    elif inspect.isgeneratorfunction(hook):
        kind = "generator"
    elif inspect.isasyncgenfunction(hook):
        kind = "async generator"
    elif inspect.iscoroutinefunction(hook):
        kind = "coroutine"
    else:
        kind = "function"
    _hook_kinds[key] = kind
    return kind


class _Hooks:
    """One lifecycle hook (`on_operation`, `on_execute`) of each extension around a block, with
    Strawberry's semantics: entered in the extensions' order, left in the reverse order, a
    function hook called on entry. Strawberry's own runner wraps each hook in a context manager
    and an exit stack on every request, which costs a planned read about a fifth of its time
    (scripts/bench-reads); this drives the generators directly. When the block is interrupted
    (a cancelled request), every hook entered is closed, so its `finally` runs."""

    def __init__(self, extensions: list[SchemaExtension], name: str) -> None:
        self._extensions = extensions
        self._name = name
        self._entered: list[Generator[None, None, None] | AsyncGenerator[None, None]] = []

    async def enter(self) -> None:
        for extension in self._extensions:
            kind = _hook_kind(type(extension), self._name)
            if kind is None:
                continue
            hook = getattr(extension, self._name)()  # a plain function hook has now run
            if kind == "generator":
                next(hook)
                self._entered.append(hook)
            elif kind == "async generator":
                await hook.__anext__()
                self._entered.append(hook)
            elif kind == "coroutine":
                await hook

    async def leave(self) -> None:
        while self._entered:
            hook = self._entered.pop()
            if isinstance(hook, Generator):
                for _ in hook:
                    raise RuntimeError(f"{self._name} of {hook} yielded twice")
            else:
                async for _ in hook:
                    raise RuntimeError(f"{self._name} of {hook} yielded twice")

    async def close(self) -> None:
        while self._entered:
            hook = self._entered.pop()
            if isinstance(hook, Generator):
                hook.close()
            else:
                await hook.aclose()


class NoResultError(Exception):
    """The execution inside the extensions' hooks gave no answer; Strawberry will."""


@dataclass(frozen=True)
class ObservedAnswer:
    data: dict[str, Any]
    extensions: dict[str, Any]


# An extension class sets this when its `on_operation`, `on_execute` and `get_results` have
# nothing to do for a planned read: a query answered without errors (the app's own error
# masking and admin-write audit). Planned reads skip the hooks when no other extension has any.
QUIET_FOR_PLANNED_READS = "quiet_for_planned_reads"
_OBSERVED_HOOKS = ("on_operation", "on_execute", "get_results")
# Keyed by the entries themselves, not their ids: a list swapped out and collected could hand
# its ids to another list with other extensions.
_observing_by_extension_list: dict[tuple[Any, ...], bool] = {}


def _observes_planned_reads(extension: SchemaExtension) -> bool:
    cls = type(extension)
    if getattr(cls, QUIET_FOR_PLANNED_READS, False):
        return False
    return any(_hook_kind(cls, name) is not None for name in _OBSERVED_HOOKS)


def planned_reads_observed(schema: strawberry.Schema) -> bool:
    """Whether an extension of `schema` wants to see planned reads; worked out once for each
    extension list the schema has (tests and tools may swap it)."""
    key = tuple(schema.extensions)
    observed = _observing_by_extension_list.get(key)
    if observed is None:
        observed = any(map(_observes_planned_reads, schema.get_extensions()))
        _observing_by_extension_list[key] = observed
    return observed


@dataclass(frozen=True)
class ObservedRequest:
    """What the extensions' hooks of a planned operation see of its request."""

    query: str
    document: DocumentNode
    operation_name: str | None
    variables: dict[str, Any]
    context: Any
    operation_extensions: dict[str, Any] | None

    def execution_context(self, schema: strawberry.Schema, *, writes: bool) -> ExecutionContext:
        """Strawberry's execution context of the request, as its `Schema.execute` makes it."""
        execution_context = ExecutionContext(
            query=self.query,
            schema=schema,
            allowed_operations=(
                (OperationType.QUERY, OperationType.MUTATION) if writes else (OperationType.QUERY,)
            ),
            context=self.context,
            variables=self.variables,
            provided_operation_name=self.operation_name,
            operation_extensions=self.operation_extensions,
        )
        execution_context.graphql_document = self.document
        return execution_context


async def run_observed(
    schema: strawberry.Schema,
    request: ObservedRequest,
    execute: Callable[[], Awaitable[dict[str, Any] | None]],
) -> ObservedAnswer:
    """`execute` (a plan: the data, or None where it gives up) inside the `on_operation` and
    `on_execute` hooks of the schema's extensions, as Strawberry's `Schema.execute` runs its
    executor; NoResultError when there is no answer without errors to give."""
    if not planned_reads_observed(schema):
        data = await execute()
        if data is None:
            raise NoResultError
        return ObservedAnswer(data, {})

    async def run(execution_context: ExecutionContext) -> None:
        data = await execute()
        if data is not None:
            execution_context.result = ExecutionResult(data=data)

    execution_context, results = await _run_observed(
        schema, request.execution_context(schema, writes=False), run
    )
    # graphql-core's result, or Strawberry's if an extension set one: both have these two.
    data = getattr(execution_context.result, "data", None)
    if getattr(execution_context.result, "errors", None) or not isinstance(data, dict):
        raise NoResultError
    return ObservedAnswer(data, results)


async def _run_observed(
    schema: strawberry.Schema,
    execution_context: ExecutionContext,
    run: Callable[[ExecutionContext], Awaitable[None]],
) -> tuple[ExecutionContext, dict[str, Any]]:
    """`run` (a plan, which sets the context's result) inside the `on_operation` and
    `on_execute` hooks of the schema's extensions, unless a hook set a result already; then
    the extensions' results (`get_results`, and those they put in the context)."""
    extensions = schema.get_extensions()
    for extension in extensions:
        extension.execution_context = execution_context
    operation = _Hooks(extensions, "on_operation")
    executing = _Hooks(extensions, "on_execute")
    try:
        await operation.enter()
        await executing.enter()
        if not execution_context.result:
            await run(execution_context)
        await executing.leave()
        await operation.leave()
    except BaseException:
        await executing.close()
        await operation.close()
        raise
    results: dict[str, Any] = {}
    for extension in extensions:
        if _hook_kind(type(extension), "get_results") is not None:
            found = extension.get_results()
            results.update(await found if isawaitable(found) else found)
    results.update(execution_context.extensions_results)
    return execution_context, results


# --- planned mutations --------------------------------------------------------------------------

Call = Callable[[], Awaitable[Any]]
"""The resolver's call with its arguments already converted: it writes when awaited."""

PreparedCall = Callable[[Any, GraphQLResolveInfo[Any], dict[str, Any]], Call]


def prepared_call(schema: strawberry.Schema, field: GraphQLField) -> PreparedCall | None:
    """Strawberry's resolver of `field` (`from_resolver` of its converter) in two steps: given
    graphql-core's coerced arguments, the conversion into input objects (it raises where
    Strawberry's would), then a call that runs the field's extensions and its resolver, as the
    resolver graphql-core holds does. None for a field this cannot cover: one without an async
    resolver of its own, or one whose exceptions the schema turns into results.

    The arguments are converted by a converter built once per field (`_argument_converter`)
    where their types allow, else by Strawberry's `get_arguments`: Strawberry's own
    conversion works out each value's type, its Python name and whether it is a leaf again for
    every value of every request (27 calls for one order's input)."""
    definition = strawberry_definition(field)
    converter = getattr(schema, "schema_converter", None)
    if (
        not INTERNALS_FOUND
        or definition is None
        or converter is None
        or getattr(definition, "base_resolver", None) is None
        or not getattr(definition, "is_async", False)
        or converter._get_field_exception_handlers(definition)
    ):
        return None
    chain = build_field_extension_resolvers(definition) if definition.extensions else []
    config = converter.config
    scalar_registry = converter.scalar_registry
    convert = _argument_converter(definition, config, scalar_registry)
    base_resolver = definition.base_resolver

    def arguments_of(
        source: Any, info: Any, arguments: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        if convert is None:
            return get_arguments(
                field=definition,
                source=source,
                info=info,
                kwargs=arguments,
                config=config,
                scalar_registry=scalar_registry,
            )
        # The rest of Strawberry's `get_arguments`, as it is there.
        kwargs = convert(arguments)
        for extension in definition.extensions:
            kwargs = extension.map_arguments(kwargs)
        args: list[Any] = []
        if base_resolver.self_parameter:
            args.append(source)
        if parent_parameter := base_resolver.parent_parameter:
            kwargs[parent_parameter.name] = source
        if root_parameter := base_resolver.root_parameter:
            kwargs[root_parameter.name] = source
        if info_parameter := base_resolver.info_parameter:
            kwargs[info_parameter.name] = info
        return args, kwargs

    def prepare(source: Any, raw_info: GraphQLResolveInfo[Any], arguments: dict[str, Any]) -> Call:
        info = config.info_class(_raw_info=raw_info, _field=definition)
        field_args, field_kwargs = arguments_of(source, info, arguments)
        wants_info = "info" in field_kwargs
        if wants_info:
            field_kwargs.pop("info")

        def get_result(_source: Any, info: Any, **kwargs: Any) -> Any:
            if wants_info:
                kwargs["info"] = info
            return definition.get_result(_source, info=info, args=field_args, kwargs=kwargs)

        async def call() -> Any:
            resolve = reduce(lambda inner, outer: partial(outer, inner), chain, get_result)
            value = resolve(source, info, **field_kwargs)
            return await value if isawaitable(value) else value

        return call

    return prepare


Convert = Callable[[Any], Any]


class _UnsupportedError(Exception):
    """A type whose conversion is left to Strawberry's `convert_argument`."""


def _argument_converter(
    definition: Any, config: Any, scalar_registry: Any
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """Strawberry's `convert_arguments` for one field, planned: for each argument, what its value
    becomes, worked out from its type once. Covers optional and list values, scalars, enums and
    input types built from their fields; None (Strawberry converts) for anything else: `Maybe`,
    global ids, lazy types, inputs that build themselves (`from_input`)."""
    made: dict[Any, Convert] = {}
    try:
        arguments = [
            (
                config.name_converter.from_argument(argument),
                argument.python_name,
                _converter(argument.type, config, scalar_registry, made),
            )
            for argument in definition.arguments
        ]
    except _UnsupportedError:
        return None

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        return {
            python_name: convert_value(values[name])
            for name, python_name, convert_value in arguments
            if name in values
        }

    return convert


def _is_leaf(type_: Any, scalar_registry: Any) -> bool:
    if type_ is GlobalID:
        raise _UnsupportedError
    return bool(is_scalar(type_, scalar_registry)) or isinstance(type_, StrawberryEnumDefinition)


def _converter(type_: Any, config: Any, scalar_registry: Any, made: dict[Any, Convert]) -> Convert:
    if isinstance(type_, StrawberryMaybe):
        raise _UnsupportedError
    if isinstance(type_, StrawberryOptional):
        return _converter(type_.of_type, config, scalar_registry, made)
    if isinstance(type_, StrawberryList):
        item = type_.of_type
        leaf_items = (
            _is_leaf(item.of_type, scalar_registry)
            if isinstance(item, StrawberryOptional) and not isinstance(item, StrawberryMaybe)
            else _is_leaf(item, scalar_registry)
        )
        if leaf_items:

            def copy_list(value: Any) -> Any:
                # A copy: graphql-core hands every request the same default list.
                return value if value is None or value is UNSET else list(value)

            return copy_list
        convert_item = _converter(item, config, scalar_registry, made)

        def convert_list(value: Any) -> Any:
            if value is None or value is UNSET:
                return value
            return [convert_item(entry) for entry in value]

        return convert_list
    if _is_leaf(type_, scalar_registry) or has_enum_definition(type_):
        return _unchanged
    if has_object_definition(type_):
        return _input_converter(type_, config, scalar_registry, made)
    raise _UnsupportedError


def _unchanged(value: Any) -> Any:
    return value


def _input_converter(
    cls: Any, config: Any, scalar_registry: Any, made: dict[Any, Convert]
) -> Convert:
    known = made.get(cls)
    if known is not None:
        return known
    type_definition = cls.__strawberry_definition__
    if type_definition.from_input is not None:
        raise _UnsupportedError
    defaults: dict[str, Any] = (
        {
            field.python_name: None
            for field in type_definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }
        if type_definition.is_input
        else {}
    )
    fields: list[tuple[str, str, Convert]] = []

    def convert_input(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(defaults)
        for name, python_name, convert_field in fields:
            if name in value:
                kwargs[python_name] = convert_field(value[name])
        return cls(**kwargs)

    made[cls] = convert_input  # before its fields: an input may hold itself
    fields.extend(
        (
            config.name_converter.from_field(field),
            field.python_name,
            _converter(
                field.resolve_type(type_definition=type_definition),
                config,
                scalar_registry,
                made,
            ),
        )
        for field in type_definition.fields
    )
    return convert_input


async def complete_by_graphql_core(
    schema: strawberry.Schema,
    execution_context: ExecutionContext,
    root_key: str,
    *,
    value: Any = None,
    raised: Exception | None = None,
) -> ExecutionResult:
    """graphql-core's answer to the operation (Strawberry's `_execute_operation`), with the
    root field `root_key` taking `value`, or raising `raised`, instead of calling its resolver
    again: what a write already did or failed to do is answered exactly as Strawberry answers
    it, errors and their paths included, and nothing is written twice. The errors go through
    the schema's `process_errors` as Strawberry's own run sends them."""

    def substitute(
        next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **arguments: Any
    ) -> Any:
        if info.path.prev is None and info.path.key == root_key:
            if raised is not None:
                raise raised
            return value
        return next_(root, info, **arguments)

    document = execution_context.graphql_document
    assert document is not None
    result = execute(
        graphql_schema(schema),
        document,
        root_value=None,
        middleware=MiddlewareManager(substitute),
        variable_values=execution_context.variables,
        operation_name=execution_context.operation_name,
        context_value=execution_context.context,
        executor_class=schema.execution_context_class,
        operation_extensions=execution_context.operation_extensions,
    )
    if isawaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    if result.errors:
        schema._process_errors(result.errors, execution_context)
    return result


@dataclass(frozen=True)
class WriteAnswer:
    data: dict[str, Any] | None
    errors: list[GraphQLError]
    extensions: dict[str, Any]


async def run_observed_write(
    schema: strawberry.Schema,
    request: ObservedRequest,
    execute: Callable[[ExecutionContext], Awaitable[ExecutionResult]],
) -> WriteAnswer:
    """`execute` (a planned mutation: its answer, errors and all) inside the `on_operation` and
    `on_execute` hooks of every extension, as Strawberry's `Schema.execute` runs a mutation: the
    admin-write audit, error masking and any tracing see it. Unlike a planned read, the answer
    may hold errors (masked by the hooks, as Strawberry's are), and no hook is skipped."""

    async def run(execution_context: ExecutionContext) -> None:
        result = await execute(execution_context)
        execution_context.result = result
        if result.errors:
            execution_context.pre_execution_errors = result.errors

    execution_context, results = await _run_observed(
        schema, request.execution_context(schema, writes=True), run
    )
    data = getattr(execution_context.result, "data", None)
    errors = list(getattr(execution_context.result, "errors", None) or ())
    return WriteAnswer(data if isinstance(data, dict) else None, errors, results)
