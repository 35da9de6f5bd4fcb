"""Punch card progress read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in
from app.services.punch_cards.service import JOINED_CARD_COLUMNS, MemberPunchCard, card_row


async def member_cards_by_member(member_ids: Sequence[int]) -> dict[int, list[MemberPunchCard]]:
    """`member_cards` for many members in one statement, by member id: each member's program's
    active cards, and retired ones the member has punches or rewards on."""
    rows = await fetch_all_in(
        connection(),
        f"SELECT {JOINED_CARD_COLUMNS}, m.id AS card_member_id, p.id AS progress_id,"
        " p.punches AS member_punches, p.rewards_earned AS member_rewards"
        " FROM members m JOIN punch_cards c ON c.program_id = m.program_id"
        " LEFT JOIN punch_card_progress p ON p.card_id = c.id AND p.member_id = m.id",
        "m.id",
        member_ids,
        order_by="m.id, c.id",
    )
    cards: dict[int, list[MemberPunchCard]] = {}
    for row in rows:
        card = card_row(row)
        if card.active or row["progress_id"] is not None:
            cards.setdefault(int(row["card_member_id"]), []).append(
                MemberPunchCard(
                    card=card,
                    punches=int(row["member_punches"] or 0),
                    rewards_earned=int(row["member_rewards"] or 0),
                )
            )
    return cards
