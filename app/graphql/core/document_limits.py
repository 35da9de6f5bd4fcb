"""The limits every document is parsed and validated under (tokens; depth, aliases and cost).

Strawberry's `MaxTokensLimiter` and `AddValidationRules` set these in `on_operation`, a hook
that also runs around every planned read (app/graphql/executor_adapter.py), whose document was
parsed and validated under these limits when it was planned. Set as the document is parsed and
validated instead, they cost a planned read nothing. The extension must come before
`ParserCache` and `ValidationCache` in the schema's list: their hooks parse and validate as
they are entered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import ASTValidationRule
from strawberry.extensions import SchemaExtension


def document_limits(
    max_tokens: int, rules: Sequence[type[ASTValidationRule]]
) -> type[SchemaExtension]:
    """An extension class that parses with at most `max_tokens` tokens and validates with
    `rules` besides the specified ones."""
    extra_rules = tuple(rules)

    class DocumentLimits(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            self.execution_context.parse_options["max_tokens"] = max_tokens
            yield

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = (*context.validation_rules, *extra_rules)
            yield

    return DocumentLimits
