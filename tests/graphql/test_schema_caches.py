"""Parsing and validation are cached per document: without it every request pays ~2 ms."""

from typing import Any

from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from app.auth.api_keys import KeyKind, Principal
from app.graphql.core.context import Context
from app.graphql.schema import DOCUMENT_CACHE_SIZE, schema

DOCUMENT = "query CacheProbe { __typename }"


def cache_hits() -> tuple[int, int]:
    parse: Any = _get_parse_cache(DOCUMENT_CACHE_SIZE)
    validate: Any = _get_validate_cache(DOCUMENT_CACHE_SIZE)
    return int(parse.cache_info().hits), int(validate.cache_info().hits)


async def test_a_repeated_document_is_parsed_and_validated_once() -> None:
    context = Context(principal=Principal(key_id=1, kind=KeyKind.ADMIN, program_id=None))
    await schema.execute(DOCUMENT, context_value=context)
    parse_hits, validate_hits = cache_hits()

    for _ in range(3):
        result = await schema.execute(DOCUMENT, context_value=context)
        assert result.errors is None

    assert cache_hits() == (parse_hits + 3, validate_hits + 3)
