"""Punch cards: admin set-up, punches from orders, rewards for full cards, refunds.

The rules (what qualifies, what a refund removes, the refund policy) are in
app/domain/punch_cards.py. Two hooks run inside the order services' transactions:
`on_order_recorded` (app/services/orders/service.py) and `on_order_refunded`
(app/services/orders/refunds.py).

Both lock the member row first, then the member's card rows: concurrent orders of one member
are serialised on the member (PostgreSQL row lock; SQLite runs one write transaction at a
time), so a card is completed once however many orders arrive together. The progress row is
changed by single atomic statements (an upsert adding punches, guarded updates taking them) as
a second line of defence. A full card's reward is given with `give_reward` in the same
transaction as the order; a reward that cannot be given (out of stock, inactive) is recorded
as FAILED with the reason and a `punch_card.reward_failed` event, for the store to settle.

An order's re-report writes nothing (the order's own unique id stops it before this hook), and
punches are unique per (card, order, line) besides. Opted-out members get no punches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    connection,
    fetch_all,
    fetch_one,
    from_json,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import TransactionKind
from app.domain.punch_cards import (
    CardRule,
    MinimumPer,
    PunchCardRefundPolicy,
    PunchRewardStatus,
    PurchasedLine,
    completed_cards,
    punches_of,
    still_stands,
)
from app.domain.rewards import RedemptionStatus
from app.domain.validation import (
    EXTERNAL_ID_MAX,
    NAME_MAX,
    TEXT_MAX,
    Checker,
)
from app.rows import RowMapper
from app.services.core.config_cache import cached
from app.services.core.events import append_event
from app.services.core.idempotency import create_once_if_keyed, keyed_write
from app.services.ledger.service import lock_member_row
from app.services.programs.service import ProgramScope, read_in_scope, require_program
from app.services.rewards.gifts import (
    GivenReward,
    GiveReward,
    give_reward,
    require_giftable_reward,
    revoke_given_reward,
)

MAX_PUNCHES_NEEDED = 1000
MAX_MINIMUM_QUANTITY = 10**6
MAX_FILTER_ENTRIES = 100
MAX_CARDS_PER_PROGRAM = 50


class OrderLine(Protocol):
    """What the hook reads of an order line (app/services/orders/cart.py OrderLineInput)."""

    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class PunchCardRecord:
    id: int
    program_id: int
    name: str
    description: str
    reward_id: int
    punches_needed: int
    skus: tuple[str, ...]
    categories: tuple[str, ...]
    minimum_quantity: int
    minimum_per: MinimumPer
    active: bool
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def rule(self) -> CardRule:
        return CardRule(
            skus=frozenset(self.skus),
            categories=frozenset(self.categories),
            minimum_quantity=self.minimum_quantity,
            minimum_per=self.minimum_per,
        )


@dataclass(frozen=True)
class MemberPunchCard:
    """A member's progress on one card."""

    card: PunchCardRecord
    # Punches on the current card (below zero after a refund under KEEP_REWARD).
    punches: int
    rewards_earned: int


@dataclass(frozen=True)
class CreatePunchCardInput:
    program_slug: str
    name: str
    reward_id: int
    punches_needed: int
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    minimum_quantity: int = 1
    minimum_per: MinimumPer = MinimumPer.LINE
    description: str = ""
    # A retry with the same key returns the card the first request made.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdatePunchCardInput:
    """Fields left None keep their value. Punches already given keep the minimum they had."""

    card_id: int
    name: str | None = None
    description: str | None = None
    reward_id: int | None = None
    punches_needed: int | None = None
    skus: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    minimum_quantity: int | None = None
    minimum_per: MinimumPer | None = None


card_row = RowMapper(PunchCardRecord)
# The same columns in a join, where the card table is `c`.
JOINED_CARD_COLUMNS = ", ".join(f"c.{column}" for column in card_row.columns.split(", "))


# --- Set-up -----------------------------------------------------------------------------------


async def get_punch_card(card_id: int, scope: ProgramScope) -> PunchCardRecord | None:
    return await read_in_scope(connection(), card_row, "punch_cards", card_id, scope)


async def list_punch_cards(program_id: int, *, include_retired: bool) -> list[PunchCardRecord]:
    select = f"SELECT {card_row.columns} FROM punch_cards WHERE program_id = ?"
    if include_retired:
        rows = await fetch_all(connection(), select + " ORDER BY id", (program_id,))
    else:
        rows = await fetch_all(
            connection(), select + " AND active = ? ORDER BY id", (program_id, True)
        )
    return card_row.all(rows)


async def refund_policy(program_id: int) -> PunchCardRefundPolicy:
    return await _policy(connection(), program_id)


async def set_refund_policy(
    program_slug: str, policy: PunchCardRefundPolicy
) -> PunchCardRefundPolicy:
    """Admin: what refunds do to rewards that punches already earned (see the domain module)."""
    program = await require_program(program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:
        await fetch_one(
            conn,
            "UPDATE programs SET punch_card_refund_policy = ? WHERE id = ? RETURNING id",
            (policy.value, program.id),
        )
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="punch_card.settings_updated",
            payload={"refundPolicy": policy.value},
            now=now,
        )
    return policy


def _check_sizes(check: Checker, punches_needed: int | None, minimum_quantity: int | None) -> None:
    if punches_needed is not None:
        check.int_range(
            ["input", "punchesNeeded"],
            punches_needed,
            1,
            MAX_PUNCHES_NEEDED,
            ErrorCode.INVALID_QUANTITY,
        )
    if minimum_quantity is not None:
        check.int_range(
            ["input", "minimumQuantity"],
            minimum_quantity,
            1,
            MAX_MINIMUM_QUANTITY,
            ErrorCode.INVALID_QUANTITY,
        )


def _check_filter(
    check: Checker, skus: tuple[str, ...], categories: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    cleaned_skus = check.text_list(["input", "skus"], skus, EXTERNAL_ID_MAX, MAX_FILTER_ENTRIES)
    cleaned_categories = check.text_list(
        ["input", "categories"], categories, EXTERNAL_ID_MAX, MAX_FILTER_ENTRIES
    )
    if not skus and not categories:
        check.add(
            ErrorCode.REQUIRED,
            "a punch card needs at least one SKU or category that punches it",
            ["input", "skus"],
        )
    return sorted(cleaned_skus), sorted(cleaned_categories)


async def _require_reward(
    conn: BaseDBAsyncClient, program_id: int, reward_id: int, now: datetime
) -> None:
    await require_giftable_reward(conn, program_id, reward_id, ["input", "rewardId"], now)


async def create_punch_card(data: CreatePunchCardInput) -> PunchCardRecord:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    _check_sizes(check, data.punches_needed, data.minimum_quantity)
    skus, categories = _check_filter(check, data.skus, data.categories)
    key = check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> PunchCardRecord:
            await _require_reward(conn, program.id, data.reward_id, now)
            count = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM punch_cards WHERE program_id = ? AND active = ?",
                (program.id, True),
            )
            if count is not None and int(count["n"]) >= MAX_CARDS_PER_PROGRAM:
                raise DomainError(
                    ErrorCode.TOO_MANY,
                    f"a program has at most {MAX_CARDS_PER_PROGRAM} active punch cards",
                    ["input", "programSlug"],
                )
            row = await fetch_one(
                conn,
                "INSERT INTO punch_cards (program_id, name, description, reward_id, punches_needed,"
                " skus, categories, minimum_quantity, minimum_per, active, retired_at, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
                f" RETURNING {card_row.columns}",
                (
                    program.id,
                    name,
                    description or "",
                    data.reward_id,
                    data.punches_needed,
                    json.dumps(skus),
                    json.dumps(categories),
                    data.minimum_quantity,
                    data.minimum_per.value,
                    True,
                    now,
                    now,
                ),
            )
            assert row is not None
            card = card_row(row)
            await card_event(conn, card, "punch_card.created", now)
            return card

        return await create_once_if_keyed(
            conn,
            **keyed_write(program.id, key, "createPunchCard", data, now),
            create=perform,
            remember_id_as="punchCardId",
            read=lambda card_id: read_in_scope(conn, card_row, "punch_cards", card_id, None),
        )


# The event every change of a card sends (created, updated, paused or resumed, retired).
async def card_event(
    conn: BaseDBAsyncClient, card: PunchCardRecord, event_type: str, now: datetime
) -> None:
    await append_event(
        conn,
        program_id=card.program_id,
        member_id=None,
        event_type=event_type,
        payload={
            "punchCardId": encode_id("PunchCard", card.id),
            "name": card.name,
            "punchesNeeded": card.punches_needed,
            "rewardId": encode_id("Reward", card.reward_id),
        },
        now=now,
    )


async def update_punch_card(data: UpdatePunchCardInput, scope: ProgramScope) -> PunchCardRecord:
    """Change a card. A new size applies to the current cards of members from their next
    punch: punches already on them stay (a card now smaller completes at the next punch)."""
    check = Checker()
    name = check.changed_text(["input", "name"], data.name, NAME_MAX)
    description = check.changed_text(
        ["input", "description"], data.description, TEXT_MAX, required=False
    )
    _check_sizes(check, data.punches_needed, data.minimum_quantity)
    check.raise_if_any()
    card = await get_punch_card(data.card_id, scope)
    if card is None:
        raise DomainError(ErrorCode.PUNCH_CARD_NOT_FOUND, "no such punch card", ["input", "id"])
    skus, categories = _check_filter(
        check,
        card.skus if data.skus is None else data.skus,
        card.categories if data.categories is None else data.categories,
    )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        if data.reward_id is not None:
            await _require_reward(conn, card.program_id, data.reward_id, now)
        row = await fetch_one(
            conn,
            "UPDATE punch_cards SET name = ?, description = ?, reward_id = ?, punches_needed = ?,"
            " skus = ?, categories = ?, minimum_quantity = ?, minimum_per = ?, updated_at = ?"
            f" WHERE id = ? RETURNING {card_row.columns}",
            (
                name or card.name,
                card.description if data.description is None else (description or ""),
                data.reward_id or card.reward_id,
                data.punches_needed or card.punches_needed,
                json.dumps(skus),
                json.dumps(categories),
                data.minimum_quantity or card.minimum_quantity,
                (data.minimum_per or card.minimum_per).value,
                now,
                card.id,
            ),
        )
        assert row is not None
        updated = card_row(row)
        await card_event(conn, updated, "punch_card.updated", now)
    return updated


# --- What members see ---------------------------------------------------------------------------


async def member_cards(member_id: int, program_id: int) -> list[MemberPunchCard]:
    """The program's active cards, and retired ones the member has punches or rewards on."""
    rows = await fetch_all(
        connection(),
        f"SELECT {JOINED_CARD_COLUMNS},"
        " p.punches AS member_punches, p.rewards_earned AS member_rewards"
        " FROM punch_cards c LEFT JOIN punch_card_progress p"
        " ON p.card_id = c.id AND p.member_id = ?"
        " WHERE c.program_id = ? AND (c.active = ? OR p.id IS NOT NULL) ORDER BY c.id",
        (member_id, program_id, True),
    )
    return [
        MemberPunchCard(
            card=card_row(row),
            punches=int(row["member_punches"] or 0),
            rewards_earned=int(row["member_rewards"] or 0),
        )
        for row in rows
    ]


# --- The order hooks ------------------------------------------------------------------------------


async def _lock_member(conn: BaseDBAsyncClient, member_id: int) -> dict[str, Any]:
    row = await lock_member_row(conn, member_id, "opted_out_at")
    assert row is not None
    return row


async def _active_cards(conn: BaseDBAsyncClient, program_id: int) -> tuple[PunchCardRecord, ...]:
    rows = await fetch_all(
        conn,
        f"SELECT {card_row.columns} FROM punch_cards"
        " WHERE program_id = ? AND active = ? ORDER BY id",
        (program_id, True),
    )
    return tuple(card_row.all(rows))


async def on_order_recorded(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    order_pk: int,
    order_ref: str,
    lines: Sequence[OrderLine],
    now: datetime,
) -> None:
    """Punch the member's cards for a newly recorded order, and give the rewards of full cards.

    `lines` are the order's lines in their order: a line's position is its index, as in the
    order's earning breakdown that refunds name lines by.
    """
    purchased = [
        PurchasedLine(index=index, sku=line.sku, category=line.category, quantity=line.quantity)
        for index, line in enumerate(lines)
    ]
    cards = await cached("punch_cards.active", program_id, lambda: _active_cards(conn, program_id))
    punches_by_card = [(card, punches_of(card.rule, purchased)) for card in cards]
    punches_by_card = [(card, punches) for card, punches in punches_by_card if punches]
    if not punches_by_card:
        return
    member = await _lock_member(conn, member_id)
    if member["opted_out_at"] is not None:
        return
    for card, punches in punches_by_card:
        added = 0
        for punch in punches:
            inserted = await fetch_one(
                conn,
                "INSERT INTO punch_card_punches (program_id, member_id, card_id, order_id,"
                " line_index, lines, minimum_quantity, removed_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)"
                " ON CONFLICT (card_id, order_id, line_index) DO NOTHING RETURNING id",
                (
                    program_id,
                    member_id,
                    card.id,
                    order_pk,
                    punch.line_index,
                    json.dumps({str(index): units for index, units in punch.units.items()}),
                    card.minimum_quantity,
                    now,
                ),
            )
            added += inserted is not None
        if added:
            await _add_punches(
                conn,
                card=card,
                member_id=member_id,
                order_pk=order_pk,
                order_ref=order_ref,
                added=added,
                now=now,
            )


async def _add_punches(
    conn: BaseDBAsyncClient,
    *,
    card: PunchCardRecord,
    member_id: int,
    order_pk: int,
    order_ref: str,
    added: int,
    now: datetime,
) -> None:
    progress = await fetch_one(
        conn,
        "INSERT INTO punch_card_progress (program_id, member_id, card_id, punches,"
        " punches_total, rewards_earned, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?)"
        " ON CONFLICT (member_id, card_id) DO UPDATE SET"
        " punches = punch_card_progress.punches + excluded.punches,"
        " punches_total = punch_card_progress.punches_total + excluded.punches_total,"
        " updated_at = excluded.updated_at RETURNING punches",
        (card.program_id, member_id, card.id, added, added, now),
    )
    assert progress is not None
    punches = int(progress["punches"])
    await append_event(
        conn,
        program_id=card.program_id,
        member_id=member_id,
        event_type="punch_card.punched",
        payload={
            "punchCardId": encode_id("PunchCard", card.id),
            "memberId": encode_id("Member", member_id),
            "orderId": order_ref,
            "punches": added,
            "punchesOnCard": punches,
            "punchesNeeded": card.punches_needed,
        },
        now=now,
    )
    for _ in range(completed_cards(punches, card.punches_needed)):
        await _complete(conn, card=card, member_id=member_id, order_pk=order_pk, now=now)


async def _complete(
    conn: BaseDBAsyncClient, *, card: PunchCardRecord, member_id: int, order_pk: int, now: datetime
) -> None:
    taken = await fetch_one(
        conn,
        "UPDATE punch_card_progress SET punches = punches - ? WHERE member_id = ? AND card_id = ?"
        " AND punches >= ? RETURNING punches",
        (card.punches_needed, member_id, card.id, card.punches_needed),
    )
    if taken is None:
        return
    outcome = await give_reward(
        conn,
        GiveReward(
            program_id=card.program_id,
            member_id=member_id,
            reward_id=card.reward_id,
            kind=TransactionKind.PUNCH_CARD,
            reason=f"Punch card {card.name}",
            event_details={"punchCardId": encode_id("PunchCard", card.id)},
        ),
        now,
    )
    given = isinstance(outcome, GivenReward)
    status = PunchRewardStatus.GIVEN if given else PunchRewardStatus.FAILED
    row = await fetch_one(
        conn,
        "INSERT INTO punch_card_rewards (program_id, member_id, card_id, order_id, redemption_id,"
        " punches, status, failure, created_at, revoked_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) RETURNING id",
        (
            card.program_id,
            member_id,
            card.id,
            order_pk,
            outcome.redemption_id if isinstance(outcome, GivenReward) else None,
            card.punches_needed,
            status.value,
            None if isinstance(outcome, GivenReward) else outcome.value,
            now,
        ),
    )
    assert row is not None
    if given:
        await _change_progress(conn, member_id=member_id, card_id=card.id, rewards=1)
    await append_event(
        conn,
        program_id=card.program_id,
        member_id=member_id,
        event_type="punch_card.completed" if given else "punch_card.reward_failed",
        payload={
            "punchCardId": encode_id("PunchCard", card.id),
            "memberId": encode_id("Member", member_id),
            "orderPk": encode_id("Order", order_pk),
            **(
                {"redemptionId": encode_id("Redemption", outcome.redemption_id)}
                if isinstance(outcome, GivenReward)
                else {"failure": outcome.value}
            ),
        },
        now=now,
    )


async def _change_progress(
    conn: BaseDBAsyncClient,
    *,
    member_id: int,
    card_id: int,
    punches: int = 0,
    rewards: int = 0,
    total: int = 0,
) -> int:
    """Add to a member's card (negative: take off); the punches on the current card after."""
    row = await fetch_one(
        conn,
        "UPDATE punch_card_progress SET punches = punches + ?,"
        " rewards_earned = rewards_earned + ?, punches_total = punches_total + ?"
        " WHERE member_id = ? AND card_id = ? RETURNING punches",
        (punches, rewards, total, member_id, card_id),
    )
    assert row is not None
    return int(row["punches"])


async def on_order_refunded(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    order_pk: int,
    refunded_quantities: Mapping[str, int],
    now: datetime,
) -> None:
    """Take off the punches of an order that its refunds (all of them so far, per line in
    `refunded_quantities`) leave standing on too few units; the policy decides about rewards."""
    punches = await fetch_all(
        conn,
        "SELECT id, card_id, lines, minimum_quantity FROM punch_card_punches"
        " WHERE order_id = ? AND removed_at IS NULL ORDER BY id",
        (order_pk,),
    )
    refunded = {int(index): int(units) for index, units in refunded_quantities.items()}
    falling = [
        row
        for row in punches
        if not still_stands(
            {int(index): int(units) for index, units in from_json(row["lines"]).items()},
            int(row["minimum_quantity"]),
            refunded,
        )
    ]
    if not falling:
        return
    await _lock_member(conn, member_id)
    removed: dict[int, int] = {}
    for row in falling:
        taken = await fetch_one(
            conn,
            "UPDATE punch_card_punches SET removed_at = ? WHERE id = ? AND removed_at IS NULL"
            " RETURNING card_id",
            (now, row["id"]),
        )
        if taken is not None:
            removed[int(taken["card_id"])] = removed.get(int(taken["card_id"]), 0) + 1
    policy = await _policy(conn, program_id)
    for card_id, count in sorted(removed.items()):
        punches_left = await _change_progress(
            conn, member_id=member_id, card_id=card_id, punches=-count, total=-count
        )
        revoked = 0
        if punches_left < 0 and policy is PunchCardRefundPolicy.REVOKE_UNUSED_REWARD:
            punches_left, revoked = await _revoke_rewards(
                conn, member_id=member_id, card_id=card_id, punches=punches_left, now=now
            )
        await append_event(
            conn,
            program_id=program_id,
            member_id=member_id,
            event_type="punch_card.punches_removed",
            payload={
                "punchCardId": encode_id("PunchCard", card_id),
                "memberId": encode_id("Member", member_id),
                "orderPk": encode_id("Order", order_pk),
                "punches": count,
                "punchesOnCard": punches_left,
                "rewardsRevoked": revoked,
            },
            now=now,
        )


async def _policy(conn: BaseDBAsyncClient, program_id: int) -> PunchCardRefundPolicy:
    row = await fetch_one(
        conn, "SELECT punch_card_refund_policy FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return PunchCardRefundPolicy(row["punch_card_refund_policy"])


async def _revoke_rewards(
    conn: BaseDBAsyncClient, *, member_id: int, card_id: int, punches: int, now: datetime
) -> tuple[int, int]:
    """REVOKE_UNUSED_REWARD: cancel the card's newest rewards while the current card is below
    zero and their codes are unused; (punches on the card after, rewards revoked)."""
    revoked = 0
    completions = await fetch_all(
        conn,
        "SELECT id, redemption_id, punches, status FROM punch_card_rewards"
        " WHERE member_id = ? AND card_id = ? AND status <> ? ORDER BY id DESC",
        (member_id, card_id, PunchRewardStatus.REVOKED.value),
    )
    for completion in completions:
        if punches >= 0:
            break
        given = completion["status"] == PunchRewardStatus.GIVEN.value
        if given and not await revoke_given_reward(conn, int(completion["redemption_id"]), now):
            # Not revoked now: a used code stops here; one already cancelled or expired
            # unused was never used either, so it is revoked as if cancelled now.
            state = await fetch_one(
                conn,
                "SELECT status FROM redemptions WHERE id = ?",
                (completion["redemption_id"],),
            )
            assert state is not None
            if state["status"] not in (
                RedemptionStatus.CANCELLED.value,
                RedemptionStatus.EXPIRED.value,
            ):
                break
        await fetch_one(
            conn,
            "UPDATE punch_card_rewards SET status = ?, revoked_at = ? WHERE id = ? RETURNING id",
            (PunchRewardStatus.REVOKED.value, now, completion["id"]),
        )
        punches = await _change_progress(
            conn,
            member_id=member_id,
            card_id=card_id,
            punches=int(completion["punches"]),
            rewards=-1 if given else 0,
        )
        revoked += given
    return punches, revoked


async def on_gift_cancelled(conn: BaseDBAsyncClient, redemption_id: int, now: datetime) -> bool:
    """A punch-card reward was cancelled by hand (`cancelRedemption`), in that transaction: the
    completion is REVOKED, its punches go back on the card and rewardsEarned falls by one, as a
    refund under REVOKE_UNUSED_REWARD would do. So a later refund of the purchases that filled
    the card finds the punches there and takes them, and never charges the member twice. False
    when the redemption is not a punch-card reward still counted as given. The caller holds the
    member row."""
    completion = await fetch_one(
        conn,
        "UPDATE punch_card_rewards SET status = ?, revoked_at = ? WHERE redemption_id = ?"
        " AND status = ? RETURNING id, program_id, member_id, card_id, punches",
        (
            PunchRewardStatus.REVOKED.value,
            now,
            redemption_id,
            PunchRewardStatus.GIVEN.value,
        ),
    )
    if completion is None:
        return False
    member_id, card_id = int(completion["member_id"]), int(completion["card_id"])
    punches_left = await _change_progress(
        conn,
        member_id=member_id,
        card_id=card_id,
        punches=int(completion["punches"]),
        rewards=-1,
    )
    await append_event(
        conn,
        program_id=int(completion["program_id"]),
        member_id=member_id,
        event_type="punch_card.reward_cancelled",
        payload={
            "punchCardId": encode_id("PunchCard", card_id),
            "memberId": encode_id("Member", member_id),
            "redemptionId": encode_id("Redemption", redemption_id),
            "punchesOnCard": punches_left,
        },
        now=now,
    )
    return True
