"""What keeps a hostile query from hurting the service, before any database work:

- a cost limit (`QueryCostLimit`): every field costs 1, and what sits under a list that takes
  `first` counts `first` times (its default when the argument is left out, 100 when it is a
  variable); over `MAX_QUERY_COST` the
  query is refused with its cost in the message;
- introspection only for admin keys in production mode (`IntrospectionForAdminsInProduction`);
- masking of unexpected errors with the request id (`MaskErrorsWithRequestId`), which the log
  line carries too, so a store can report one and staff can find it.

Depth, alias and token limits are Strawberry's own (app/graphql/schema.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule, validate
from strawberry.extensions import MaskErrors, SchemaExtension

from app.graphql.executor_adapter import graphql_schema

logger = logging.getLogger("laurel.graphql")

MAX_QUERY_COST = 5000
MAX_PAGE = 100


class QueryCostLimit(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        cost = self._cost(node.selection_set, root, set())
        if cost > MAX_QUERY_COST:
            self.report_error(
                GraphQLError(
                    f"the query costs {cost}, more than the limit of {MAX_QUERY_COST}:"
                    " ask for fewer items (`first`) or fewer fields",
                    node,
                    extensions={"code": "QUERY_TOO_COSTLY"},
                )
            )

    def _cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        fragments_seen: set[str],
    ) -> int:
        if selection_set is None:
            return 0
        context: ValidationContext = self.context
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field = _field_def(parent, selection.name.value)
                inner_type = get_named_type(field.type) if field else None
                inner = self._cost(selection.selection_set, inner_type, fragments_seen)
                total += 1 + _page_size(selection, field) * inner
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    context.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                total += self._cost(selection.selection_set, condition, fragments_seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = context.get_fragment(name)
                # A fragment spread twice is counted twice; a cycle is refused by other rules.
                if fragment is not None and name not in fragments_seen:
                    condition = context.schema.get_type(fragment.type_condition.name.value)
                    total += self._cost(fragment.selection_set, condition, fragments_seen | {name})
        return total


def _field_def(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def _page_size(field: FieldNode, definition: GraphQLField | None) -> int:
    """How many times a field's selection counts: its `first`, given or by default."""
    if field.selection_set is None:
        return 1
    for argument in field.arguments or ():
        if argument.name.value != "first":
            continue
        if isinstance(argument.value, IntValueNode):
            return max(1, int(argument.value.value))
        if isinstance(argument.value, VariableNode):
            # The variable's value is not known while validating: assume the page maximum.
            return MAX_PAGE
    first = definition.args.get("first") if definition else None
    if first is not None and isinstance(first.default_value, int):
        return max(1, first.default_value)
    return 1


class IntrospectionForAdminsInProduction(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context.context
        document = self.execution_context.graphql_document
        query = self.execution_context.query or ""
        if (
            getattr(context, "production", False)
            and not context.principal.is_admin
            and document is not None
            and ("__schema" in query or "__type" in query)
        ):
            errors = validate(
                graphql_schema(self.execution_context.schema),
                document,
                [NoSchemaIntrospectionCustomRule],
            )
            if errors:
                self.execution_context.pre_execution_errors = [
                    GraphQLError(
                        "introspection is for admin keys in production",
                        error.nodes,
                        extensions={"code": "FORBIDDEN"},
                    )
                    for error in errors
                ]
        yield


class MaskErrorsWithRequestId(MaskErrors):
    """Anything that is not a syntax, validation or coded error is a bug: logged with the
    request id, and answered with that id only."""

    # A planned read has no errors to mask: its plan gives up wherever one would arise.
    quiet_for_planned_reads = True

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

    def on_operation(self) -> Iterator[None]:
        # Strawberry's own hook tests the result against a runtime-checkable Protocol, about
        # 20 us a request; an answer without errors (every planned read) needs no test at all.
        # The schema streams nothing (no @defer or @stream), so only the final result counts.
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [  # type: ignore[union-attr]
                self.anonymise_error(error) if self.should_mask_error(error) else error
                for error in errors
            ]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "-")
        logger.error(
            "unexpected error in %s (request id %s)",
            error.path,
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Unexpected error; report request id {request_id}.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_ERROR", "requestId": request_id},
        )


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
