"""A segment's definition as one SQL condition on `members m`.

One translation serves every use: with `m.id = ?` it answers for one member at earn or redeem
time through primary-key and `(member_id, ...)` index lookups; over `m.program_id = ?` it finds a
segment's members for a preview or a refresh. Each comparison reads only what it needs:

- recency and ages compare a moment (the last order's `placed_at`, `enrolled_at`) with the
  boundaries `now - N days`, so "days since" is whole days elapsed, as people count them;
- order counts and spend count orders that are not refunded in full nor cancelled, and spend
  is what was kept (total less refunds) of orders in the program's currency;
- the referral count counts the member's referrals that qualified (QUALIFIED or REWARDED).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.member_profile import AttributeType
from app.domain.segments import (
    Comparison,
    Condition,
    Group,
    MemberStatus,
    SegmentField,
    SegmentOperator,
)

_COUNTED_ORDER = "o.member_id = m.id AND o.status NOT IN ('REFUNDED', 'CANCELLED')"
_SQL_OPERATOR = {
    SegmentOperator.EQ: "=",
    SegmentOperator.NE: "<>",
    SegmentOperator.LT: "<",
    SegmentOperator.LTE: "<=",
    SegmentOperator.GT: ">",
    SegmentOperator.GTE: ">=",
}


@dataclass(frozen=True)
class SqlContext:
    now: datetime
    postgres: bool
    currency: str


@dataclass(frozen=True)
class Sql:
    text: str
    params: tuple[Any, ...] = ()


def condition_sql(condition: Condition, context: SqlContext) -> Sql:
    if isinstance(condition, Group):
        parts = [condition_sql(item, context) for item in condition.conditions]
        joiner = " OR " if condition.any else " AND "
        return Sql(
            "(" + joiner.join(part.text for part in parts) + ")",
            tuple(param for part in parts for param in part.params),
        )
    return _comparison_sql(condition, context)


def _compare(expression: Sql, operator: SegmentOperator, value: Any) -> Sql:
    """`expression` against `value`; a NULL expression (no value) matches nothing."""
    if operator is SegmentOperator.IN or operator is SegmentOperator.NOT_IN:
        marks = ", ".join("?" for _ in value)
        test = f"{expression.text} IN ({marks})"
        if operator is SegmentOperator.NOT_IN:
            test = f"NOT ({test})"
        return Sql(f"({test})", (*expression.params, *value))
    return Sql(f"({expression.text} {_SQL_OPERATOR[operator]} ?)", (*expression.params, value))


def _age(moment: str, operator: SegmentOperator, days: int, now: datetime) -> Sql:
    """Whole days since `moment` (a column or subquery) compared with `days`: `d >= N` holds
    exactly when the moment is at or before `now - N days`."""

    def at_least(count: int) -> Sql:
        return Sql(f"({moment} <= ?)", (now - timedelta(days=count),))

    def below(count: int) -> Sql:
        return Sql(f"({moment} > ?)", (now - timedelta(days=count),))

    if operator is SegmentOperator.GTE:
        return at_least(days)
    if operator is SegmentOperator.GT:
        return at_least(days + 1)
    if operator is SegmentOperator.LT:
        return below(days)
    if operator is SegmentOperator.LTE:
        return below(days + 1)
    low, high = at_least(days), below(days + 1)
    if operator is SegmentOperator.EQ:
        return Sql(f"({low.text} AND {high.text})", (*low.params, *high.params))
    # NE: the other days, and never for a member without the moment.
    outside_low, outside_high = below(days), at_least(days + 1)
    return Sql(
        f"({outside_low.text} OR {outside_high.text})",
        (*outside_low.params, *outside_high.params),
    )


def _window(comparison: Comparison, context: SqlContext) -> Sql:
    if comparison.window_days is None:
        return Sql("")
    return Sql(" AND o.placed_at >= ?", (context.now - timedelta(days=comparison.window_days),))


def _attribute(comparison: Comparison, context: SqlContext) -> Sql:
    """The attribute's value when it has the type the segment expects, else NULL (a value sent
    before the attribute's type changed matches nothing instead of failing the query)."""
    name = comparison.attribute
    assert name is not None
    kind = comparison.attribute_type
    if context.postgres:
        json_type = {
            AttributeType.NUMBER: "number",
            AttributeType.BOOLEAN: "boolean",
        }.get(kind or AttributeType.STRING, "string")
        value = (
            "CAST(m.attributes ->> CAST(? AS TEXT) AS NUMERIC)"
            if kind is AttributeType.NUMBER
            else "m.attributes ->> CAST(? AS TEXT)"
        )
        return Sql(
            f"(CASE WHEN jsonb_typeof(m.attributes -> CAST(? AS TEXT)) = '{json_type}'"
            f" THEN {value} END)",
            (name, name),
        )
    path = f"$.{name}"
    sqlite_types = {
        AttributeType.NUMBER: "('integer', 'real')",
        AttributeType.BOOLEAN: "('true', 'false')",
    }.get(kind or AttributeType.STRING, "('text')")
    return Sql(
        f"(CASE WHEN json_type(m.attributes, ?) IN {sqlite_types}"
        " THEN json_extract(m.attributes, ?) END)",
        (path, path),
    )


def _boolean_value(value: bool, postgres: bool) -> Any:
    # PostgreSQL's ->> gives 'true' / 'false'; SQLite's json_extract gives 1 / 0.
    if postgres:
        return "true" if value else "false"
    return 1 if value else 0


def _comparison_sql(comparison: Comparison, context: SqlContext) -> Sql:
    field, operator, value = comparison.field, comparison.operator, comparison.value
    if field is SegmentField.DAYS_SINCE_LAST_ORDER:
        last = "(SELECT MAX(o.placed_at) FROM orders o WHERE o.member_id = m.id)"
        return _age(last, operator, value, context.now)
    if field is SegmentField.ENROLLED_DAYS:
        return _age("m.enrolled_at", operator, value, context.now)
    if field is SegmentField.ORDER_COUNT:
        window = _window(comparison, context)
        count = Sql(
            f"(SELECT COUNT(*) FROM orders o WHERE {_COUNTED_ORDER}{window.text})", window.params
        )
        return _compare(count, operator, value)
    if field is SegmentField.SPEND:
        window = _window(comparison, context)
        spend = Sql(
            "(SELECT COALESCE(SUM(o.total_minor - o.refunded_minor), 0) FROM orders o"
            f" WHERE {_COUNTED_ORDER} AND o.currency = ?{window.text})",
            (context.currency, *window.params),
        )
        return _compare(spend, operator, value)
    if field is SegmentField.POINTS_AVAILABLE:
        return _compare(Sql("m.points_available"), operator, value)
    if field is SegmentField.REFERRAL_COUNT:
        referrals = Sql(
            "(SELECT COUNT(*) FROM referrals r WHERE r.referrer_id = m.id"
            " AND r.state IN ('QUALIFIED', 'REWARDED'))"
        )
        return _compare(referrals, operator, value)
    if field is SegmentField.TIER:
        marks = ", ".join("?" for _ in value)
        has = (
            "EXISTS (SELECT 1 FROM member_tiers mt JOIN tiers t ON t.id = mt.tier_id"
            f" WHERE mt.member_id = m.id AND t.name IN ({marks}))"
        )
        if operator is SegmentOperator.NOT_IN:
            # A member without a tier has no value: "not in Gold" does not match them.
            has = (
                f"(EXISTS (SELECT 1 FROM member_tiers mt WHERE mt.member_id = m.id) AND NOT {has})"
            )
        return Sql(has, tuple(value))
    if field is SegmentField.CHANNEL:
        window = _window(comparison, context)
        marks = ", ".join("?" for _ in value)
        has = (
            f"EXISTS (SELECT 1 FROM orders o WHERE {_COUNTED_ORDER}"
            f" AND o.channel IN ({marks}){window.text})"
        )
        if operator is SegmentOperator.NOT_IN:
            has = (
                f"(EXISTS (SELECT 1 FROM orders o WHERE {_COUNTED_ORDER}{window.text})"
                f" AND NOT {has})"
            )
            return Sql(has, (*window.params, *value, *window.params))
        return Sql(has, (*value, *window.params))
    if field is SegmentField.STATUS:
        states = {
            MemberStatus.ACTIVE: "m.opted_out_at IS NULL",
            MemberStatus.OPTED_OUT: "m.opted_out_at IS NOT NULL",
        }
        chosen = set(value) if operator is SegmentOperator.IN else set(MemberStatus) - set(value)
        if not chosen:
            return Sql("(1 = 0)")
        return Sql("(" + " OR ".join(states[MemberStatus(item)] for item in sorted(chosen)) + ")")
    if field is SegmentField.BIRTHDAY_MONTH:
        return _compare(Sql("(m.birthday_month_day / 100)"), operator, value)
    if field is SegmentField.TAG:
        if context.postgres:
            tagged = Sql(
                "(" + " OR ".join("m.tags @> CAST(? AS JSONB)" for _ in value) + ")",
                tuple(json.dumps([tag]) for tag in value),
            )
        else:
            marks = ", ".join("?" for _ in value)
            tagged = Sql(
                f"EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value IN ({marks}))",
                tuple(value),
            )
        if operator is SegmentOperator.NOT_IN:
            return Sql(f"(NOT {tagged.text})", tagged.params)
        return tagged
    attribute = _attribute(comparison, context)
    if comparison.attribute_type is AttributeType.BOOLEAN:
        wanted = value if operator is SegmentOperator.EQ else not value
        return _compare(attribute, SegmentOperator.EQ, _boolean_value(wanted, context.postgres))
    return _compare(attribute, operator, value)
