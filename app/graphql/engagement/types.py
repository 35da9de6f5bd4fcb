"""Challenges and badges in the API, and what a member has of them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.actions import ActionKind
from app.domain.engagement import (
    BadgeMilestone,
    ChallengeGoal,
    ChallengeRecurrence,
    ChallengeStatus,
)
from app.domain.locales import TranslatableKind
from app.graphql.actions.types import ActionKindEnum
from app.graphql.core.connection import Edges
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.loaders import loads_in_batch
from app.graphql.translations.types import TranslatedNameAndDescription
from app.services.engagement import badges as badges_service
from app.services.engagement import challenges as challenges_service
from app.services.engagement.badges import BadgeRecord, MemberBadgeRecord
from app.services.engagement.challenges import ChallengeRecord, MemberChallengeRecord

ChallengeGoalEnum = strawberry.enum(
    ChallengeGoal,
    name="ChallengeGoal",
    description="ORDER_COUNT: orders placed in the period. SPEND: their money in the program's"
    " currency (minor units). ACTION_COUNT: actions of `action` (and `actionQualifier`) that"
    " earned. REFERRAL_COUNT: the member's referrals that completed (REWARDED).",
)
ChallengeRecurrenceEnum = strawberry.enum(
    ChallengeRecurrence,
    name="ChallengeRecurrence",
    description="NONE: one period, the whole window. MONTHLY: each calendar month of the"
    " program's time zone within the window is a period of its own.",
)
ChallengeStatusEnum = strawberry.enum(ChallengeStatus, name="ChallengeStatus")
BadgeMilestoneEnum = strawberry.enum(
    BadgeMilestone,
    name="BadgeMilestone",
    description="NONE: given by challenges only. FIRST_ORDER, ORDER_COUNT (threshold orders),"
    " MEMBER_FOR_DAYS (threshold days since enrolment, by the `badges` job).",
)


@strawberry.type(description="A badge members earn once, by a challenge or a milestone.")
class Badge(TranslatedNameAndDescription, Node):
    translatable = TranslatableKind.BADGE
    image_url: str | None
    milestone: BadgeMilestoneEnum  # type: ignore[valid-type]
    threshold: int = strawberry.field(
        description="Orders (ORDER_COUNT) or days (MEMBER_FOR_DAYS); 1 for FIRST_ORDER, 0 else."
    )
    active: bool = strawberry.field(description="Inactive badges are not awarded.")
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: BadgeRecord) -> Badge:
        return from_record(cls, record)


@strawberry.type(description="A goal members reach within a window, for points and/or a badge.")
class Challenge(TranslatedNameAndDescription, Node):
    translatable = TranslatableKind.CHALLENGE
    goal: ChallengeGoalEnum  # type: ignore[valid-type]
    target: int = strawberry.field(description="Orders, actions, referrals, or minor units.")
    action: ActionKindEnum | None  # type: ignore[valid-type]
    action_qualifier: str = strawberry.field(
        description="The qualifier the action must have; empty: any."
    )
    recurrence: ChallengeRecurrenceEnum  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime | None
    points: int = strawberry.field(description="Points a completion gives (0: none).")
    status: ChallengeStatusEnum  # type: ignore[valid-type]
    archived_at: datetime | None
    eligible_segments: list[str] = strawberry.field(
        description="Segment keys: only members in one of them progress and see it; empty: all."
    )
    created_at: datetime
    updated_at: datetime
    badge_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: ChallengeRecord) -> Challenge:
        action = None if record.action is None else ActionKind(record.action)
        return from_record(cls, record, action=action)

    @strawberry.field(description="The badge a completion gives, if any.")
    async def badge(self, info: Info) -> Badge | None:
        if self.badge_pk is None:
            return None
        record = await badges_service.get_badge(self.badge_pk, info.context.principal.program_scope)
        return None if record is None else Badge.from_record(record)


@strawberry.type(description="The period of a challenge a member's progress counts in.")
class ChallengePeriod:
    key: str = strawberry.field(description="YYYY-MM for a monthly challenge; ALL otherwise.")
    starts_at: datetime
    ends_at: datetime | None


@strawberry.type(description="A member's progress on one running challenge, this period.")
class MemberChallenge:
    challenge: Challenge
    period: ChallengePeriod
    progress: int
    target: int
    completed_at: datetime | None = strawberry.field(
        description="When the member completed it this period; null while not."
    )

    @classmethod
    def from_record(cls, record: MemberChallengeRecord) -> MemberChallenge:
        return cls(
            challenge=Challenge.from_record(record.challenge),
            period=ChallengePeriod(
                key=record.period.key, starts_at=record.period.start, ends_at=record.period.end
            ),
            progress=record.progress,
            target=record.challenge.target,
            completed_at=record.completed_at,
        )


@strawberry.type(description="A badge a member earned.")
class MemberBadge:
    badge: Badge
    awarded_at: datetime

    @classmethod
    def from_record(cls, record: MemberBadgeRecord) -> MemberBadge:
        return cls(badge=Badge.from_record(record.badge), awarded_at=record.awarded_at)


challenge_edges = Edges("Challenge", Challenge.from_record)


async def member_challenges(info: Info, member_id: int, program_id: int) -> list[MemberChallenge]:
    """Through the batch when the member is one of a list (a page of members)."""
    if loads_in_batch(info.path):
        records = await info.context.loaders.challenges.load((program_id, member_id))
    else:
        records = await challenges_service.member_challenges(member_id, program_id)
    return [MemberChallenge.from_record(record) for record in records]
