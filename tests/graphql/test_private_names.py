"""Strawberry's and graphql-core's private names are used in app/graphql/executor_adapter.py
and nowhere else in app/, so an upgrade that moves one breaks one module, which its own tests
(test_executor_adapter.py) cover.

Private: a name with one leading underscore that the two packages define (a module, class,
function, or attribute they assign), found by reading their installed sources; imported from
them, read as an attribute of anything but `self` or `cls`, or named in `getattr`.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import graphql
import strawberry

APP = Path(__file__).resolve().parents[2] / "app"
ADAPTER = APP / "graphql" / "executor_adapter.py"
LIBRARIES = ("strawberry", "graphql")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@cache
def library_private_names() -> frozenset[str]:
    names: set[str] = set()
    for package in (strawberry, graphql):
        assert package.__file__ is not None
        root = Path(package.__file__).parent
        for source in root.rglob("*.py"):
            names.update(part for part in source.relative_to(root).parts if _is_private(part))
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    name = node.name
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    name = node.attr
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    name = node.id
                else:
                    continue
                if _is_private(name):
                    names.add(name.removesuffix(".py"))
    return frozenset(names)


def private_uses(source: str) -> list[str]:
    """Where `source` uses a private name of Strawberry or graphql-core."""
    private = library_private_names()
    uses: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
            parts = [*(node.module or "").split("."), *(alias.name for alias in node.names)]
            uses.extend(f"line {node.lineno}: import {part}" for part in parts if _is_private(part))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in LIBRARIES and any(_is_private(part) for part in parts):
                    uses.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in private:
            receiver = node.value
            if not (isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")):
                uses.append(f"line {node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in private
        ):
            uses.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return uses


def test_the_check_finds_what_it_looks_for() -> None:
    assert "_schema" in library_private_names()
    assert "_is_default" in library_private_names()
    found = private_uses(
        "from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo\n"
        "import strawberry.utils._private\n"
        "x = schema._schema\n"
        "y = getattr(resolve, '_is_default', False)\n"
        "z = self._schema\n"
    )
    assert found == [
        "line 1: import _OperationContextAwareGraphQLResolveInfo",
        "line 2: import strawberry.utils._private",
        "line 3: ._schema",
        "line 4: getattr(..., '_is_default')",
    ]


def test_only_the_adapter_uses_private_names_of_strawberry_or_graphql_core() -> None:
    offenders = {
        str(path.relative_to(APP.parent)): uses
        for path in sorted(APP.rglob("*.py"))
        if path != ADAPTER and (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_adapter_is_where_they_are() -> None:
    assert private_uses(ADAPTER.read_text(encoding="utf-8")), (
        "nothing private left in the adapter: fold it away, and this test with it"
    )
