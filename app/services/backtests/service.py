"""Backtests: a proposed program run over a past period of real orders, writing nothing.

`backtest_program` reads the program's member orders placed in [from, to) in time order, a page
at a time, and runs them twice through the live earning engine (`points_checked`,
app/domain/earning.py): once with the program as it is configured now ("current") and once with
the proposal laid over it ("proposed"). Each configuration is checked once, not per order, and
each order's cart is converted into the program's currency once for both runs. Each run keeps,
per member, the tier reached (tiers count from the period's start; a tier reached applies from
the member's next order, as live) and the lots earned with their expiry. Both runs are compared
with what the orders actually recorded (`recordedPointsIssued`). Nothing is written: one read
transaction, no ledger.

Figures of a run (docs/capabilities/import.md#backtests has the model):

- points issued: what the period's orders earn;
- expected redemptions: points issued x the redemption rate observed in the period (points
  spent on rewards / points issued, from the ledger);
- expired: points of lots whose expiry falls before `to`, less their expected redemptions;
- liability at the end: issued - expected redemptions - expired, in points, and in money at the
  program's cost per point (`costPerPointMinor`, the value `programInsights` gives its
  liability; none while no cost is configured);
- members per tier at the end, among the members who ordered in the period;
- points per order.

`member_what_if` answers support's "what if this member placed these orders": each order's
points under the program as it is, with the member's tier moving as those orders add up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.db import as_datetime, connection, fetch_all, fetch_one, from_json, utc_now
from app.domain.earning import (
    Cart,
    CartLine,
    LineFilter,
    MemberAttributes,
    PurchaseRule,
    RuleKind,
    check_config,
    evaluate,
    points_checked,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import ExpiryPolicy, ExpirySettings, LifetimeUnit
from app.domain.ledger import Account
from app.domain.money import convert_minor, parse_exchange_rate, points_in_money
from app.domain.tiers import TierMetric
from app.domain.validation import Checker, check_period
from app.services.members.service import MemberRecord, require_member
from app.services.orders.cart import OrderLineInput, cart_in_program_currency
from app.services.orders.earning import program_config
from app.services.orders.earning_rules import active_purchase_rules
from app.services.programs.service import ProgramRecord, ProgramScope, require_program
from app.services.tiers.service import tier_program_of, tier_status

PAGE_SIZE = 5000
# The longest period one backtest reads.
MAX_PERIOD = timedelta(days=3 * 366)
MAX_WHAT_IF_ORDERS = 100


@dataclass(frozen=True)
class ProposedTier:
    name: str
    threshold: int
    earn_multiplier: str | None = None


@dataclass(frozen=True)
class ProposedRule:
    name: str
    kind: RuleKind
    multiplier: str | None = None
    points: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    include_skus: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    minimum_order_minor: int = 0


@dataclass(frozen=True)
class RuleChange:
    """One of the program's own purchase rules or campaigns at another rate: a MULTIPLIER
    rule's multiplier, or a bonus rule's points; everything else about it stays."""

    rule_id: int
    multiplier: str | None = None
    points: int | None = None


@dataclass(frozen=True)
class Proposal:
    """What changes; None keeps the program's own setting."""

    points_per_currency_unit: int | None = None
    # The purchase rules and campaigns instead of the program's (an empty tuple: none).
    rules: tuple[ProposedRule, ...] | None = None
    tier_metric: TierMetric | None = None
    tiers: tuple[ProposedTier, ...] | None = None
    # Lot lifetime in days (0: points never expire).
    expiry_days: int | None = None
    # The program's own rules, each at another rate (with `rules`: refused).
    rule_changes: tuple[RuleChange, ...] = ()


@dataclass(frozen=True)
class BacktestInput:
    program_slug: str
    start: datetime
    end: datetime
    proposal: Proposal = field(default_factory=Proposal)


@dataclass(frozen=True)
class TierCount:
    name: str
    members: int


@dataclass(frozen=True)
class RunFigures:
    points_issued: int
    expected_redemptions: int
    points_expired: int
    liability_points: int
    members_per_tier: tuple[TierCount, ...]
    points_per_order: float
    # Last and optional, so that results stored before it existed still load.
    liability_minor: int | None = None


@dataclass(frozen=True)
class BacktestResult:
    start: datetime
    end: datetime
    orders: int
    members: int
    recorded_points_issued: int
    redemption_rate: float
    current: RunFigures
    proposed: RunFigures


@dataclass(frozen=True)
class _Tiering:
    metric: TierMetric
    # (name, threshold, multiplier), lowest first.
    tiers: tuple[tuple[str, int, Decimal | None], ...]

    def reached(self, value: int) -> int | None:
        index = None
        for position, (_, threshold, _) in enumerate(self.tiers):
            if value >= threshold:
                index = position
        return index


@dataclass(frozen=True)
class _Config:
    program: ProgramRecord
    rules: tuple[PurchaseRule, ...]
    tiering: _Tiering | None
    expiry: ExpirySettings


@dataclass
class _MemberState:
    qualifying: int = 0
    tier: int | None = None
    # (points, expires_at) of what the member earned in the run.
    lots: list[tuple[int, datetime | None]] = field(default_factory=list)


@dataclass(frozen=True)
class _Order:
    member_id: int
    placed_at: datetime
    currency: str
    total_minor: int
    lines: list[OrderLineInput]
    shipping_minor: int
    tax_minor: int
    discount_minor: int
    exchange_rate: str | None
    points_earned: int
    paid_with_points_minor: int = 0
    paid_with_store_credit_minor: int = 0


class _Run:
    """One configuration played over the orders."""

    def __init__(self, config: _Config) -> None:
        self.config = config
        # Checked once here rather than on each of the period's orders.
        self.checked = check_config(program_config(config.program, config.rules))
        self.pending = timedelta(days=config.program.pending_days)
        # What the engine knows of a member in each tier, made once per tier, not per order.
        self.tier_attributes = (
            ()
            if config.tiering is None
            else tuple(
                MemberAttributes(tier=name, multiplier=multiplier)
                for name, _, multiplier in config.tiering.tiers
            )
        )
        self.members: dict[int, _MemberState] = {}
        self.issued = 0
        self.orders = 0

    def member(self, member_id: int) -> _MemberState:
        state = self.members.get(member_id)
        if state is None:
            state = self.members[member_id] = _MemberState()
        return state

    def add(self, order: _Order, cart: Cart) -> int:
        """Plays `order`, whose cart in the program's currency is `cart` (the same for every
        configuration: a proposal keeps the program's currency)."""
        config = self.config
        state = self.member(order.member_id)
        tiering = config.tiering
        attributes = None if state.tier is None else self.tier_attributes[state.tier]
        points = points_checked(cart, self.checked, order.placed_at, attributes)
        self.issued += points
        self.orders += 1
        if points > 0:
            state.lots.append(
                (points, config.expiry.lot_expires_at(order.placed_at + self.pending))
            )
        if tiering is not None:
            state.qualifying += _qualifying(tiering.metric, order, points, config.program)
            reached = tiering.reached(state.qualifying)
            if reached is not None and (state.tier is None or reached > state.tier):
                state.tier = reached
        return points

    def figures(self, end: datetime, rate: float) -> RunFigures:
        expiring = sum(
            points
            for state in self.members.values()
            for points, expires_at in state.lots
            if expires_at is not None and expires_at < end
        )
        expected_redemptions = round(self.issued * rate)
        expired = round(expiring * (1 - rate))
        counts: dict[str, int] = {}
        tiering = self.config.tiering
        if tiering is not None:
            for state in self.members.values():
                name = "" if state.tier is None else tiering.tiers[state.tier][0]
                counts[name] = counts.get(name, 0) + 1
        liability = self.issued - expected_redemptions - expired
        cost = self.config.program.cost_per_point_minor
        return RunFigures(
            points_issued=self.issued,
            expected_redemptions=expected_redemptions,
            points_expired=expired,
            liability_points=liability,
            liability_minor=points_in_money(liability, None if cost is None else Decimal(cost)),
            members_per_tier=tuple(
                TierCount(name=name, members=count) for name, count in sorted(counts.items())
            ),
            points_per_order=0.0 if self.orders == 0 else self.issued / self.orders,
        )


def _qualifying(metric: TierMetric, order: _Order, points: int, program: ProgramRecord) -> int:
    if metric is TierMetric.POINTS_EARNED:
        return points
    if metric is TierMetric.ORDERS:
        return 1
    if metric is TierMetric.MONEY_SPENT:
        rate = None if order.exchange_rate is None else parse_exchange_rate(order.exchange_rate)
        if rate is None or order.currency == program.currency:
            return order.total_minor
        return convert_minor(order.total_minor, order.currency, program.currency, rate)
    return 0


def _multiplier(text: str | None, field_path: list[str]) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise DomainError(ErrorCode.INVALID_VALUE, "not a decimal number", field_path) from error


def _proposed_rules(rules: Sequence[ProposedRule]) -> tuple[PurchaseRule, ...]:
    made = []
    for index, rule in enumerate(rules):
        at = ["input", "proposal", "rules", str(index)]
        made.append(
            PurchaseRule(
                id=-(index + 1),
                kind=rule.kind,
                filter=LineFilter(
                    include_skus=frozenset(rule.include_skus),
                    include_categories=frozenset(rule.include_categories),
                ),
                multiplier=_multiplier(rule.multiplier, [*at, "multiplier"]),
                points=rule.points,
                starts_at=rule.starts_at,
                ends_at=rule.ends_at,
                minimum_order_minor=rule.minimum_order_minor,
            )
        )
    return tuple(made)


def _changed_rules(rules: tuple[PurchaseRule, ...], proposal: Proposal) -> tuple[PurchaseRule, ...]:
    at = ["input", "proposal", "ruleChanges"]
    if proposal.rules is not None:
        raise DomainError(ErrorCode.INVALID_VALUE, "give rules or ruleChanges, not both", [*at])
    by_id = {rule.id: rule for rule in rules}
    for index, change in enumerate(proposal.rule_changes):
        rule = by_id.get(change.rule_id)
        here = [*at, str(index)]
        if rule is None or change.rule_id in (c.rule_id for c in proposal.rule_changes[:index]):
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "not an active purchase rule of the program, or changed twice",
                [*here, "ruleId"],
            )
        if rule.kind is RuleKind.MULTIPLIER:
            if change.multiplier is None or change.points is not None:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    "a MULTIPLIER rule changes by its multiplier",
                    [*here, "multiplier"],
                )
            if len(change.multiplier) > 20:
                raise DomainError(
                    ErrorCode.TOO_LONG, "at most 20 characters", [*here, "multiplier"]
                )
            by_id[rule.id] = replace(
                rule, multiplier=_multiplier(change.multiplier, [*here, "multiplier"])
            )
        else:
            if change.points is None or change.multiplier is not None:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"a {rule.kind.value} rule changes by its points",
                    [*here, "points"],
                )
            by_id[rule.id] = replace(rule, points=change.points)
    return tuple(by_id[rule.id] for rule in rules)


async def _current_config(program: ProgramRecord) -> _Config:
    tier_program = await tier_program_of(program.id)
    tiering = None
    if tier_program is not None and tier_program.tiers:
        tiering = _Tiering(
            metric=tier_program.metric,
            tiers=tuple(
                (tier.name, tier.threshold, tier.earn_multiplier) for tier in tier_program.tiers
            ),
        )
    return _Config(
        program=program,
        rules=tuple(await active_purchase_rules(program.id)),
        tiering=tiering,
        expiry=program.expiry,
    )


def _proposed_config(current: _Config, proposal: Proposal) -> _Config:
    check = Checker()
    if proposal.points_per_currency_unit is not None:
        check.int_range(
            ["input", "proposal", "pointsPerCurrencyUnit"],
            proposal.points_per_currency_unit,
            0,
            10_000,
            ErrorCode.INVALID_VALUE,
        )
    if proposal.expiry_days is not None:
        check.int_range(
            ["input", "proposal", "expiryDays"],
            proposal.expiry_days,
            0,
            3650,
            ErrorCode.INVALID_VALUE,
        )
    if proposal.tiers is not None:
        thresholds = [tier.threshold for tier in proposal.tiers]
        if thresholds != sorted(set(thresholds)) or any(t < 0 for t in thresholds):
            check.add(
                ErrorCode.INVALID_VALUE,
                "tier thresholds must rise strictly from 0 or more",
                ["input", "proposal", "tiers"],
            )
    check.raise_if_any()
    program = current.program
    if proposal.points_per_currency_unit is not None:
        program = replace(program, points_per_currency_unit=proposal.points_per_currency_unit)
    expiry = current.expiry
    if proposal.expiry_days is not None:
        expiry = replace(
            expiry,
            policy=ExpiryPolicy.LOT_LIFETIME if proposal.expiry_days else ExpiryPolicy.NONE,
            lifetime=proposal.expiry_days,
            unit=LifetimeUnit.DAYS,
            since=None,
        )
        if proposal.expiry_days:
            expiry = replace(expiry, since=datetime.min.replace(tzinfo=program.created_at.tzinfo))
    program = replace(program, expiry=expiry)
    tiering = current.tiering
    if proposal.tiers is not None:
        metric = proposal.tier_metric or (
            tiering.metric if tiering is not None else TierMetric.POINTS_EARNED
        )
        tiering = (
            None
            if not proposal.tiers
            else _Tiering(
                metric=metric,
                tiers=tuple(
                    (
                        tier.name,
                        tier.threshold,
                        _multiplier(tier.earn_multiplier, ["input", "proposal", "tiers"]),
                    )
                    for tier in proposal.tiers
                ),
            )
        )
    elif proposal.tier_metric is not None and tiering is not None:
        tiering = replace(tiering, metric=proposal.tier_metric)
    rules = current.rules if proposal.rules is None else _proposed_rules(proposal.rules)
    if proposal.rule_changes:
        rules = _changed_rules(rules, proposal)
    try:
        # The engine's own checks of a configuration, on a one-line cart.
        evaluate(
            Cart(
                currency=program.currency,
                lines=(CartLine(sku="-", quantity=1, unit_price_minor=100),),
            ),
            program_config(program, rules),
            program.created_at,
        )
    except ValueError as error:
        raise DomainError(
            ErrorCode.INVALID_VALUE, str(error), ["input", "proposal", "rules"]
        ) from error
    return _Config(program=program, rules=rules, tiering=tiering, expiry=expiry)


def _order(row: dict[str, Any]) -> _Order:
    return _Order(
        member_id=int(row["member_id"]),
        placed_at=as_datetime(row["placed_at"]),
        currency=str(row["currency"]),
        total_minor=int(row["total_minor"]),
        lines=[
            OrderLineInput(
                sku=str(line["sku"]),
                quantity=int(line["quantity"]),
                unit_price_minor=int(line["unit_price_minor"]),
                category=line.get("category"),
            )
            for line in from_json(row["lines"]) or []
        ],
        shipping_minor=int(row["shipping_minor"]),
        tax_minor=int(row["tax_minor"]),
        discount_minor=int(row["discount_minor"]),
        exchange_rate=row["exchange_rate"],
        points_earned=int(row["points_earned"]),
    )


_ORDER_COLUMNS = (
    "id, member_id, placed_at, currency, total_minor, lines, shipping_minor, tax_minor,"
    " discount_minor, exchange_rate, points_earned"
)


async def _orders(program_id: int, start: datetime, end: datetime) -> AsyncIterator[list[_Order]]:
    """The period's member orders in time order, a page at a time (keyset on placed_at, id)."""
    conn = connection()
    rows = await fetch_all(
        conn,
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE program_id = ? AND member_id IS NOT NULL"
        " AND placed_at >= ? AND placed_at < ? ORDER BY placed_at, id LIMIT ?",
        (program_id, start, end, PAGE_SIZE),
    )
    while rows:
        yield [_order(row) for row in rows]
        last = rows[-1]
        rows = await fetch_all(
            conn,
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE program_id = ? AND member_id IS NOT NULL"
            " AND (placed_at, id) > (?, ?) AND placed_at < ? ORDER BY placed_at, id LIMIT ?",
            (program_id, as_datetime(last["placed_at"]), int(last["id"]), end, PAGE_SIZE),
        )


async def _redemption_rate(program_id: int, start: datetime, end: datetime) -> float:
    """Points spent on rewards / points issued, over the period, from the ledger."""
    row = await fetch_one(
        connection(),
        "SELECT COALESCE(SUM(CASE WHEN account = ? THEN -amount ELSE 0 END), 0) AS issued,"
        " COALESCE(SUM(CASE WHEN account = ? THEN amount ELSE 0 END), 0) AS redeemed"
        " FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id"
        " WHERE e.program_id = ? AND t.created_at >= ? AND t.created_at < ?",
        (Account.PROGRAM_ISSUED.value, Account.PROGRAM_REDEEMED.value, program_id, start, end),
    )
    if row is None or int(row["issued"]) <= 0:
        return 0.0
    return min(1.0, max(0.0, int(row["redeemed"]) / int(row["issued"])))


@dataclass(frozen=True)
class PreparedBacktest:
    """A backtest checked and ready to run: its program and both configurations."""

    data: BacktestInput
    program: ProgramRecord
    current: _Config
    proposed: _Config


async def prepare_backtest(data: BacktestInput, scope: ProgramScope) -> PreparedBacktest:
    """Checks the period, the program and the proposal (DomainError on what is wrong)."""
    check_period(data.start, data.end)
    if data.end - data.start > MAX_PERIOD:
        raise DomainError(ErrorCode.INVALID_VALUE, "a backtest covers at most three years", ["to"])
    program = await require_program(data.program_slug, scope, ["input", "programSlug"])
    current = await _current_config(program)
    return PreparedBacktest(
        data=data,
        program=program,
        current=current,
        proposed=_proposed_config(current, data.proposal),
    )


async def count_orders(program_id: int, start: datetime, end: datetime) -> int:
    """The member orders a backtest of [start, end) plays: a job's measure of progress."""
    row = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM orders WHERE program_id = ? AND member_id IS NOT NULL"
        " AND placed_at >= ? AND placed_at < ?",
        (program_id, start, end),
    )
    return 0 if row is None else int(row["n"])


async def run_backtest(
    prepared: PreparedBacktest,
    on_page: Callable[[int], Awaitable[None]] | None = None,
) -> BacktestResult:
    """Plays the period's orders through both configurations; `on_page` hears the number of
    orders played so far after each page."""
    data = prepared.data
    recorded = 0
    try:
        # Inside the try: each configuration is checked as it is made, and a stored rule the
        # engine refuses is as much a user error as a proposed one.
        current, proposed = _Run(prepared.current), _Run(prepared.proposed)
        async for page in _orders(prepared.program.id, data.start, data.end):
            for order in page:
                recorded += order.points_earned
                cart = cart_in_program_currency(prepared.program, order, order.exchange_rate)
                current.add(order, cart)
                proposed.add(order, cart)
            if on_page is not None:
                await on_page(current.orders)
    except ValueError as error:
        # A proposed rule the earning engine refuses (a multiplier out of range...).
        raise DomainError(
            ErrorCode.INVALID_VALUE, str(error), ["input", "proposal", "rules"]
        ) from error
    rate = await _redemption_rate(prepared.program.id, data.start, data.end)
    return BacktestResult(
        start=data.start,
        end=data.end,
        orders=current.orders,
        members=len(current.members),
        recorded_points_issued=recorded,
        redemption_rate=rate,
        current=current.figures(data.end, rate),
        proposed=proposed.figures(data.end, rate),
    )


async def backtest_program(data: BacktestInput, scope: ProgramScope) -> BacktestResult:
    return await run_backtest(await prepare_backtest(data, scope))


@dataclass(frozen=True)
class WhatIfOrder:
    placed_at: datetime
    currency: str
    lines: tuple[OrderLineInput, ...]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0


@dataclass(frozen=True)
class WhatIfStep:
    placed_at: datetime
    points: int
    tier: str | None
    balance_after: int
    # Points of the member's lots (those held now and those the orders before earned) whose
    # expiry falls after the previous order and at or before this one.
    points_expired: int = 0


@dataclass(frozen=True)
class WhatIfResult:
    member: MemberRecord
    steps: tuple[WhatIfStep, ...]
    points: int


async def member_what_if(
    member_id: int, orders: Sequence[WhatIfOrder], scope: ProgramScope
) -> WhatIfResult:
    """What `orders` would earn the member under the program as it is now, in time order, the
    tier moving as they add up (from the member's tier and its count now). Writes
    nothing. The balance after each order adds what the orders earn to the member's available
    and pending points now, less what expires by then: the lots held now at their own expiry,
    the orders' lots at the program's (redemptions in between are not modelled, so a lot
    expires whole)."""
    if not orders or len(orders) > MAX_WHAT_IF_ORDERS:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            f"give 1 to {MAX_WHAT_IF_ORDERS} orders",
            ["orders"],
        )
    for index, order in enumerate(orders):
        if order.placed_at.tzinfo is None:
            # A naive moment is no moment at all: it cannot be compared with now.
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "placedAt needs a time zone, e.g. 2026-11-20T10:00:00Z",
                ["orders", str(index), "placedAt"],
            )
    member = await require_member(member_id, scope)
    program = await require_program_by_id(member.program_id, scope)
    config = await _current_config(program)
    run = _Run(config)
    state = run.member(member.id)
    if config.tiering is not None:
        status = await tier_status(program.id, member.id)
        names = [name for name, _, _ in config.tiering.tiers]
        if status is not None:
            state.qualifying = status.value
            state.tier = names.index(status.tier.name) if status.tier is not None else None
    now = utc_now()
    held = await fetch_all(
        connection(),
        "SELECT remaining, expires_at FROM point_lots"
        " WHERE member_id = ? AND remaining > 0 AND expires_at IS NOT NULL",
        (member.id,),
    )
    held_lots = [(int(row["remaining"]), as_datetime(row["expires_at"])) for row in held]
    expired_so_far = 0
    steps = []
    for order in sorted(orders, key=lambda o: o.placed_at):
        if order.placed_at < now:
            raise DomainError(
                ErrorCode.INVALID_VALUE, "what-if orders are in the future", ["orders"]
            )
        total = (
            sum(line.quantity * line.unit_price_minor for line in order.lines)
            + order.shipping_minor
            + order.tax_minor
            - order.discount_minor
        )
        played = _Order(
            member_id=member.id,
            placed_at=order.placed_at,
            currency=order.currency.strip().upper(),
            total_minor=total,
            lines=list(order.lines),
            shipping_minor=order.shipping_minor,
            tax_minor=order.tax_minor,
            discount_minor=order.discount_minor,
            exchange_rate=None,
            points_earned=0,
        )
        points = run.add(played, cart_in_program_currency(program, played, None))
        expired = sum(
            lot_points
            for lot_points, expires_at in (*held_lots, *state.lots)
            if expires_at is not None and expires_at <= order.placed_at
        )
        step_expired, expired_so_far = expired - expired_so_far, expired
        balance = member.points_available + member.points_pending + run.issued - expired
        tier = (
            None
            if config.tiering is None or state.tier is None
            else config.tiering.tiers[state.tier][0]
        )
        steps.append(
            WhatIfStep(
                placed_at=order.placed_at,
                points=points,
                tier=tier,
                balance_after=balance,
                points_expired=step_expired,
            )
        )
    return WhatIfResult(member=member, steps=tuple(steps), points=run.issued)


async def require_program_by_id(program_id: int, scope: ProgramScope) -> ProgramRecord:
    row = await fetch_one(connection(), "SELECT slug FROM programs WHERE id = ?", (program_id,))
    assert row is not None
    return await require_program(str(row["slug"]), scope)
