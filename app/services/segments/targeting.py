"""Rules and rewards restricted to segments: is this member in one of them, at this moment.

Asked live (membership.py `segments_of_member`), only for the segments the rules or the
reward name, so a program whose rules target no segment pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from app.db import connection
from app.domain.earning import MemberAttributes, PurchaseRule
from app.services.segments.membership import segments_of_member
from app.services.tiers.service import member_attributes as tier_attributes


def targeted_segments(rules: Iterable[PurchaseRule]) -> list[str]:
    return sorted({key for rule in rules for key in rule.eligible_segments})


async def earning_member(
    program_id: int, member_id: int, rules: Sequence[PurchaseRule], at: datetime
) -> MemberAttributes:
    """What earning needs of the member: their tier and multiplier, and which of the segments
    the rules target they are in at `at`."""
    attributes = await tier_attributes(program_id, member_id)
    wanted = targeted_segments(rules)
    if not wanted:
        return attributes
    segments = await segments_of_member(connection(), program_id, member_id, wanted, at)
    return replace(attributes, segments=segments)
