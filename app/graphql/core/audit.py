"""Every mutation made with an admin key goes to the audit log (app/services/audit/service.py),
in the same transaction as the write it records.

The extension lists the operation's root mutation fields in execution order (fragments and
@skip/@include applied) and puts them in a context variable; each mutation (its `UserErrors`
field extension, app/graphql/core/mutations.py) takes the next one, snapshots its target and
runs while its `_AuditedWrite` observes the transactions it commits (`app.db.observe_commits`).
Just before the first COMMIT, on that transaction's connection, the entry is inserted with the
target as the transaction leaves it; each later transaction of the same mutation brings the
entry's "after" up to date in the same way. So the write and its entry commit together or not
at all, and "after" is what committed. A mutation that commits nothing (refused, rolled back,
or one that writes nothing, such as issuing a member token) is recorded once it has ended, with
its target as it then is. Several writes to one target in one request are each logged with
their own before and after, whatever the client selected. Queries and other keys' writes cost
nothing here (one context variable read per transaction).
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
from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, observe_commits
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
    """A snapshot outside the write's transactions: a failure to take it must not fail the
    request (inside them, a failure rolls the write back)."""
    try:
        return await audit.snapshot(target)
    except Exception:
        logger.exception("audit snapshot of %s failed", target)
        return {"snapshotFailed": True}


@dataclass
class _AuditedWrite:
    """One admin mutation's audit entry, written by the transactions the mutation commits."""

    session: _Session
    root: _RootField
    before: Any
    entry_id: int | None = None
    _inserted_id: int | None = None

    async def before_commit(self, conn: BaseDBAsyncClient) -> None:
        after = await audit.snapshot(self.root.target)
        if self.entry_id is not None:
            await audit.record_after(conn, self.entry_id, after)
            return
        self._inserted_id = await self._record(conn, after, succeeded=True)

    def committed(self) -> None:
        if self.entry_id is None:
            self.entry_id = self._inserted_id

    async def _record(self, conn: BaseDBAsyncClient, after: Any, *, succeeded: bool) -> int:
        return await audit.record_write(
            conn,
            api_key_id=self.session.key_id,
            operation=self.root.name,
            arguments=self.root.arguments,
            target=self.root.target,
            before=self.before,
            after=after,
            succeeded=succeeded,
            request_id=self.session.request_id,
        )

    async def settle(self, succeeded: bool) -> None:
        """Once the mutation has ended: record it if none of its transactions committed, or
        mark it failed if it failed after some did."""
        try:
            if self.entry_id is None:
                await self._record(
                    connection(), await _snapshot(self.root.target), succeeded=succeeded
                )
            elif not succeeded:
                await audit.record_failure(self.entry_id)
        except Exception:
            # Whatever the write committed stays: failing the response would report it as not
            # done.
            logger.exception(
                "audit log write failed for %s (request id %s)",
                self.root.name,
                self.session.request_id,
            )


async def audited(work: Callable[[], Awaitable[tuple[T, bool]]]) -> T:
    """Run one mutation; with an admin key, log it. `work` says whether it succeeded."""
    session = _session.get()
    if session is None or not session.fields:
        result, _ = await work()
        return result
    root = session.fields.popleft()
    write = _AuditedWrite(session, root, before=await _snapshot(root.target))
    succeeded = False
    try:
        with observe_commits(write):
            result, succeeded = await work()
        return result
    finally:
        await write.settle(succeeded)


class AuditAdminWrites(SchemaExtension):
    # Planned reads are queries, which are never audited.
    quiet_for_planned_reads = True

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
            await _AuditedWrite(session, root, before=await _snapshot(root.target)).settle(
                succeeded=False
            )
