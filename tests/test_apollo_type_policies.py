"""docs/apollo-type-policies.json, the typePolicies docs/api.md tells Apollo Client users to
install, must name every object type without an id (so Apollo merges it into its parent instead
of replacing it) and every connection field (relay pagination with the field's filters as key
arguments): a type or connection added to the schema without it fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import graphql

ROOT = Path(__file__).parents[1]
SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text())
POLICIES: dict[str, Any] = json.loads((ROOT / "docs" / "apollo-type-policies.json").read_text())
NOT_CACHED_ALONE = ("Connection", "Edge", "Payload")


def _object_types() -> dict[str, graphql.GraphQLObjectType]:
    return {
        name: type_
        for name, type_ in SCHEMA.type_map.items()
        if isinstance(type_, graphql.GraphQLObjectType) and not name.startswith("__")
    }


def test_every_object_without_an_id_is_merged_into_its_parent() -> None:
    id_less = {
        name
        for name, type_ in _object_types().items()
        if "id" not in type_.fields
        and name not in {"Query", "Mutation", "Subscription", "PageInfo"}
        and not name.endswith(NOT_CACHED_ALONE)
    }
    assert id_less
    for name in id_less:
        assert POLICIES.get(name, {}).get("keyFields") is False, name
        assert POLICIES[name].get("merge") is True, name


def test_every_connection_field_is_paginated_by_its_filters() -> None:
    expected: dict[tuple[str, str], list[str] | bool] = {}
    for type_name, type_ in _object_types().items():
        for field_name, field in type_.fields.items():
            if graphql.get_named_type(field.type).name.endswith("Connection"):
                filters = [arg for arg in field.args if arg not in ("first", "after")]
                expected[(type_name, field_name)] = filters or False
    documented = {
        (type_name, field_name): policy["relayStylePagination"]
        for type_name, type_policy in POLICIES.items()
        for field_name, policy in type_policy.get("fields", {}).items()
    }
    assert expected
    assert documented == expected
