"""The one way a Strawberry type is built from a service record, and a service input from a
GraphQL input: fields of the same name are copied, the resolver names only what differs.

Record to type (`from_record`), field by field:
- `id`: the record's `id` as a global id of the type's GraphQL name (`Node` types);
- `pk` (private): the record's `id` as it is;
- `<name>_pk` (private): the record's `<name>_id`;
- `<name>_value` (private, behind a resolver that hides it from some readers): `<name>`;
- anything else: the record's attribute of that name, a tuple given as a list;
- a field with a default that the record does not have keeps its default.

GraphQL input to service input (`service_input`), field by field of the service dataclass:
- a field named in `ids`: the input's global id (or null) decoded as that type, an error
  pointing at `["input", "<camelName>"]`;
- anything else: the input's attribute of that name, a list given as a tuple where the
  service declares a tuple;
- a field with a default that the input does not have keeps its default.
Keyword overrides win over both, for what is computed or named differently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.graphql.core.ids import decode_id, encode_id

T = TypeVar("T")

# One step of a conversion: (field name, how its value is read from the source).
_Step = tuple[str, Callable[[Any], Any]]


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _is_tuple(field: dataclasses.Field[Any]) -> bool:
    return str(field.type).startswith("tuple")


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _record_source(name: str) -> str:
    if name == "pk":
        return "id"
    if name.endswith("_pk"):
        return name[: -len("_pk")] + "_id"
    if name.endswith("_value"):
        return name[: -len("_value")]
    return name


def _record_step(type_name: str, name: str, source: str) -> Callable[[Any], Any]:
    if name == "id":
        return lambda record: strawberry.ID(encode_id(type_name, record.id))
    return lambda record: _as_list(getattr(record, source))


def _attributes(record_type: type[Any]) -> set[str]:
    fields = dataclasses.fields(record_type) if dataclasses.is_dataclass(record_type) else ()
    return {field.name for field in fields} | set(dir(record_type))


def _build_record_steps(cls: type[Any], record_type: type[Any]) -> tuple[_Step, ...]:
    type_name = cls.__strawberry_definition__.name
    attributes = _attributes(record_type)
    steps: list[_Step] = []
    for field in dataclasses.fields(cls):
        source = _record_source(field.name)
        if not field.init or (_has_default(field) and source not in attributes):
            continue
        steps.append((field.name, _record_step(type_name, field.name, source)))
    return tuple(steps)


# Worked out once per (type, record type): building a type is on every read path.
_record_steps_cache: dict[tuple[type[Any], type[Any]], tuple[_Step, ...]] = {}


def _record_steps(cls: type[Any], record_type: type[Any]) -> tuple[_Step, ...]:
    key = (cls, record_type)
    steps = _record_steps_cache.get(key)
    if steps is None:
        steps = _record_steps_cache[key] = _build_record_steps(cls, record_type)
    return steps


def from_record(cls: type[T], record: Any, /, **overrides: Any) -> T:
    """An instance of the Strawberry type `cls` with the record's values (rules above)."""
    values = {
        name: read(record)
        for name, read in _record_steps(cls, type(record))
        if name not in overrides
    }
    return cls(**values, **overrides)


def service_input(
    input: Any,
    target: type[T],
    /,
    *,
    ids: Mapping[str, str] | None = None,
    at: Sequence[str] = ("input",),
    **overrides: Any,
) -> T:
    """The service dataclass `target` filled from a GraphQL input (rules above); `at` is where
    the input stands in the mutation's arguments, for the field paths of invalid ids."""
    ids = ids or {}
    values: dict[str, Any] = {}
    for field in dataclasses.fields(target):  # type: ignore[arg-type]
        name = field.name
        if name in overrides:
            values[name] = overrides[name]
        elif name in ids:
            global_id = getattr(input, name)
            values[name] = (
                None
                if global_id is None
                else decode_id(global_id, ids[name], [*at, to_camel_case(name)])
            )
        elif field.init and (hasattr(input, name) or not _has_default(field)):
            value = getattr(input, name)
            values[name] = _as_tuple(value) if _is_tuple(field) else value
    return target(**values)
