"""Every mutation made with an admin key goes to the audit log (app/services/audit.py), with the
target's state before and after. Queries and other keys' writes cost nothing here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, VariableNode, value_from_ast_untyped
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.services import audit

logger = logging.getLogger("laurel.audit")


def _root_fields(
    document: Any, operation_name: str | None, variables: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(response key, mutation name, raw arguments) of each root field of the operation."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(
        (
            o
            for o in operations
            if operation_name is None or (o.name and o.name.value == operation_name)
        ),
        None,
    )
    if chosen is None:
        return []
    fields = []
    for selection in chosen.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        arguments = {
            argument.name.value: variables.get(argument.value.name.value)
            if isinstance(argument.value, VariableNode)
            else value_from_ast_untyped(argument.value, variables)
            for argument in selection.arguments or ()
        }
        key = selection.alias.value if selection.alias else selection.name.value
        fields.append((key, selection.name.value, arguments))
    return fields


def _succeeded(payload: Any, errors: list[Any], key: str) -> bool:
    if not isinstance(payload, dict):
        return False
    if any(error.path and error.path[0] == key for error in errors):
        return False
    return not payload.get("userErrors")


async def _snapshot(target: audit.Target | None) -> Any:
    try:
        return await audit.snapshot(target)
    except Exception:
        logger.exception("audit snapshot of %s failed", target)
        return {"snapshotFailed": True}


class AuditAdminWrites(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        principal = context.context.principal
        if not principal.is_admin or context.operation_type is not OperationType.MUTATION:
            yield
            return
        assert context.graphql_document is not None
        fields = _root_fields(
            context.graphql_document, context.operation_name, context.variables or {}
        )
        targets = [audit.target_of(arguments) for _, _, arguments in fields]
        befores = [await _snapshot(target) for target in targets]
        yield
        result = context.result
        data = getattr(result, "data", None) or {}
        errors = list(getattr(result, "errors", None) or [])
        for (key, name, arguments), target, before in zip(fields, targets, befores, strict=True):
            try:
                await self._record(
                    principal.key_id, key, name, arguments, target, before, data, errors
                )
            except Exception:
                # The write has committed: failing the response would report it as not done.
                logger.exception(
                    "audit log write failed for %s (request id %s)",
                    name,
                    context.context.request_id,
                )

    async def _record(
        self,
        key_id: int,
        key: str,
        name: str,
        arguments: dict[str, Any],
        target: audit.Target | None,
        before: Any,
        data: dict[str, Any],
        errors: list[Any],
    ) -> None:
        await audit.record_write(
            api_key_id=key_id,
            operation=name,
            arguments=arguments,
            target=target,
            before=before,
            after=await _snapshot(target),
            succeeded=_succeeded(data.get(key), errors, key),
            request_id=self.execution_context.context.request_id,
        )
