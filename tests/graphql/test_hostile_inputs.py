"""A hostile-input sweep over the whole schema: every argument and input field of every mutation
and query gets values that have broken servers before (a lone surrogate, NUL, 100 KB strings,
numbers past every range, naive and impossible datetimes, ids of the wrong type), one field at a
time on top of an otherwise plausible request, as an admin key would send them.

Whatever it sends, Laurel answers with JSON and a status below 500, and never with the masked
"Unexpected error": bad input is refused at the edge with a code. Runs on both databases,
because each refuses different things (PostgreSQL: NUL in text, lengths of varchar columns).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, create_reward, enroll, member_token, program_key

SCHEMA = graphql.build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())

# Raw JSON texts, so that values json.dumps would never write (a lone surrogate is written as
# its escape, which any decoder reads back; 1e400 and NaN are not JSON numbers at all).
HOSTILE_TEXT = [
    r'"\ud800"',
    r'"a\u0000b"',
    json.dumps("x" * 100_000),
    '""',
    json.dumps("😀" * 300),
    json.dumps("' OR 1=1 --"),
]
HOSTILE_BY_SCALAR: dict[str, list[str]] = {
    "String": HOSTILE_TEXT,
    "ID": [*HOSTILE_TEXT, json.dumps("UmV3YXJkOjE"), json.dumps("TWVtYmVyOjk5OTk5OTk5OTk5")],
    "Int": ["2147483648", "-1", "0", "1e400", "9223372036854775808"],
    "Float": ["1e400", "-1e400", "NaN", "1e-400"],
    "Boolean": ['"true"', "1"],
    "DateTime": [
        '"2026-01-01T00:00:00"',
        '"0001-01-01T00:00:00Z"',
        '"9999-12-31T23:59:59+14:00"',
        '"2026-02-30T00:00:00Z"',
        r'"2026-01-01T00:00:00\ud800Z"',
    ],
    "Date": ['"0000-01-01"', '"2026-13-01"', '"9999-12-31"'],
    "JSON": ["1e400", "[" * 20 + "]" * 20, r'{"\ud800": 1}'],
}
DEFAULT_HOSTILE = ['"\\ud800"', "1e400", "null"]


@dataclass(frozen=True)
class Known:
    """Ids of real rows, so that a request gets past the lookups to the code behind them."""

    program_id: str
    member_id: str
    reward_id: str


def _baseline(name: str, type_: graphql.GraphQLInputType, known: Known, depth: int = 0) -> Any:
    """A plausible value for an input of `type_` named `name`: required fields only."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return _baseline(name, type_.of_type, known, depth)
    if isinstance(type_, graphql.GraphQLList):
        return [_baseline(name, type_.of_type, known, depth)]
    if isinstance(type_, graphql.GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        return {
            field_name: _baseline(field_name, field.type, known, depth + 1)
            for field_name, field in type_.fields.items()
            if graphql.is_required_input_field(field) and depth < 6
        }
    assert isinstance(type_, graphql.GraphQLScalarType)
    lowered = name.lower()
    plain: dict[str, Any] = {
        "Int": 1,
        "Float": 1.0,
        "Boolean": True,
        "DateTime": "2026-01-01T00:00:00Z",
        "Date": "2026-01-01",
        "JSON": {},
    }
    if type_.name in plain:
        return plain[type_.name]
    if lowered == "programslug":
        return "shop"
    if lowered.endswith("currency"):
        return "EUR"
    if "email" in lowered:
        return "someone@example.com"
    if type_.name == "ID":
        if "reward" in lowered:
            return known.reward_id
        if "program" in lowered:
            return known.program_id
        return known.member_id
    if "customerid" in lowered:
        return "cust-1"
    return "hostile-sweep"


@dataclass(frozen=True)
class Leaf:
    """A scalar inside an operation's arguments: the path to it and its scalar type."""

    path: tuple[str | int, ...]
    scalar: str


def _leaves(
    type_: graphql.GraphQLInputType, path: tuple[str | int, ...], depth: int = 0
) -> Iterator[Leaf]:
    named = graphql.get_named_type(type_)
    if isinstance(named, graphql.GraphQLInputObjectType):
        if depth > 4:
            return
        inner = type_
        while isinstance(inner, graphql.GraphQLNonNull):
            inner = inner.of_type
        prefix = (*path, 0) if isinstance(inner, graphql.GraphQLList) else path
        for field_name, field in named.fields.items():
            yield from _leaves(field.type, (*prefix, field_name), depth + 1)
    elif isinstance(named, graphql.GraphQLScalarType):
        yield Leaf(path, named.name)
    else:
        yield Leaf(path, "enum")


def _document(kind: str, field_name: str, field: graphql.GraphQLField) -> str:
    """`field` with every argument as a variable, selecting `__typename` (and `userErrors`)."""
    declarations = ", ".join(f"${name}: {arg.type}" for name, arg in field.args.items())
    arguments = ", ".join(f"{name}: ${name}" for name in field.args)
    named = graphql.get_named_type(field.type)
    selection = ""
    if isinstance(named, (graphql.GraphQLObjectType, graphql.GraphQLInterfaceType)):
        selection = (
            " { __typename"
            + (" userErrors { code field }" if "userErrors" in named.fields else "")
            + " }"
        )
    elif isinstance(named, graphql.GraphQLUnionType):
        selection = " { __typename }"
    head = f"{kind} Sweep({declarations})" if declarations else f"{kind} Sweep"
    call = f"{field_name}({arguments})" if arguments else field_name
    return f"{head} {{ {call}{selection} }}"


_MARK = "\u0000HOSTILE\u0000"


def _with_hostile(variables: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any] | None:
    """The variables with a marker at `path` (made if missing); None if the path cannot be set."""
    copy: Any = json.loads(json.dumps(variables))
    target = copy
    for step, following in itertools.pairwise(path):
        if isinstance(step, int):
            if not isinstance(target, list) or not target:
                return None
            target = target[0]
            continue
        if not isinstance(target, dict):
            return None
        if target.get(step) is None:
            target[step] = [{}] if isinstance(following, int) else {}
        target = target[step]
    last = path[-1]
    if isinstance(last, int) or not isinstance(target, dict):
        return None
    target[last] = _MARK
    result: dict[str, Any] = copy
    return result


def _requests(known: Known) -> Iterator[tuple[str, str]]:
    """(label, raw JSON body) for every hostile value of every leaf, rotating."""
    roots = [("mutation", SCHEMA.mutation_type), ("query", SCHEMA.query_type)]
    for kind, root in roots:
        assert root is not None
        for field_name, field in root.fields.items():
            document = _document(kind, field_name, field)
            variables = {
                name: _baseline(name, arg.type, known)
                for name, arg in field.args.items()
                if isinstance(arg.type, graphql.GraphQLNonNull)
            }
            turn = 0
            for arg_name, arg in field.args.items():
                for leaf in _leaves(arg.type, (arg_name,)):
                    values = HOSTILE_BY_SCALAR.get(leaf.scalar, DEFAULT_HOSTILE)
                    # Every value on the first leaves, then one value a leaf, by turns.
                    chosen = values if turn < 2 else [values[turn % len(values)]]
                    turn += 1
                    with_mark = _with_hostile(variables, leaf.path)
                    if with_mark is None:
                        continue
                    template = json.dumps({"query": document, "variables": with_mark})
                    marker = json.dumps(_MARK)
                    for value in chosen:
                        label = f"{field_name} {'.'.join(map(str, leaf.path))}={value[:40]}"
                        yield label, template.replace(marker, value)


async def _known(api: Api) -> Known:
    program = await create_program(api)
    member = await enroll(api, customer_id="cust-1")
    reward = await create_reward(api)
    return Known(program_id=program["id"], member_id=member["id"], reward_id=reward["id"])


def _problem(status: int, content_type: str, text: str) -> str | None:
    if status >= 500:
        return f"HTTP {status}"
    if "json" not in content_type:
        return f"HTTP {status} {content_type}"
    body = json.loads(text)
    for error in body.get("errors") or []:
        if "Unexpected error" in error.get("message", ""):
            return "masked unexpected error"
    return None


async def _sweep(api: Api, known: Known, headers: dict[str, str]) -> None:
    problems: list[str] = []
    sent = 0
    for label, body in _requests(known):
        response = await api.http.post(
            "/graphql",
            content=body.encode(),
            headers={**headers, "Content-Type": "application/json"},
        )
        sent += 1
        problem = _problem(
            response.status_code, response.headers.get("content-type", ""), response.text
        )
        if problem is not None:
            problems.append(f"{label}: {problem}: {response.text[:300]}")
    assert sent > 500
    assert problems == [], "\n".join(problems)


async def test_hostile_inputs_get_a_clear_answer_and_never_a_server_error(api: Api) -> None:
    api.check_plans = False
    known = await _known(api)
    await _sweep(api, known, {"Authorization": f"Bearer {api.admin_key}"})


async def test_hostile_inputs_from_a_storefront_get_a_clear_answer(api: Api) -> None:
    """As a shopper's browser sends them: the publishable key and a member token."""
    api.check_plans = False
    known = await _known(api)
    member = await api.data(
        "query($id: ID!) { member(id: $id) { customerId } }", {"id": known.member_id}
    )
    token = await member_token(api, member["member"]["customerId"])
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    await _sweep(api, known, {"Authorization": f"Bearer {publishable}", "X-Member-Token": token})
