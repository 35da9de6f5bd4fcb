"""A punch card's life after it is made: paused and resumed, or retired for good.

A paused card is inactive without a retirement date (`active` false, `retired_at` null): no
purchase punches it, members keep their punches and rewards, and resuming it lets purchases
punch it again. A retired card (`retired_at` set) stays retired.
"""

from __future__ import annotations

from app.db import fetch_one, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.services.programs.service import ProgramScope
from app.services.punch_cards.service import (
    MAX_CARDS_PER_PROGRAM,
    PunchCardRecord,
    card_event,
    card_row,
    get_punch_card,
)


async def _card_in_scope(card_id: int, scope: ProgramScope) -> PunchCardRecord:
    card = await get_punch_card(card_id, scope)
    if card is None:
        raise DomainError(ErrorCode.PUNCH_CARD_NOT_FOUND, "no such punch card", ["input", "id"])
    return card


async def retire_punch_card(card_id: int, scope: ProgramScope) -> PunchCardRecord:
    """No purchase punches a retired card any more; members' cards and rewards stay, and
    refunds still take their punches off. Retiring twice changes nothing; a paused card can be
    retired."""
    card = await _card_in_scope(card_id, scope)
    now = utc_now()
    async with in_transaction() as conn:
        row = await fetch_one(
            conn,
            "UPDATE punch_cards SET active = ?, retired_at = ?, updated_at = ?"
            f" WHERE id = ? AND retired_at IS NULL RETURNING {card_row.columns}",
            (False, now, now, card.id),
        )
        if row is None:
            return card
        retired = card_row(row)
        await card_event(conn, retired, "punch_card.retired", now)
    return retired


async def set_punch_card_paused(card_id: int, paused: bool, scope: ProgramScope) -> PunchCardRecord:
    """Pause or resume a card that is not retired. Asking for the state it is in changes
    nothing; a resume counts against the program's limit of active cards."""
    card = await _card_in_scope(card_id, scope)
    if card.retired_at is not None:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            "a retired punch card cannot be paused or resumed",
            ["input", "id"],
        )
    if card.active != paused:
        return card
    now = utc_now()
    async with in_transaction() as conn:
        if not paused:
            count = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM punch_cards WHERE program_id = ? AND active = ?",
                (card.program_id, True),
            )
            if count is not None and int(count["n"]) >= MAX_CARDS_PER_PROGRAM:
                raise DomainError(
                    ErrorCode.TOO_MANY,
                    f"a program has at most {MAX_CARDS_PER_PROGRAM} active punch cards",
                    ["input", "id"],
                )
        # The state is checked again in the UPDATE: of two requests at once, one changes it.
        row = await fetch_one(
            conn,
            "UPDATE punch_cards SET active = ?, updated_at = ?"
            f" WHERE id = ? AND active = ? AND retired_at IS NULL RETURNING {card_row.columns}",
            (not paused, now, card.id, paused),
        )
        if row is None:
            return await _card_in_scope(card_id, scope)
        changed = card_row(row)
        await card_event(conn, changed, "punch_card.updated", now)
    return changed
