"""Action rules (admin) and recording the actions members take (the store's backend).

An award is one transaction: the member row is locked first, then the rule's frequency limit
and cap are counted, so concurrent reports of actions by one member cannot exceed them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, connection, fetch_one, in_transaction, utc_now
from app.domain.actions import (
    QUALIFIED_ACTIONS,
    ActionKind,
    Frequency,
    allowed_awards,
    period_window,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import Account, TransactionKind
from app.domain.validation import EXTERNAL_ID_MAX, NAME_MAX, Checker
from app.models import ActionRule
from app.rows import RowMapper
from app.services.core import idempotency
from app.services.core.idempotency import (
    IdempotentRequest,
    checked_key,
    input_payload,
    run_once,
)
from app.services.core.models import ProgramRules
from app.services.engagement.progress import on_action_awarded as challenges_on_action_awarded
from app.services.ledger.service import (
    Movement,
    expiry_settings,
    lock_member,
    lock_member_row,
    post_movement,
)
from app.services.members.service import MemberRecord, require_member
from app.services.programs.service import ProgramScope, require_program
from app.services.tiers.service import member_multiplier, multiplied_points

MAX_ACTION_POINTS = 1_000_000
MAX_FREQUENCY_LIMIT = 1000
QUALIFIER_MAX = 64
_OPERATION = "recordAction"


@dataclass(frozen=True)
class ActionRuleInput:
    name: str
    action: ActionKind
    points: int
    frequency: Frequency
    frequency_limit: int = 1
    qualifier: str | None = None
    cap_points: int | None = None
    self_service: bool = False


@dataclass(frozen=True)
class ActionRuleRecord:
    id: int
    program_id: int
    name: str
    action: ActionKind
    qualifier: str
    points: int
    frequency: Frequency
    frequency_limit: int
    cap_points: int | None
    paused: bool
    created_at: datetime
    updated_at: datetime
    # Members may report it themselves, with a member token (a newsletter sign-up, say).
    self_service: bool = False


@dataclass(frozen=True)
class RecordActionInput:
    member_id: int
    action: ActionKind
    idempotency_key: str
    qualifier: str | None = None
    reference: str | None = None
    occurred_at: datetime | None = None
    # Reported by the member from a storefront: only self-service rules may award it.
    by_member: bool = False


@dataclass(frozen=True)
class ActionAward:
    points: int
    transaction_id: int | None
    already_recorded: bool
    member_id: int


_record = RowMapper(ActionRuleRecord)
_rules = ProgramRules(
    ActionRule,
    _record.column_names,
    _record,
    noun="action rule",
    node_type="ActionRule",
    event_details=lambda rule: {"action": rule.action},
)


def _qualifier(check: Checker, action: ActionKind, qualifier: str | None) -> str:
    """Follows and shares name their network, custom events their name; others name nothing."""
    field = ["input", "qualifier"]
    if action in QUALIFIED_ACTIONS:
        value = check.text(field, qualifier, QUALIFIER_MAX)
        return (value or "").lower()
    if qualifier is not None and qualifier.strip():
        check.add(ErrorCode.INVALID_VALUE, f"{action} takes no qualifier", field)
    return ""


def _validated(data: ActionRuleInput) -> tuple[str, str]:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    qualifier = _qualifier(check, data.action, data.qualifier)
    check.int_range(
        ["input", "points"], data.points, 1, MAX_ACTION_POINTS, ErrorCode.INVALID_POINTS
    )
    check.int_range(
        ["input", "frequencyLimit"],
        data.frequency_limit,
        1,
        MAX_FREQUENCY_LIMIT,
        ErrorCode.INVALID_VALUE,
    )
    if data.cap_points is not None:
        check.int_range(["input", "capPoints"], data.cap_points, 1, 10**9, ErrorCode.INVALID_POINTS)
    check.raise_if_any()
    assert name is not None
    return name, qualifier


async def create_action_rule(
    program_slug: str, data: ActionRuleInput, idempotency_key: str | None = None
) -> ActionRuleRecord:
    """A new rule; a retry with the same `idempotency_key` returns the rule the first made."""
    name, qualifier = _validated(data)
    idempotency_key = checked_key(idempotency_key)
    program = await require_program(program_slug, None)
    return await _rules.create(
        program_id=program.id,
        key=idempotency_key,
        operation="createActionRule",
        payload={"programSlug": program_slug, **input_payload(data)},
        definition=_definition(data, name, qualifier),
        created_event="action_rule.created",
    )


def _definition(data: ActionRuleInput, name: str, qualifier: str) -> dict[str, Any]:
    """The columns a rule's definition sets."""
    return {
        "name": name,
        "action": data.action.value,
        "qualifier": qualifier,
        "points": data.points,
        "frequency": data.frequency.value,
        "frequency_limit": data.frequency_limit,
        "cap_points": data.cap_points,
        "self_service": data.self_service,
    }


async def update_action_rule(rule_id: int, data: ActionRuleInput) -> ActionRuleRecord:
    """Replace a rule's definition; what it awarded stays, and counts toward its new limits."""
    name, qualifier = _validated(data)
    now = utc_now()
    async with in_transaction() as conn:
        record = await _rules.update(
            conn, rule_id, **_definition(data, name, qualifier), updated_at=now
        )
        await _rules.announce(conn, record, "action_rule.updated", now)
    return record


async def set_action_rule_paused(rule_id: int, paused: bool) -> ActionRuleRecord:
    async with in_transaction() as conn:
        return await _rules.update(conn, rule_id, paused=paused, updated_at=utc_now())


async def list_action_rules(program_id: int) -> list[ActionRuleRecord]:
    rows = (
        await ActionRule.filter(program_id=program_id).order_by("id").values(*_record.column_names)
    )
    return _record.all(rows)


async def get_action_rule(rule_id: int, scope: ProgramScope) -> ActionRuleRecord | None:
    return await _rules.read(connection(), rule_id, scope)


async def active_rule(
    conn: BaseDBAsyncClient, program_id: int, action: ActionKind, qualifier: str
) -> ActionRuleRecord | None:
    row = await fetch_one(
        conn,
        f"SELECT {_record.columns} FROM action_rules WHERE program_id = ? AND action = ?"
        " AND qualifier = ? AND paused = ? ORDER BY id LIMIT 1",
        (program_id, action.value, qualifier, False),
    )
    return _record(row) if row else None


_PERIOD_NAMES = {
    Frequency.ONCE_EVER: "ever",
    Frequency.PER_DAY: "per day",
    Frequency.PER_WEEK: "per week",
    Frequency.PER_MONTH: "per month",
    Frequency.PER_YEAR: "per calendar year",
}


async def _points_due(
    conn: BaseDBAsyncClient,
    rule: ActionRuleRecord,
    member_id: int,
    occurred_at: datetime,
    now: datetime,
) -> int:
    """What the rule would award now, or the limit or cap that refuses it. The member's tier
    (or paid membership) multiplier applies, as it does to purchases; the cap bounds what is
    actually given, multiplier included."""
    allowed = allowed_awards(rule.frequency, rule.frequency_limit)
    if allowed is not None:
        zone = (await expiry_settings(conn, rule.program_id)).zone
        window = period_window(rule.frequency, occurred_at, zone)
        if window is None:
            counted = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM action_records WHERE rule_id = ? AND member_id = ?",
                (rule.id, member_id),
            )
        else:
            counted = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM action_records WHERE rule_id = ? AND member_id = ?"
                " AND occurred_at >= ? AND occurred_at < ?",
                (rule.id, member_id, window[0], window[1]),
            )
        assert counted is not None
        if int(counted["n"]) >= allowed:
            raise DomainError(
                ErrorCode.ACTION_LIMIT_REACHED,
                f"{rule.name} earns at most {allowed} time(s) {_PERIOD_NAMES[rule.frequency]}",
                ["input", "action"],
            )
    points = multiplied_points(
        rule.points, await member_multiplier(conn, rule.program_id, member_id, now)
    )
    if rule.cap_points is not None:
        earned = await fetch_one(
            conn,
            "SELECT COALESCE(SUM(points), 0) AS total FROM action_records"
            " WHERE rule_id = ? AND member_id = ?",
            (rule.id, member_id),
        )
        assert earned is not None
        points = min(points, rule.cap_points - int(earned["total"]))
        if points <= 0:
            raise DomainError(
                ErrorCode.ACTION_CAP_REACHED,
                f"{rule.name} has given this member its cap of {rule.cap_points} points",
                ["input", "action"],
            )
    return points


async def award_action(
    conn: BaseDBAsyncClient,
    *,
    rule: ActionRuleRecord,
    member_id: int,
    reference: str,
    occurred_at: datetime,
    now: datetime,
) -> ActionAward:
    """Award `rule` to a member inside the caller's transaction, within its limits."""
    # Lock the member first: the counts below then cannot change under us.
    await lock_member(conn, member_id)
    earlier = await fetch_one(
        conn,
        "SELECT points, transaction_id FROM action_records"
        " WHERE rule_id = ? AND member_id = ? AND reference = ?",
        (rule.id, member_id, reference),
    )
    if earlier is not None:
        transaction_id = earlier["transaction_id"]
        return ActionAward(
            points=int(earlier["points"]),
            transaction_id=None if transaction_id is None else int(transaction_id),
            already_recorded=True,
            member_id=member_id,
        )
    points = await _points_due(conn, rule, member_id, occurred_at, now)
    posted = await post_movement(
        conn,
        Movement(
            program_id=rule.program_id,
            member_id=member_id,
            kind=TransactionKind.ACTION,
            points=points,
            counter_account=Account.PROGRAM_ISSUED,
            description=rule.name,
            event_details={"action": rule.action.value, "reference": reference},
        ),
        now,
    )
    record = await fetch_one(
        conn,
        "INSERT INTO action_records (program_id, member_id, rule_id, reference, points,"
        " transaction_id, occurred_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            rule.program_id,
            member_id,
            rule.id,
            reference,
            points,
            posted.transaction_id,
            occurred_at,
            now,
        ),
    )
    assert record is not None
    # ACTION_COUNT challenges of this action count it (app/services/engagement/progress.py).
    await challenges_on_action_awarded(
        conn,
        program_id=rule.program_id,
        member_id=member_id,
        action=rule.action.value,
        qualifier=rule.qualifier,
        action_record_pk=int(record["id"]),
        occurred_at=occurred_at,
        now=now,
    )
    return ActionAward(
        points=points,
        transaction_id=posted.transaction_id,
        already_recorded=False,
        member_id=member_id,
    )


async def award_on_enrolment(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> ActionAward | None:
    """Welcome points, if the program has an ACCOUNT_CREATED rule."""
    rule = await active_rule(conn, program_id, ActionKind.ACCOUNT_CREATED, "")
    if rule is None:
        return None
    return await award_action(
        conn, rule=rule, member_id=member_id, reference="enrolment", occurred_at=now, now=now
    )


def _refuse_opted_out(member: MemberRecord) -> None:
    if member.opted_out_at is not None:
        raise DomainError(
            ErrorCode.MEMBER_OPTED_OUT,
            "the member opted out of earning points",
            ["input", "memberId"],
        )


async def record_action(data: RecordActionInput, scope: ProgramScope) -> ActionAward:
    check = Checker()
    check.idempotency_key(data.idempotency_key)
    reference = check.text(["input", "reference"], data.reference, EXTERNAL_ID_MAX, required=False)
    qualifier = _qualifier(check, data.action, data.qualifier)
    now = utc_now()
    occurred_at = data.occurred_at or now
    if occurred_at.tzinfo is None:
        check.add(ErrorCode.INVALID_VALUE, "occurredAt needs a time zone", ["input", "occurredAt"])
    elif occurred_at > now:
        check.add(ErrorCode.INVALID_VALUE, "occurredAt is in the future", ["input", "occurredAt"])
    check.raise_if_any()
    member = await require_member(data.member_id, scope)
    _refuse_opted_out(member)
    request = IdempotentRequest.of(
        scope=idempotency.scope_of(member.program_id, member.id, by_member=data.by_member),
        key=data.idempotency_key,
        operation=_OPERATION,
        payload={
            "memberId": member.id,
            "action": data.action.value,
            "qualifier": qualifier,
            "reference": reference,
        },
    )
    async with in_transaction() as conn:

        async def perform() -> ActionAward:
            return await _award_reported_action(
                conn,
                data,
                member,
                qualifier=qualifier,
                reference=reference or f"key:{data.idempotency_key.strip()}",
                occurred_at=occurred_at.astimezone(now.tzinfo),
                now=now,
            )

        async def replay(stored: dict[str, Any]) -> ActionAward:
            return ActionAward(
                points=int(stored["points"]),
                transaction_id=stored["transactionId"],
                already_recorded=True,
                member_id=member.id,
            )

        outcome = await run_once(
            conn,
            request,
            now=now,
            perform=perform,
            remember=lambda award: {"points": award.points, "transactionId": award.transaction_id},
            replay=replay,
        )
    return outcome.value


async def _award_reported_action(
    conn: BaseDBAsyncClient,
    data: RecordActionInput,
    member: MemberRecord,
    *,
    qualifier: str,
    reference: str,
    occurred_at: datetime,
    now: datetime,
) -> ActionAward:
    rule = await active_rule(conn, member.program_id, data.action, qualifier)
    if rule is None:
        raise DomainError(
            ErrorCode.ACTION_NOT_REWARDED,
            f"the program has no active rule for {data.action}"
            + (f" ({qualifier})" if qualifier else ""),
            ["input", "action"],
        )
    if data.by_member and not rule.self_service:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            f"members cannot report {data.action} themselves; the store's backend does",
            ["input", "action"],
        )
    # An opt-out may have committed since the member was read above: look again under the
    # member's lock, which the opt-out takes too.
    current = await lock_member_row(conn, member.id, "opted_out_at")
    if current is not None and current["opted_out_at"] is not None:
        _refuse_opted_out(replace(member, opted_out_at=as_datetime(current["opted_out_at"])))
    return await award_action(
        conn,
        rule=rule,
        member_id=member.id,
        reference=reference,
        occurred_at=occurred_at,
        now=now,
    )


async def preview_action(
    member_id: int,
    action: ActionKind,
    qualifier: str | None,
    scope: ProgramScope,
) -> int:
    """The points the action would earn the member now; raises why it would not. No writes."""
    check = Checker()
    normalised = _qualifier(check, action, qualifier)
    check.raise_if_any()
    member = await require_member(member_id, scope)
    _refuse_opted_out(member)
    conn = connection()
    rule = await active_rule(conn, member.program_id, action, normalised)
    if rule is None:
        raise DomainError(
            ErrorCode.ACTION_NOT_REWARDED,
            f"the program has no active rule for {action}",
            ["input", "action"],
        )
    now = utc_now()
    return await _points_due(conn, rule, member.id, now, now)
