"""Members in the API: a member, their points and activity, and the types that lead back to a
member (Redemption, Membership, Referral, ReferralReward).

Those types and Member point at each other (a member's referrals have a referrer, who is a
member), and Python modules cannot import each other. So each of them is declared in two
parts: its own fields in its capability's types.py (`RedemptionFields` in rewards/types.py,
`MembershipFields`, `ReferralFields`, `ReferralRewardFields`), and the schema's type here,
which adds only the fields that close the circle. Every other module imports these types from
here; nothing below this module needs them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.domain.errors import DomainError, ErrorCode
from app.domain.ledger import TransactionKind
from app.domain.referrals import ReferralState
from app.graphql.compiled import shared_and_unchanging
from app.graphql.core.connection import Connection, Edges, keyset_page
from app.graphql.core.context import Info, principal_of
from app.graphql.core.errors import as_query_errors
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.engagement.types import (
    MemberBadge,
    MemberChallenge,
    member_challenges,
)
from app.graphql.lifecycle.types import PointsExpiry, next_expiries_of
from app.graphql.loaders import loads_in_batch
from app.graphql.memberships.types import MembershipFields
from app.graphql.programs.types import Program
from app.graphql.punch_cards.types import MemberPunchCard, member_punch_cards
from app.graphql.referrals.types import ReferralFields, ReferralRewardFields
from app.graphql.rewards.types import RedemptionFields, Reward
from app.graphql.segments.types import MemberSegment, member_segments_of
from app.graphql.store_credit.types import (
    StoreCredit,
    StoreCreditMovement,
    store_credit_movements,
    store_credit_of,
)
from app.graphql.tiers.types import TierStatus, tier_status_of
from app.graphql.translations.types import Locale, messages_of
from app.services.members import service as members_service
from app.services.members.profile import MemberProfile as ProfileRecord
from app.services.members.service import ActivityRecord, MemberRecord
from app.services.messages.texts import activity_summary
from app.services.referrals import service as referrals_service
from app.services.rewards import service as rewards_service

ActivityKind = strawberry.enum(TransactionKind, name="ActivityKind")


@strawberry.type
class Points:
    available: int = strawberry.field(
        description="Spendable points: what the member can redeem now (0 while debt is owed)."
    )
    pending: int = strawberry.field(description="Points earned but not yet spendable.")
    lifetime_earned: int = strawberry.field(
        description="Every point earned, pending ones included from the moment they are earned"
        " (maturing moves them from pending to available and does not count them again); a"
        " refund takes back what it reverses. Adjustments do not count."
    )
    lifetime_redeemed: int
    debt: int = strawberry.field(
        description="Points refunds took back beyond what the member had (NEGATIVE_BALANCE"
        " policy): new points repay it before they become available, and no reward can be"
        " redeemed while it is above 0. The balance net of debt is available - debt."
    )


@shared_and_unchanging
@strawberry.type(description="One movement of the member's points.")
class Activity(Node):
    kind: ActivityKind  # type: ignore[valid-type]
    points: int = strawberry.field(
        description="Signed change of the member's points, available and pending together: a"
        " MATURE activity is 0, as its points only move from pending to available (its"
        " description says how many)."
    )
    description: str = strawberry.field(
        description="What the ledger recorded, in English, as written at the time."
    )
    order_id: str | None
    created_at: datetime

    @strawberry.field(
        description="The movement said in the reader's language (Laurel's message catalogues:"
        " en, sv, ro, ru; others get English), with numbers as the locale writes them."
    )
    def summary(self, info: Info, locale: Locale = None) -> str:
        return activity_summary(messages_of(info, locale), self.kind, self.points, self.order_id)

    # Written out rather than through core.records.from_record: member status builds a page of
    # these on every read, and the generic copy measured about twice as slow (1.6 us against
    # 3.8 us an activity, 2.4 us against 4.3 us a member).
    @classmethod
    def from_record(cls, record: ActivityRecord) -> Activity:
        return cls(
            id=strawberry.ID(encode_id("Activity", record.id)),
            kind=TransactionKind(record.kind),
            points=record.points,
            description=record.description,
            order_id=record.order_ref,
            created_at=record.created_at,
        )


# Ledger transactions are append-only (a trigger refuses UPDATE and DELETE on both databases):
# the edge of one is made once and shared by the requests that list it, with the answers plans
# keep on it. Keyed by the whole record, not its id, so a record is never taken for another
# database's transaction with the same id.
ACTIVITY_EDGE_CACHE_SIZE = 2048


_activity_edges = Edges("Activity", Activity.from_record, cache_size=ACTIVITY_EDGE_CACHE_SIZE)


@strawberry.type(
    description="What the store sent of the member beyond their customer id: personal data,"
    " readable with secret and admin keys and by the member themself, and erased by"
    " eraseMember."
)
class MemberProfile:
    email: str | None
    name: str | None
    birthday: date | None
    phone: str | None = strawberry.field(description="International format, e.g. +46701234567.")
    locale: str | None = strawberry.field(description="A language tag, e.g. sv-SE.")
    marketing_consent: bool
    marketing_consent_at: datetime | None = strawberry.field(
        description="When the member last gave marketing consent."
    )
    tags: list[str]
    attributes: JSON = strawberry.field(
        description="Values of the program's member attributes, by name."
    )
    card_number: str | None = strawberry.field(description="The loyalty card a till scans.")
    erased_at: datetime | None

    @classmethod
    def from_record(cls, record: ProfileRecord) -> MemberProfile:
        attributes: Any = record.attributes
        return from_record(cls, record, attributes=attributes)


MAX_RECOMMENDATIONS = 20


@strawberry.type(description="A reward as recommended to one member (Member.recommendedRewards).")
class RecommendedReward:
    reward: Reward
    cost_points: int = strawberry.field(description="At the member's own price (their tier's).")
    points_needed: int = strawberry.field(description="0 when the member can redeem it now.")
    redeemable_now: bool


@strawberry.type(description="A customer enrolled in a program.")
class Member(Node):
    customer_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str | None
    name: str | None
    birthday: date | None
    enrolled_at: datetime
    points: Points
    opted_out: bool = strawberry.field(
        description="The member opted out of earning: orders earn 0, actions are refused."
        " Balances stay and redeeming still works."
    )
    opted_out_at: datetime | None = strawberry.field(description="When the member opted out.")
    member_pk: strawberry.Private[int]
    program_pk: strawberry.Private[int]

    # Written out for speed, like Activity.from_record: member status is the hot read.
    @classmethod
    def from_record(cls, record: MemberRecord) -> Member:
        return cls(
            id=strawberry.ID(encode_id("Member", record.id)),
            customer_id=record.customer_id,
            email=record.email,
            name=record.name,
            birthday=record.birthday,
            enrolled_at=record.enrolled_at,
            points=Points(
                available=record.points_available,
                pending=record.points_pending,
                lifetime_earned=record.lifetime_earned,
                lifetime_redeemed=record.lifetime_redeemed,
                debt=record.points_debt,
            ),
            opted_out=record.opted_out_at is not None,
            opted_out_at=record.opted_out_at,
            member_pk=record.id,
            program_pk=record.program_id,
        )

    @strawberry.field(
        description="What the store sent of the member beyond their customer id (personal"
        " data; erased by eraseMember)."
    )
    async def profile(self, info: Info) -> MemberProfile | None:
        record = await info.context.loaders.member_profile.load(self.member_pk)
        return None if record is None else MemberProfile.from_record(record)

    @strawberry.field(
        description="The segments the member is in (secret and admin keys; null for a"
        " storefront, whose shoppers do not see how the store groups them)."
    )
    async def segments(self, info: Info) -> list[MemberSegment] | None:
        if not principal_of(info).can_read_members:
            return None
        return await member_segments_of(info, self.member_pk)

    @strawberry.field(description="Ledger movements, newest first.")
    async def activity(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[Activity] | None:
        async def fetch(position: int | None, limit: int) -> list[ActivityRecord]:
            if position is None and loads_in_batch(info.path):
                return await info.context.loaders.first_activities.load((self.member_pk, limit))
            return await members_service.list_activity(
                self.member_pk, before_id=position, limit=limit
            )

        return await keyset_page(
            fetch,
            first=first,
            after=after,
            edges=_activity_edges,
        )

    @strawberry.field(
        description="Active rewards of the program the member can redeem now, cheapest first:"
        " in stock, within their limits and tier restrictions, and affordable at the member's"
        " own price (their tier's discount; memberRewards shows the price and every refusal)."
        " None while points are owed."
    )
    async def available_rewards(self) -> list[Reward]:
        options = await rewards_service.reward_options(self.member_pk, self.program_pk)
        return [Reward.from_record(option.reward) for option in options if option.refusal is None]

    @strawberry.field(
        description="Rewards to show the member, by one rule: those they can redeem now, dearest"
        " first, then those only points stand between them and, nearest first, with how many"
        " points they still need. Rewards refused for anything else (stock, limits, tier, dates,"
        " owed points) are left out."
    )
    async def recommended_rewards(self, first: int = 3) -> list[RecommendedReward]:
        with as_query_errors():
            if not 1 <= first <= MAX_RECOMMENDATIONS:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"first must be between 1 and {MAX_RECOMMENDATIONS}",
                    ["first"],
                )
        options = await rewards_service.reward_options(self.member_pk, self.program_pk)
        return [
            RecommendedReward(
                reward=Reward.from_record(shown.option.reward),
                cost_points=shown.option.cost_points,
                points_needed=shown.points_needed,
                redeemable_now=shown.points_needed == 0,
            )
            for shown in rewards_service.recommend(options, self.points.available, first)
        ]

    @strawberry.field(
        description="The next dates the member's available points expire, soonest first,"
        " with how many; empty when the program's points do not expire."
    )
    async def next_expiries(self, info: Info, first: int = 5) -> list[PointsExpiry]:
        return await next_expiries_of(info, self.member_pk, self.program_pk, first)

    @strawberry.field
    async def program(self, info: Info) -> Program:
        record = await info.context.loaders.program.load(self.program_pk)
        assert record is not None
        return Program.from_record(record)

    @strawberry.field(
        description="The member's referral code: stable, unique in the program, made on first"
        " read while the program's referrals are on."
    )
    async def referral_code(self, info: Info) -> str | None:
        return (
            await info.context.loaders.referral_code.load((self.member_pk, self.program_pk))
        ).code

    @strawberry.field(description="The program's link template with the member's code.")
    async def referral_link(self, info: Info) -> str | None:
        return (
            await info.context.loaders.referral_code.load((self.member_pk, self.program_pk))
        ).link

    @strawberry.field(description="The referrals this member made, newest first.")
    async def referrals(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[Referral] | None:
        if after is None and loads_in_batch(info.path):
            return await keyset_page(
                lambda _, limit: info.context.loaders.first_referrals_made.load(
                    (self.member_pk, limit)
                ),
                first=first,
                after=None,
                edges=_referral_edges,
            )
        return await referral_connection(
            self.program_pk, referrer_id=self.member_pk, state=None, first=first, after=after
        )

    @strawberry.field(description="The member's store credit: money the store's checkout spends.")
    async def store_credit(self, info: Info) -> StoreCredit:
        return await store_credit_of(info, self.member_pk)

    @strawberry.field(description="Movements of the member's store credit, newest first.")
    async def store_credit_history(
        self, info: Info, first: int = 10, after: str | None = None
    ) -> Connection[StoreCreditMovement] | None:
        return await store_credit_movements(info, self.member_pk, first=first, after=after)

    @strawberry.field(
        description="The member's punch cards: the program's active cards, and retired ones the"
        " member has punches or rewards on."
    )
    async def punch_cards(self, info: Info) -> list[MemberPunchCard]:
        return await member_punch_cards(info, self.member_pk, self.program_pk)

    @strawberry.field(
        description="The program's challenges running now, oldest first, with the member's"
        " progress in the current period (a month, for monthly ones) and when they completed it."
    )
    async def challenges(self, info: Info) -> list[MemberChallenge]:
        return await member_challenges(info, self.member_pk, self.program_pk)

    @strawberry.field(description="The badges the member earned, in the order they were awarded.")
    async def badges(self, info: Info) -> list[MemberBadge]:
        found = await info.context.loaders.badges.load(self.member_pk)
        return [MemberBadge.from_record(record) for record in found]

    @strawberry.field(description="The referral that brought this member, if any.")
    async def referred_by(self, info: Info) -> Referral | None:
        record = await info.context.loaders.referral_of_friend.load(self.member_pk)
        return None if record is None else Referral.from_record(record)

    @strawberry.field(
        description="The member's tier, what the next one needs and what keeping this one needs,"
        " and the history of changes; null when the program has no tiers."
    )
    async def tier_status(self, info: Info) -> TierStatus | None:
        if loads_in_batch(info.path):
            record = await info.context.loaders.tier_status.load((self.program_pk, self.member_pk))
            return None if record is None else TierStatus.from_record(record)
        return await tier_status_of(self.program_pk, self.member_pk)

    @strawberry.field(description="The member's paid memberships, newest first, ended ones too.")
    async def memberships(self, info: Info) -> list[Membership]:
        return await memberships_of(info, self.member_pk)


async def member_of(info: Info, member_id: int) -> Member:
    record = await info.context.loaders.member.load(member_id)
    assert record is not None
    return Member.from_record(record)


@strawberry.type(
    description="A reward bought with points (or given); `code` is what the checkout honours."
)
class Redemption(RedemptionFields):
    @strawberry.field
    async def member(self, info: Info) -> Member:
        return await member_of(info, self.member_pk)

    @strawberry.field
    async def reward(self, info: Info) -> Reward:
        record = await info.context.loaders.reward.load(self.reward_pk)
        assert record is not None
        return Reward.from_record(record)


@strawberry.type(description="A member's subscription to a plan.")
class Membership(MembershipFields):
    @strawberry.field(description="The welcome reward given with it, with its code.")
    async def welcome_redemption(self, info: Info) -> Redemption | None:
        if self.welcome_redemption_pk is None:
            return None
        principal = info.context.principal
        if principal.is_member_session and principal.member_id != self.member_pk:
            return None
        record = await info.context.loaders.redemption.load(self.welcome_redemption_pk)
        return None if record is None else Redemption.from_record(record)


async def memberships_of(info: Info, member_id: int) -> list[Membership]:
    records = await info.context.loaders.memberships.load(member_id)
    return [Membership.from_record(record) for record in records]


async def _member_side(info: Info, member_id: int) -> Member | None:
    principal = info.context.principal
    if principal.is_member_session and principal.member_id != member_id:
        return None
    record = await info.context.loaders.member.load(member_id)
    return None if record is None else Member.from_record(record)


@strawberry.type(description="What one side of a referral earned: points, a catalogue reward.")
class ReferralReward(ReferralRewardFields):
    @strawberry.field(
        description="The redemption of a GIVEN catalogue reward, with its code; null for a member"
        " token reading the other side's reward."
    )
    async def redemption(self, info: Info) -> Redemption | None:
        principal = info.context.principal
        if self.redemption_pk is None or (
            principal.is_member_session and principal.member_id != self.member_pk
        ):
            return None
        record = await info.context.loaders.redemption.load(self.redemption_pk)
        return None if record is None else Redemption.from_record(record)


@strawberry.type(description="A member inviting a friend, and what became of it.")
class Referral(ReferralFields):
    @strawberry.field(
        description="The member who referred; null when a member token reads its own referral"
        " from the friend's side (one member never sees another's account)."
    )
    async def referrer(self, info: Info) -> Member | None:
        return await _member_side(info, self.referrer_pk)

    @strawberry.field(
        description="The friend, once they are a member; null when a member token reads its own"
        " referral from the referrer's side."
    )
    async def friend(self, info: Info) -> Member | None:
        return None if self.friend_pk is None else await _member_side(info, self.friend_pk)

    @strawberry.field
    async def rewards(self, info: Info) -> list[ReferralReward]:
        records = await info.context.loaders.referral_rewards.load(self.referral_pk)
        return [ReferralReward.from_record(record) for record in records]


async def referral_connection(
    program_id: int,
    *,
    referrer_id: int | None,
    state: ReferralState | None,
    first: int,
    after: str | None,
) -> Connection[Referral] | None:
    return await keyset_page(
        lambda position, limit: referrals_service.list_referrals(
            program_id, referrer_id=referrer_id, state=state, before_id=position, limit=limit
        ),
        first=first,
        after=after,
        edges=_referral_edges,
    )


_referral_edges = Edges("Referral", Referral.from_record)
