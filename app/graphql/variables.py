"""Variables coerced by a coercer worked out once per operation: graphql-core's
`get_variable_values`, planned, for the mutation plans of app/graphql/compiled.py (`WritePlan`).
Where it cannot answer exactly as graphql-core would, it answers None and graphql-core decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableValues,
)
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValueSource
from graphql.pyutils import Undefined, is_iterable
from graphql.type import is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value


class _UnplannableInputError(Exception):
    """An input type the coercer does not cover: graphql-core coerces it."""


Coerce = Callable[[Any], Any]
CoerceVariables = Callable[[dict[str, Any]], VariableValues | None]


def variables_coercer(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> CoerceVariables | None:
    """graphql-core's `get_variable_values` for one operation, planned: each variable's
    coercion worked out from its type once (graphql-core walks the type again for every value:
    an order's input is about a fifth of what its plan costs besides the order itself). It
    covers the variables it is given, whose values coerce; for anything else (a default to
    apply, a required variable left out, a value that does not coerce, one-of inputs) it answers
    None, and graphql-core's own coercion decides, errors and all."""
    variables: list[tuple[str, Any, Coerce, bool]] = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError) or node.default_value is not None:
            return None
        try:
            coerce = _coercer(signature.type)
        except _UnplannableInputError:
            return None
        variables.append(
            (signature.name, signature, coerce, isinstance(signature.type, GraphQLNonNull))
        )

    def coerce_variables(inputs: dict[str, Any]) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for name, signature, coerce, required in variables:
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if required:
                    return None
                sources[name] = VariableValueSource(signature)
                continue
            sources[name] = VariableValueSource(signature, value)
            try:
                coerced_value = coerce(value)
            except RecursionError:
                return None
            if coerced_value is Undefined:
                return None
            coerced[name] = coerced_value
        return VariableValues(sources, coerced)

    return coerce_variables


def _coercer(type_: GraphQLInputType) -> Coerce:
    """`coerce_input_value` of graphql-core for one type: the same value, or Undefined."""
    if isinstance(type_, GraphQLNonNull):
        inner = _coercer(type_.of_type)

        def coerce_non_null(value: Any) -> Any:
            return Undefined if value is None or value is Undefined else inner(value)

        return coerce_non_null
    if isinstance(type_, GraphQLList):
        item = _coercer(type_.of_type)

        def coerce_list(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            if not is_iterable(value):
                single = item(value)
                return Undefined if single is Undefined else [single]
            items = []
            for entry in value:
                coerced = item(entry)
                if coerced is Undefined:
                    return Undefined
                items.append(coerced)
            return items

        return coerce_list
    if isinstance(type_, GraphQLInputObjectType):
        return _input_object_coercer(type_)
    if isinstance(type_, (GraphQLScalarType, GraphQLEnumType)):
        coerce_leaf = type_.coerce_input_value

        def coerce_value(value: Any) -> Any:
            if value is None or value is Undefined:
                return None
            try:
                return coerce_leaf(value)
            except Exception:
                return Undefined

        return coerce_value
    raise _UnplannableInputError("an input type plans do not know")


_input_coercers: dict[GraphQLInputObjectType, Coerce] = {}


def _input_object_coercer(type_: GraphQLInputObjectType) -> Coerce:
    known = _input_coercers.get(type_)
    if known is not None:
        return known
    if type_.is_one_of:
        raise _UnplannableInputError("one-of inputs are left to graphql-core")
    fields: list[tuple[str, str, Coerce, bool, Any]] = []
    names = type_.fields.keys()
    out_type = type_.out_type

    def coerce_input(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, dict):
            return Undefined
        for name, field_value in value.items():
            if field_value is not Undefined and name not in names:
                return Undefined
        coerced: dict[str, Any] = {}
        for name, out_name, coerce, required, field in fields:
            field_value = value.get(name, Undefined)
            if field_value is Undefined:
                if required:
                    return Undefined
                default = coerce_default_value(field)
                if default is not Undefined:
                    coerced[out_name] = default
                continue
            coerced_field = coerce(field_value)
            if coerced_field is Undefined:
                return Undefined
            coerced[out_name] = coerced_field
        return out_type(coerced)

    _input_coercers[type_] = coerce_input  # before its fields: an input may hold itself
    try:
        fields.extend(
            (
                name,
                field.out_name or name,
                _coercer(field.type),
                is_required_input_field(field),
                field,
            )
            for name, field in type_.fields.items()
        )
    except _UnplannableInputError:
        del _input_coercers[type_]
        raise
    return coerce_input
