"""Every mutation made with an admin key goes to the audit log (app/services/audit/service.py).

The extension lists the operation's root mutation fields in execution order (fragments and
@skip/@include applied) and puts them in a context variable; each mutation (its `UserErrors`
field extension, app/graphql/core/mutations.py) takes the next one, snapshots its target,
runs, snapshots again and records the outcome it saw itself, so several writes to one target
in one request are each logged with their own before and after, whatever the client selected.
Queries and other keys' writes cost nothing here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.services.audit import service as audit

logger = logging.getLogger("laurel.audit")

T = TypeVar("T")


@dataclass(frozen=True)
class _RootField:
    name: str
    arguments: dict[str, Any]
    target: audit.Target | None


@dataclass
class _Session:
    key_id: int
    request_id: str
    fields: deque[_RootField] = field(default_factory=deque)


_session: ContextVar[_Session | None] = ContextVar("laurel_audit_session", default=None)


def _included(directives: Any, variables: dict[str, Any]) -> bool:
    for directive in directives or ():
        assert isinstance(directive, DirectiveNode)
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        value: Any = True
        for argument in directive.arguments or ():
            node = argument.value
            if isinstance(node, VariableNode):
                value = bool(variables.get(node.name.value))
            elif isinstance(node, BooleanValueNode):
                value = node.value
        if (name == "skip") == bool(value):
            return False
    return True


def _collect(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: set[str],
    into: list[FieldNode],
) -> None:
    for selection in selection_set.selections:
        if not _included(selection.directives, variables):
            continue
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            # Fields of one response key merge into one execution, as in GraphQL itself.
            if all((f.alias.value if f.alias else f.name.value) != key for f in into):
                into.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, variables, seen, into)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                _collect(fragments[name].selection_set, fragments, variables, seen, into)


def _root_fields(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
) -> list[_RootField]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    chosen = next(
        (
            o
            for o in operations
            if operation_name is None or (o.name is not None and o.name.value == operation_name)
        ),
        None,
    )
    if chosen is None:
        return []
    nodes: list[FieldNode] = []
    _collect(chosen.selection_set, fragments, variables, set(), nodes)
    fields = []
    for node in nodes:
        arguments = {
            argument.name.value: variables.get(argument.value.name.value)
            if isinstance(argument.value, VariableNode)
            else value_from_ast_untyped(argument.value, variables)
            for argument in node.arguments or ()
        }
        fields.append(
            _RootField(name=node.name.value, arguments=arguments, target=audit.target_of(arguments))
        )
    return fields


async def _snapshot(target: audit.Target | None) -> Any:
    try:
        return await audit.snapshot(target)
    except Exception:
        logger.exception("audit snapshot of %s failed", target)
        return {"snapshotFailed": True}


async def _record(session: _Session, root: _RootField, before: Any, succeeded: bool) -> None:
    try:
        await audit.record_write(
            api_key_id=session.key_id,
            operation=root.name,
            arguments=root.arguments,
            target=root.target,
            before=before,
            after=await _snapshot(root.target),
            succeeded=succeeded,
            request_id=session.request_id,
        )
    except Exception:
        # The write has committed: failing the response would report it as not done.
        logger.exception(
            "audit log write failed for %s (request id %s)", root.name, session.request_id
        )


async def audited(work: Callable[[], Awaitable[tuple[T, bool]]]) -> T:
    """Run one mutation; with an admin key, log it. `work` says whether it succeeded."""
    session = _session.get()
    if session is None or not session.fields:
        result, _ = await work()
        return result
    root = session.fields.popleft()
    before = await _snapshot(root.target)
    succeeded = False
    try:
        result, succeeded = await work()
        return result
    finally:
        await _record(session, root, before, succeeded)


class AuditAdminWrites(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        principal = context.context.principal
        if not principal.is_admin or context.operation_type is not OperationType.MUTATION:
            yield
            return
        assert context.graphql_document is not None
        session = _Session(key_id=principal.key_id, request_id=context.context.request_id)
        session.fields.extend(
            _root_fields(context.graphql_document, context.operation_name, context.variables or {})
        )
        _session.set(session)
        try:
            yield
        finally:
            _session.set(None)
        # Fields that failed before their resolver ran are still attempts to write.
        while session.fields:
            root = session.fields.popleft()
            snapshot = await _snapshot(root.target)
            await _record(session, root, snapshot, succeeded=False)
