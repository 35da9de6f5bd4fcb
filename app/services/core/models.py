"""Cold paths (configuration, admin CRUD) read and write through the Tortoise models.

The records a service hands out are made from rows, whichever way the row was read: the hot
paths' hand-written SQL (`fetch_one`) or a queryset's `.values(*columns)`. These helpers give
the queryset side the same dict, so one mapper per record serves both. Hot paths keep their SQL
in the capability's own module (docs/decisions/0002-data-access.md says when and why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from app.db import in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.services.core.events import append_event
from app.services.core.idempotency import InProgram, create_once_if_keyed


async def read_row(
    model: type[Model], conn: BaseDBAsyncClient, columns: Sequence[str], **filters: Any
) -> dict[str, Any] | None:
    """The one row of `model` matching `filters`, as `{column: value}`, read on `conn`."""
    rows = await model.filter(**filters).using_db(conn).values(*columns)
    return rows[0] if rows else None


def row_of(instance: Model, columns: Sequence[str]) -> dict[str, Any]:
    """A model instance just saved, as the row its record is made from."""
    return {column: getattr(instance, column) for column in columns}


async def update_row(
    model: type[Model],
    conn: BaseDBAsyncClient,
    columns: Sequence[str],
    row_id: int,
    **changes: Any,
) -> dict[str, Any] | None:
    """Change row `row_id` of `model` and read it back on `conn`; None when there is no such row."""
    if not await model.filter(id=row_id).using_db(conn).update(**changes):
        return None
    return await read_row(model, conn, columns, id=row_id)


RuleT = TypeVar("RuleT", bound=InProgram)


@dataclass(frozen=True)
class ProgramRules(Generic[RuleT]):
    """One kind of a program's rules (earning rules, action rules): its model, the columns its
    record is made from, and the admin writes every kind makes the same way."""

    model: type[Model]
    columns: Sequence[str]
    record_of: Callable[[dict[str, Any]], RuleT]
    # How an error names one rule: "no such earning rule".
    noun: str
    # The rule's type in global ids, and what its events say of it besides its id.
    node_type: str
    event_details: Callable[[RuleT], dict[str, Any]]

    async def create(
        self,
        *,
        program_id: int,
        key: str | None,
        operation: str,
        payload: dict[str, Any],
        definition: dict[str, Any],
        created_event: str,
    ) -> RuleT:
        """A new rule, in force from now; a retry with the same `key` gives the rule the first
        made."""
        now = utc_now()
        async with in_transaction() as conn:

            async def perform() -> RuleT:
                created = await self.model.create(
                    using_db=conn,
                    **definition,
                    program_id=program_id,
                    paused=False,
                    created_at=now,
                    updated_at=now,
                )
                record = self.record_of(row_of(created, self.columns))
                await self.announce(conn, record, created_event, now)
                return record

            return await create_once_if_keyed(
                conn,
                program_id=program_id,
                key=key,
                operation=operation,
                payload=payload,
                now=now,
                create=perform,
                remember_id_as="ruleId",
                read=lambda rule_id: self.read(conn, rule_id),
            )

    async def read(
        self, conn: BaseDBAsyncClient, rule_id: int, scope: int | None = None
    ) -> RuleT | None:
        """The rule, or None when there is none or it belongs to a program other than `scope`."""
        row = await read_row(self.model, conn, self.columns, id=rule_id)
        if row is None or (scope is not None and int(row["program_id"]) != scope):
            return None
        return self.record_of(row)

    async def update(self, conn: BaseDBAsyncClient, rule_id: int, **changes: Any) -> RuleT:
        row = await update_row(self.model, conn, self.columns, rule_id, **changes)
        if row is None:
            raise DomainError(ErrorCode.RULE_NOT_FOUND, f"no such {self.noun}", ["input", "id"])
        return self.record_of(row)

    async def announce(
        self, conn: BaseDBAsyncClient, rule: RuleT, event_type: str, now: datetime
    ) -> None:
        await append_event(
            conn,
            program_id=rule.program_id,
            member_id=None,
            event_type=event_type,
            payload={"ruleId": encode_id(self.node_type, rule.id), **self.event_details(rule)},
            now=now,
        )
