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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from strawberry.dataloader import DataLoader

from app.services.members.batch import members_by_id
from app.services.members.service import MemberRecord
from app.services.memberships.batch import memberships_by_member, plans_by_id
from app.services.memberships.service import MembershipRecord, PlanRecord
from app.services.programs.batch import programs_by_id
from app.services.programs.service import ProgramRecord, ProgramScope
from app.services.referrals.batch import referrals_by_friend, rewards_by_referral
from app.services.referrals.records import ReferralRecord, ReferralRewardRecord
from app.services.rewards.batch import redemptions_by_id, rewards_by_id
from app.services.rewards.repository import RedemptionRecord, RewardRecord
from app.services.store_credit.batch import movements_by_id
from app.services.store_credit.service import StoreCreditRecord

_Value = TypeVar("_Value")


def _one_each(
    read: Callable[[list[int]], Awaitable[Mapping[int, _Value]]],
) -> DataLoader[int, _Value | None]:
    """A loader of the one row (or None) each key names."""

    async def load(keys: list[int]) -> list[_Value | None]:
        found = await read(keys)
        return [found.get(key) for key in keys]

    return DataLoader(load, cache=False)


def _list_each(
    read: Callable[[list[int]], Awaitable[Mapping[int, list[_Value]]]],
) -> DataLoader[int, list[_Value]]:
    """A loader of the rows (maybe none) that belong to each key."""

    async def load(keys: list[int]) -> list[list[_Value]]:
        found = await read(keys)
        return [found.get(key, []) for key in keys]

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

    @classmethod
    def scoped_to(cls, scope: ProgramScope) -> Loaders:
        """The loaders of one request, whose caller may read the program `scope` (None: all)."""
        return cls(
            member=_one_each(lambda ids: members_by_id(ids, scope)),
            program=_one_each(lambda ids: programs_by_id(ids, scope)),
            reward=_one_each(lambda ids: rewards_by_id(ids, scope)),
            redemption=_one_each(lambda ids: redemptions_by_id(ids, scope)),
            # Referral rewards and memberships carry no program: their keys come from rows the
            # caller has already read in its scope.
            referral_rewards=_list_each(rewards_by_referral),
            referral_of_friend=_one_each(referrals_by_friend),
            membership_plan=_one_each(lambda ids: plans_by_id(ids, scope)),
            memberships=_list_each(memberships_by_member),
            store_credit_movement=_one_each(lambda ids: movements_by_id(ids, scope)),
        )
