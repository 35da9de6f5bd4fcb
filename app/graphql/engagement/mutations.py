"""Challenge and badge mutations (admin)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.engagement import BadgeMilestone, ChallengeRecurrence
from app.graphql.actions.types import ActionKindEnum
from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.engagement.types import (
    Badge,
    BadgeMilestoneEnum,
    Challenge,
    ChallengeGoalEnum,
    ChallengeRecurrenceEnum,
)
from app.services.engagement import badges as badges_service
from app.services.engagement import challenges as challenges_service


@strawberry.input
class CreateChallengeInput:
    program_slug: str
    name: str
    goal: ChallengeGoalEnum  # type: ignore[valid-type]
    target: int = strawberry.field(
        description="Orders, actions or referrals; for SPEND, minor units of the program's"
        " currency."
    )
    starts_at: datetime
    ends_at: datetime | None = None
    recurrence: ChallengeRecurrenceEnum = ChallengeRecurrence.NONE  # type: ignore[valid-type]
    action: ActionKindEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="ACTION_COUNT only: the action that counts."
    )
    action_qualifier: str | None = strawberry.field(
        default=None,
        description="ACTION_COUNT of a follow, share or custom event: only this network or name.",
    )
    points: int = strawberry.field(default=0, description="Points a completion gives.")
    badge_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Badge a completion gives."
    )
    eligible_segments: list[str] = strawberry.field(
        default_factory=list,
        description="Segment keys of the program: only members in one of them progress and see"
        " the challenge (evaluated live). Empty: every member.",
    )
    description: str = ""
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input(
    description="Leave a field out to keep its value. The goal, action and recurrence are fixed."
)
class UpdateChallengeInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    target: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    clear_ends_at: bool = strawberry.field(default=False, description="The challenge never ends.")
    points: int | None = None
    badge_id: strawberry.ID | None = None
    clear_badge: bool = strawberry.field(default=False, description="Completions give no badge.")
    eligible_segments: list[str] | None = strawberry.field(
        default=None,
        description="New segment keys (replacing the old); an empty list opens the challenge to"
        " every member.",
    )


@strawberry.input
class SetChallengePausedInput:
    id: strawberry.ID
    paused: bool


@strawberry.input
class ArchiveChallengeInput:
    id: strawberry.ID


@strawberry.type
class ChallengePayload:
    challenge: Challenge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateBadgeInput:
    program_slug: str
    name: str
    milestone: BadgeMilestoneEnum = BadgeMilestone.NONE  # type: ignore[valid-type]
    threshold: int | None = strawberry.field(
        default=None, description="ORDER_COUNT: orders; MEMBER_FOR_DAYS: days. Else none."
    )
    description: str = ""
    image_url: str | None = None
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input(description="Leave a field out to keep its value. The milestone is fixed.")
class UpdateBadgeInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    image_url: str | None = None
    threshold: int | None = None
    active: bool | None = None


@strawberry.input
class ArchiveBadgeInput:
    id: strawberry.ID


@strawberry.type
class BadgePayload:
    badge: Badge | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_challenges = RecordPayloads("Challenge", Challenge.from_record, ChallengePayload, "challenge")
_badges = RecordPayloads("Badge", Badge.from_record, BadgePayload, "badge")


@mutation(description="Admin only: a challenge of a program.")
async def create_challenge(info: Info, input: CreateChallengeInput) -> ChallengePayload:
    return await _challenges.created(
        info,
        input,
        challenges_service.CreateChallengeInput,
        challenges_service.create_challenge,
        ids={"badge_id": "Badge"},
    )


@mutation(description="Admin only: change a challenge (not archived).")
async def update_challenge(info: Info, input: UpdateChallengeInput) -> ChallengePayload:
    return await _challenges.updated(
        info,
        input,
        challenges_service.UpdateChallengeInput,
        challenges_service.update_challenge,
        id_name="challenge_id",
        ids={"badge_id": "Badge"},
    )


@mutation(description="Admin only: pause a challenge (it counts nothing meanwhile) or resume it.")
async def set_challenge_paused(info: Info, input: SetChallengePausedInput) -> ChallengePayload:
    return await _challenges.by_id(
        admin(info),
        input.id,
        lambda pk, scope: challenges_service.set_challenge_paused(pk, input.paused, scope),
    )


@mutation(
    description="Admin only: archive a challenge, for good. Completions and their points stay."
)
async def archive_challenge(info: Info, input: ArchiveChallengeInput) -> ChallengePayload:
    return await _challenges.by_id(admin(info), input.id, challenges_service.archive_challenge)


@mutation(description="Admin only: a badge of a program.")
async def create_badge(info: Info, input: CreateBadgeInput) -> BadgePayload:
    return await _badges.created(
        info, input, badges_service.CreateBadgeInput, badges_service.create_badge
    )


@mutation(description="Admin only: change a badge (not archived). Awarded badges stay.")
async def update_badge(info: Info, input: UpdateBadgeInput) -> BadgePayload:
    return await _badges.updated(
        info,
        input,
        badges_service.UpdateBadgeInput,
        badges_service.update_badge,
        id_name="badge_id",
    )


@mutation(description="Admin only: archive a badge: awarded no more; members keep it.")
async def archive_badge(info: Info, input: ArchiveBadgeInput) -> BadgePayload:
    return await _badges.by_id(admin(info), input.id, badges_service.archive_badge)
