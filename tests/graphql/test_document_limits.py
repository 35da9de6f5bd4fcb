"""Every document is parsed and validated under the schema's limits (app/graphql/core/
document_limits.py): tokens, depth and aliases here; cost in core/test_hardening.py."""

from __future__ import annotations

from app.graphql.schema import schema


async def _errors(query: str) -> list[str]:
    result = await schema.execute(query)
    return [error.message for error in result.errors or []]


async def test_a_document_over_5000_tokens_is_refused_while_parsing() -> None:
    query = "{ " + " ".join(["__typename"] * 5001) + " }"
    assert await _errors(query) == [
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    ]


async def test_a_document_deeper_than_10_is_refused() -> None:
    deep = "{ " + "".join(f"f{n} {{ " for n in range(11)) + "x" + " }" * 11 + " }"
    assert "'anonymous' exceeds maximum operation depth of 10" in await _errors(deep)
    shallow = "{ " + "".join(f"f{n} {{ " for n in range(9)) + "x" + " }" * 9 + " }"
    assert not [error for error in await _errors(shallow) if "depth" in error]


async def test_a_document_with_more_than_30_aliases_is_refused() -> None:
    query = "{ " + " ".join(f"a{n}: __typename" for n in range(31)) + " }"
    assert await _errors(query) == ["31 aliases found. Allowed: 30"]
