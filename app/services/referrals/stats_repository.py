"""The statements behind a program's referral numbers (`service.referral_stats`): reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.db import connection, fetch_all
from app.domain.referrals import ReferralSide, RewardStatus
from app.services.referrals.repository import CLAIMED, count


@dataclass(frozen=True)
class Window:
    """A program's period [start, end)."""

    program_id: int
    start: datetime
    end: datetime

    def params(self) -> tuple[int, datetime, datetime]:
        return (self.program_id, self.start, self.end)


async def count_referrals(window: Window, at: str, condition: str = "") -> int:
    """The program's referrals whose `at` moment falls in the window (and meet `condition`)."""
    return await count(
        connection(),
        f"SELECT COUNT(*) AS n FROM referrals WHERE program_id = ? AND {at} >= ? AND {at} < ?"
        + condition,
        window.params(),
    )


async def count_claimed(window: Window, at: str, condition: str = "") -> int:
    return await count_referrals(window, at, f" AND {CLAIMED}{condition}")


async def reward_sum(window: Window, column: str, condition: str, value: str) -> int:
    """The SUM of `column` over the program's rewards given in the window with `condition`."""
    return await count(
        connection(),
        f"SELECT SUM({column}) AS n FROM referral_rewards WHERE program_id = ?"
        f" AND created_at >= ? AND created_at < ? AND {condition} = ?",
        (*window.params(), value),
    )


async def counts_by(
    window: Window, table: str, column: str, at: str = "created_at"
) -> dict[str, int]:
    """How many rows of `table` in the window per non-null value of `column`."""
    rows = await fetch_all(
        connection(),
        f"SELECT {column} AS value, COUNT(*) AS n FROM {table} WHERE program_id = ?"
        f" AND {at} >= ? AND {at} < ? AND {column} IS NOT NULL GROUP BY {column}",
        window.params(),
    )
    return {str(row["value"]): int(row["n"]) for row in rows}


async def top_referrers(window: Window, limit: int) -> list[tuple[int, int]]:
    """(referrer, qualified referrals) with the most referrals qualified in the window."""
    rows = await fetch_all(
        connection(),
        "SELECT referrer_id, COUNT(*) AS n FROM referrals WHERE program_id = ?"
        " AND qualified_at >= ? AND qualified_at < ? GROUP BY referrer_id"
        " ORDER BY COUNT(*) DESC, referrer_id LIMIT ?",
        (*window.params(), limit),
    )
    return [(int(row["referrer_id"]), int(row["n"])) for row in rows]


async def referrer_points(window: Window, member_id: int) -> int:
    """The referral points the member earned as a referrer in the window, not cancelled."""
    return await count(
        connection(),
        "SELECT SUM(points) AS n FROM referral_rewards WHERE member_id = ? AND side = ?"
        " AND status <> ? AND created_at >= ? AND created_at < ?",
        (
            member_id,
            ReferralSide.REFERRER.value,
            RewardStatus.CANCELLED.value,
            window.start,
            window.end,
        ),
    )
