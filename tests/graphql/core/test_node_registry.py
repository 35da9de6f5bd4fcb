"""`node(id:)` reads each type through the loader that type registered (app/graphql/node.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLObjectType, build_schema

import app.graphql.schema  # noqa: F401  (the schema imports app/graphql/node.py, which registers)
from app.graphql.core.node import node_loader_of, register_node_loader

SCHEMA_FILE = Path(__file__).parents[3] / "schema.graphql"
# Read only through their own admin queries (webhookEndpoints, webhookDeliveries): node(id:)
# answers null for them, as it always has.
NOT_READ_BY_NODE = {"WebhookDelivery", "WebhookEndpoint"}


def _node_types() -> list[str]:
    schema = build_schema(SCHEMA_FILE.read_text())
    return sorted(
        name
        for name, graphql_type in schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType)
        and any(interface.name == "Node" for interface in graphql_type.interfaces)
    )


def test_every_type_with_a_global_id_has_a_node_loader() -> None:
    node_types = _node_types()
    assert "Program" in node_types and "Member" in node_types
    without_loader = {name for name in node_types if node_loader_of(name) is None}
    assert without_loader == NOT_READ_BY_NODE


def test_a_type_registers_its_loader_once() -> None:
    loader = node_loader_of("Program")
    assert loader is not None
    with pytest.raises(ValueError, match="already registered"):
        register_node_loader("Program", loader)
    assert node_loader_of("Program") is loader
