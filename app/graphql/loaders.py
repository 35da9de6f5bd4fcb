"""The per-request DataLoaders: every nested object or list the API reads for each row of a page
is loaded by the batch, one statement for the whole page (a page of 100 referrals reads its
referrers, friends and rewards in three statements, not 300).

Strawberry's executor, and the query plans of app/graphql/compiled.py, run the items of a list
and sibling fields at once, so the loads of one level of a page fall into one batch.

Each loader reads through one service function (a `batch` module beside the capability's
service) and sees what the caller's single reads see: the loaders of a request are scoped to its
caller's program, so no row of another program comes out of them.

They keep no cache: the mutations of one document run one after another, and each must read
what the one before wrote. (Keys repeated within a batch are read once.)

A member's own lists and balances (activity, store credit, punch cards, expiries, referrals)
go through a loader only when the member is one of a list (`loads_in_batch`): one member's
status, the hot read, keeps its direct reads and makes no loaders. A first page is batched by
(member, rows); a page after a cursor is read alone, as it is asked for one member at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from graphql.pyutils import Path
from strawberry.dataloader import DataLoader

from app.services.engagement.badges import MemberBadgeRecord, badges_by_member
from app.services.engagement.challenges import MemberChallengeRecord, challenges_by_member
from app.services.lifecycle.batch import next_expiries_by_member
from app.services.lifecycle.expiries import UpcomingExpiry
from app.services.members.batch import first_activities_by_member, members_by_id
from app.services.members.profile import MemberProfile, profiles_by_member
from app.services.members.service import ActivityRecord, MemberRecord
from app.services.memberships.batch import memberships_by_member, plans_by_id
from app.services.memberships.service import MembershipRecord, PlanRecord
from app.services.programs.batch import programs_by_id
from app.services.programs.service import ProgramRecord, ProgramScope
from app.services.punch_cards.batch import member_cards_by_member
from app.services.punch_cards.service import MemberPunchCard
from app.services.referrals.batch import (
    MemberOfProgram,
    MemberReferralInfo,
    first_referrals_by_referrer,
    member_codes_by_member,
    referrals_by_friend,
    rewards_by_referral,
)
from app.services.referrals.records import ReferralRecord, ReferralRewardRecord
from app.services.rewards.batch import redemptions_by_id, rewards_by_id
from app.services.rewards.repository import RedemptionRecord, RewardRecord
from app.services.segments.service import MemberSegment, segments_of_members
from app.services.store_credit.batch import (
    balances_by_member,
    first_movements_by_member,
    movements_by_id,
)
from app.services.store_credit.service import StoreCreditBalance, StoreCreditRecord
from app.services.tiers.service import TierStatus, tier_statuses_by_member
from app.services.translations.service import Texts, TextsKey, texts_of

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")
# A first page: the member, and the rows to read (a page's size and one more).
FirstPage = tuple[int, int]


def loads_in_batch(path: Path | None) -> bool:
    """Whether the object of the field at `path` is an item of a list, at any depth (its
    siblings ask for the same field at once)."""
    while path is not None:
        if isinstance(path.key, int):
            return True
        path = path.prev
    return False


def _one_each(
    read: Callable[[list[_Key]], Awaitable[Mapping[_Key, _Value]]],
) -> DataLoader[_Key, _Value | None]:
    """A loader of the one row (or None) each key names."""

    async def load(keys: list[_Key]) -> list[_Value | None]:
        found = await read(keys)
        return [found.get(key) for key in keys]

    return DataLoader(load, cache=False)


def _one_for_each(
    read: Callable[[list[_Key]], Awaitable[Mapping[_Key, _Value]]],
) -> DataLoader[_Key, _Value]:
    """A loader of the one value `read` gives every key (it answers for each)."""

    async def load(keys: list[_Key]) -> list[_Value]:
        found = await read(keys)
        return [found[key] for key in keys]

    return DataLoader(load, cache=False)


def _list_each(
    read: Callable[[list[_Key]], Awaitable[Mapping[_Key, list[_Value]]]],
) -> DataLoader[_Key, list[_Value]]:
    """A loader of the rows (maybe none) that belong to each key."""

    async def load(keys: list[_Key]) -> list[list[_Value]]:
        found = await read(keys)
        return [found.get(key, []) for key in keys]

    return DataLoader(load, cache=False)


def _first_page_each(
    read: Callable[[list[int], int], Awaitable[Mapping[int, list[_Value]]]],
) -> DataLoader[FirstPage, list[_Value]]:
    """A loader of the first rows of each member's list: one read of as many rows as the
    largest page asks for, each page cut to its own size."""

    async def load(keys: list[FirstPage]) -> list[list[_Value]]:
        found = await read([member for member, _ in keys], max(rows for _, rows in keys))
        return [found.get(member, [])[:rows] for member, rows in keys]

    return DataLoader(load, cache=False)


@dataclass(frozen=True)
class Loaders:
    member: DataLoader[int, MemberRecord | None]
    program: DataLoader[int, ProgramRecord | None]
    reward: DataLoader[int, RewardRecord | None]
    redemption: DataLoader[int, RedemptionRecord | None]
    referral_rewards: DataLoader[int, list[ReferralRewardRecord]]
    referral_of_friend: DataLoader[int, ReferralRecord | None]
    membership_plan: DataLoader[int, PlanRecord | None]
    memberships: DataLoader[int, list[MembershipRecord]]
    store_credit_movement: DataLoader[int, StoreCreditRecord | None]
    store_credit_balance: DataLoader[int, StoreCreditBalance | None]
    punch_cards: DataLoader[int, list[MemberPunchCard]]
    # By (member, program), soonest first.
    next_expiries: DataLoader[tuple[int, int], list[UpcomingExpiry]]
    first_activities: DataLoader[FirstPage, list[ActivityRecord]]
    first_store_credit_movements: DataLoader[FirstPage, list[StoreCreditRecord]]
    first_referrals_made: DataLoader[FirstPage, list[ReferralRecord]]
    referral_code: DataLoader[MemberOfProgram, MemberReferralInfo]
    member_profile: DataLoader[int, MemberProfile | None]
    segments: DataLoader[int, list[MemberSegment]]
    badges: DataLoader[int, list[MemberBadgeRecord]]
    # By (program, member), running now, oldest first.
    challenges: DataLoader[tuple[int, int], list[MemberChallengeRecord]]
    # By (program, member); None when the program has no tiers.
    tier_status: DataLoader[tuple[int, int], TierStatus | None]
    # The translations of configured things (kind, id, program) and their program's default
    # locale: a page of rewards' names in one statement (app/graphql/translations/).
    texts: DataLoader[TextsKey, Texts]

    @classmethod
    def scoped_to(cls, scope: ProgramScope) -> Loaders:
        """The loaders of one request, whose caller may read the program `scope` (None: all)."""
        return cls(
            member=_one_each(lambda ids: members_by_id(ids, scope)),
            program=_one_each(lambda ids: programs_by_id(ids, scope)),
            reward=_one_each(lambda ids: rewards_by_id(ids, scope)),
            redemption=_one_each(lambda ids: redemptions_by_id(ids, scope)),
            # Keyed by rows the caller has already read in its scope (a referral, a member), as
            # the single reads they replace are.
            referral_rewards=_list_each(rewards_by_referral),
            referral_of_friend=_one_each(referrals_by_friend),
            membership_plan=_one_each(lambda ids: plans_by_id(ids, scope)),
            memberships=_list_each(memberships_by_member),
            store_credit_movement=_one_each(lambda ids: movements_by_id(ids, scope)),
            # So do these, which are keyed by members the caller has read.
            store_credit_balance=_one_each(balances_by_member),
            punch_cards=_list_each(member_cards_by_member),
            next_expiries=_list_each(next_expiries_by_member),
            first_activities=_first_page_each(first_activities_by_member),
            first_store_credit_movements=_first_page_each(first_movements_by_member),
            first_referrals_made=_first_page_each(first_referrals_by_referrer),
            referral_code=_one_for_each(member_codes_by_member),
            member_profile=_one_each(profiles_by_member),
            segments=_list_each(segments_of_members),
            badges=_list_each(badges_by_member),
            tier_status=_one_each(tier_statuses_by_member),
            challenges=_list_each(challenges_by_member),
            # Keyed by rows the caller has already read in its scope.
            texts=_one_for_each(texts_of),
        )
