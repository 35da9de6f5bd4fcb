"""Referrals read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.db import connection, fetch_all_in, fetch_first_in, in_transaction, utc_now
from app.domain.referrals import referral_link
from app.rows import grouped
from app.services.referrals import repository
from app.services.referrals.creation import ensure_code
from app.services.referrals.records import ReferralRecord, ReferralRewardRecord
from app.services.referrals.repository import CLAIMED, referral_row
from app.services.referrals.reward_repository import reward_row


async def rewards_by_referral(
    referral_ids: Sequence[int],
) -> dict[int, list[ReferralRewardRecord]]:
    """`rewards_of` for many referrals in one statement, by referral id."""
    rows = await fetch_all_in(
        connection(),
        f"SELECT {reward_row.columns} FROM referral_rewards",
        "referral_id",
        referral_ids,
        order_by="id",
    )
    return grouped(map(reward_row, rows), lambda reward: reward.referral_id)


async def referrals_by_friend(member_ids: Sequence[int]) -> dict[int, ReferralRecord]:
    """`referral_of_friend` for many members in one statement, by the friend's member id."""
    rows = await fetch_all_in(
        connection(),
        f"SELECT {referral_row.columns} FROM referrals",
        "friend_id",
        member_ids,
        # The first row of each friend is theirs: the claiming referral, else the last one.
        order_by=f"friend_id, CASE WHEN {CLAIMED} THEN 0 ELSE 1 END, id DESC",
    )
    referrals: dict[int, ReferralRecord] = {}
    for record in map(referral_row, rows):
        assert record.friend_id is not None
        referrals.setdefault(record.friend_id, record)
    return referrals


async def first_referrals_by_referrer(
    member_ids: Sequence[int], limit: int
) -> dict[int, list[ReferralRecord]]:
    """`list_referrals`' first page of a referrer (up to `limit`, newest first, in the
    referrer's program) for many referrers in one statement, by referrer id."""
    rows = await fetch_first_in(
        connection(),
        referral_row.columns,
        "referrals",
        "referrer_id",
        member_ids,
        order_by="id DESC",
        limit=limit,
        also=" AND program_id = (SELECT program_id FROM members WHERE members.id = referrer_id)",
    )
    return grouped(map(referral_row, rows), lambda referral: referral.referrer_id)


@dataclass(frozen=True)
class MemberReferralInfo:
    code: str | None
    link: str | None


# A member, and the program they belong to.
MemberOfProgram = tuple[int, int]


async def member_codes_by_member(
    members: Sequence[MemberOfProgram],
) -> dict[MemberOfProgram, MemberReferralInfo]:
    """Each member's referral code and link, by (member, program): their programs' settings and
    their codes in one statement each. A member without a code gets one on this first read
    while their program's referrals are on (all of a page's in one transaction)."""
    conn = connection()
    keys = list(dict.fromkeys(members))
    settings = await repository.settings_by_program(conn, [program for _, program in keys])
    codes = await repository.codes_by_member(conn, [member for member, _ in keys])
    missing = [(m, p) for m, p in keys if m not in codes and settings[p].enabled]
    if missing:
        now = utc_now()
        async with in_transaction() as tx:
            for member, program in missing:
                codes[member] = await ensure_code(tx, program, member, now)
    found = {}
    for member, program in keys:
        code = codes.get(member)
        enabled = settings[program].enabled
        link = referral_link(settings[program].url_template, code) if code and enabled else None
        found[(member, program)] = MemberReferralInfo(code=code, link=link)
    return found
