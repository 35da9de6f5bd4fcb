"""Badges that time earns: MEMBER_FOR_DAYS n, awarded to members enrolled n days ago or more.

Each award is a transaction of its own and is claimed by the unique (member, badge) index
(app/services/engagement/badges.py `award_member_for_days`): reruns, concurrent runners and a
run killed midway award each badge once. Members who have it are not read again.
"""

from __future__ import annotations

from datetime import datetime

from app.jobs.progress import Progress
from app.services.engagement.badges import award_member_for_days


async def award_time_badges(now: datetime, progress: Progress) -> dict[str, int]:
    return {"badges": await award_member_for_days(now)}
