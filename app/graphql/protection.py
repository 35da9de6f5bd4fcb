"""What keeps a hostile query from hurting the service, before any database work:

- a cost limit (`QueryCostLimit`): every field costs 1, and what sits under a list that takes
  `first` counts `first` times (10 when the argument is left out); over `MAX_QUERY_COST` the
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
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule, validate
from strawberry.extensions import MaskErrors, SchemaExtension

logger = logging.getLogger("laurel.graphql")

MAX_QUERY_COST = 5000
DEFAULT_PAGE = 10


class QueryCostLimit(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        cost = self._cost(node.selection_set, set())
        if cost > MAX_QUERY_COST:
            self.report_error(
                GraphQLError(
                    f"the query costs {cost}, more than the limit of {MAX_QUERY_COST}:"
                    " ask for fewer items (`first`) or fewer fields",
                    node,
                    extensions={"code": "QUERY_TOO_COSTLY"},
                )
            )

    def _cost(self, selection_set: SelectionSetNode | None, fragments_seen: set[str]) -> int:
        if selection_set is None:
            return 0
        context: ValidationContext = self.context
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self._cost(selection.selection_set, fragments_seen)
                total += 1 + _page_size(selection, context) * inner
            elif isinstance(selection, InlineFragmentNode):
                total += self._cost(selection.selection_set, fragments_seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = context.get_fragment(name)
                # A fragment spread twice is counted twice; a cycle is refused by other rules.
                if fragment is not None and name not in fragments_seen:
                    total += self._cost(fragment.selection_set, fragments_seen | {name})
        return total


def _page_size(field: FieldNode, context: ValidationContext) -> int:
    if field.selection_set is None:
        return 1
    for argument in field.arguments or ():
        if argument.name.value != "first":
            continue
        if isinstance(argument.value, IntValueNode):
            return max(1, int(argument.value.value))
        if isinstance(argument.value, VariableNode):
            # The variable's value is not known while validating: assume the page maximum.
            return 100
    return DEFAULT_PAGE if field.name.value in _PAGED_FIELDS else 1


# Connections that return a page even when `first` is left out.
_PAGED_FIELDS = frozenset({"activity", "events"})


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
                self.execution_context.schema._schema, document, [NoSchemaIntrospectionCustomRule]
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

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected)

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
