"""A program's tier configuration: checked, then written under the configuration's lock.

Tiers are matched by name: a kept name keeps its history, entry grants and reward access; a
dropped one is retired; `renamedFrom` renames one (and the rewards that require it follow).
Members are not moved here: the configuration's version rises and `tiers-recalculate` moves
them (app/services/tiers/service.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, in_transaction, lock_until_commit, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.money import MAX_POINTS_PER_MOVEMENT
from app.domain.tiers import (
    MAX_GRACE_DAYS,
    MAX_REWARD_DISCOUNT_PERCENT,
    MAX_TIERS,
    TIER_NAME_MAX,
    DowngradePolicy,
    TierMetric,
    TierPeriod,
    checked_earn_multiplier,
)
from app.domain.validation import Checker
from app.services.core.events import append_event
from app.services.programs.service import require_program
from app.services.rewards.gifts import require_giftable_reward
from app.services.tiers import repository
from app.services.tiers.repository import TierProgram, TierRow

# Far above any real metric (points, minor units, orders), and within a 64-bit integer.
MAX_THRESHOLD = 10**15

# Namespace of the PostgreSQL advisory lock of a program's tier configuration (two-key form,
# like reward_gifts'); the second key is the program id.
TIER_CONFIGURATION_LOCK_CLASS = 0x4C54


@dataclass(frozen=True)
class TierInput:
    name: str
    threshold: int
    # Decimal text such as "1.5".
    earn_multiplier: str | None = None
    reward_discount_percent: int = 0
    entry_points: int = 0
    entry_reward_id: int | None = None
    # Shown to storefronts ("Free shipping", "Early access"), in this order.
    perks: tuple[str, ...] = ()
    # The name the tier had: a rename keeps its history, holders, entry grants and the rewards
    # that require it (their `requiredTiers` follow the new name).
    renamed_from: str | None = None


PERK_MAX = 200
MAX_TIER_PERKS = 20


@dataclass(frozen=True)
class ConfigureTiersInput:
    program_slug: str
    metric: TierMetric
    period: TierPeriod
    downgrade: DowngradePolicy
    tiers: tuple[TierInput, ...]
    grace_days: int = 0


def _check_tier(check: Checker, field: list[str], tier: TierInput) -> str | None:
    name = check.text([*field, "name"], tier.name, TIER_NAME_MAX)
    if not 0 <= tier.threshold <= MAX_THRESHOLD:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"threshold must be in [0, {MAX_THRESHOLD}]",
            [*field, "threshold"],
        )
    checked_earn_multiplier(check, tier.earn_multiplier, field)
    if not 0 <= tier.reward_discount_percent <= MAX_REWARD_DISCOUNT_PERCENT:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"rewardDiscountPercent must be in [0, {MAX_REWARD_DISCOUNT_PERCENT}]",
            [*field, "rewardDiscountPercent"],
        )
    if not 0 <= tier.entry_points <= MAX_POINTS_PER_MOVEMENT:
        check.add(
            ErrorCode.INVALID_POINTS,
            f"entryPoints must be in [0, {MAX_POINTS_PER_MOVEMENT}]",
            [*field, "entryPoints"],
        )
    check.text_list([*field, "perks"], tier.perks, PERK_MAX, MAX_TIER_PERKS)
    if tier.renamed_from is not None:
        check.text([*field, "renamedFrom"], tier.renamed_from, TIER_NAME_MAX)
    if tier.threshold == 0 and (tier.entry_points or tier.entry_reward_id is not None):
        # Everyone holds a free tier from enrolment without ever entering it.
        check.add(
            ErrorCode.INVALID_VALUE,
            "a tier with threshold 0 cannot have an entry reward",
            [*field, "entryPoints"],
        )
    return name


async def lock_tier_configuration(conn: BaseDBAsyncClient, program_id: int) -> None:
    """Take turns with every other change to which tiers the program has or which tiers its
    rewards require (configureTiers; createReward and updateReward with requiredTiers), so each
    checks the other's committed state: a tier cannot be retired while a reward that requires
    it is being saved. Taken before any row lock of the transaction. SQLite has one writer at a
    time: nothing to do."""
    await lock_until_commit(conn, TIER_CONFIGURATION_LOCK_CLASS, program_id)


def _check_input(data: ConfigureTiersInput, check: Checker) -> list[str]:
    """Every problem of the input on its own; the tiers' names."""
    if not 1 <= len(data.tiers) <= MAX_TIERS:
        check.add(ErrorCode.TOO_MANY, f"give 1 to {MAX_TIERS} tiers", ["input", "tiers"])
    names: list[str] = []
    for index, tier in enumerate(data.tiers):
        name = _check_tier(check, ["input", "tiers", str(index)], tier)
        if name is not None:
            if name in names:
                check.add(
                    ErrorCode.INVALID_VALUE,
                    f"tier {name!r} is named twice",
                    ["input", "tiers", str(index), "name"],
                )
            names.append(name)
    thresholds = [tier.threshold for tier in data.tiers]
    if any(b <= a for a, b in itertools.pairwise(thresholds)):
        check.add(
            ErrorCode.INVALID_VALUE,
            "tiers are listed lowest first, with strictly rising thresholds",
            ["input", "tiers"],
        )
    if not 0 <= data.grace_days <= MAX_GRACE_DAYS:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"graceDays must be in [0, {MAX_GRACE_DAYS}]",
            ["input", "graceDays"],
        )
    if data.grace_days and data.downgrade is not DowngradePolicy.GRACE_PERIOD:
        check.add(
            ErrorCode.INVALID_VALUE,
            "graceDays is for the GRACE_PERIOD policy",
            ["input", "graceDays"],
        )
    if data.period is TierPeriod.ROLLING_12_MONTHS and data.downgrade is DowngradePolicy.ONE_LEVEL:
        check.add(
            ErrorCode.INVALID_VALUE,
            "ONE_LEVEL needs period ends; ROLLING_12_MONTHS has none",
            ["input", "downgrade"],
        )
    return names


def _checked_renames(
    data: ConfigureTiersInput, names: list[str], existing: dict[str, bool], check: Checker
) -> dict[str, str]:
    renames: dict[str, str] = {}
    for index, tier in enumerate(data.tiers):
        if tier.renamed_from is None:
            continue
        old, new = tier.renamed_from.strip(), tier.name.strip()
        field = ["input", "tiers", str(index), "renamedFrom"]
        if not existing.get(old, False):
            check.add(ErrorCode.TIER_NOT_FOUND, f"no active tier {old!r} to rename", field)
        elif old in renames or old in names:
            check.add(ErrorCode.INVALID_VALUE, f"tier {old!r} is listed twice", field)
        elif new != old and new in existing:
            check.add(
                ErrorCode.INVALID_VALUE,
                f"the program already has (or had) a tier named {new!r}",
                ["input", "tiers", str(index), "name"],
            )
        else:
            renames[old] = new
    return renames


async def _checked_changes(
    conn: BaseDBAsyncClient,
    program_id: int,
    data: ConfigureTiersInput,
    names: list[str],
    check: Checker,
) -> dict[str, str]:
    """The checks against the program's tiers and rewards as they are (under the tier
    configuration's lock); raises every error found, these and the caller's. The renames."""
    existing = await repository.tier_names(conn, program_id)
    renames = _checked_renames(data, names, existing, check)
    kept = set(names) | set(renames)
    retiring = {name for name, active in existing.items() if active and name not in kept}
    for _, reward_name, required in await repository.required_tiers_of_rewards(
        conn, program_id, active_only=True
    ):
        needed = retiring & set(required)
        if needed:
            check.add(
                ErrorCode.TIER_IN_USE,
                f"reward {reward_name!r} requires tier {sorted(needed)[0]!r}: change its"
                " requiredTiers first (or rename the tier with renamedFrom)",
                ["input", "tiers"],
            )
    for index, tier in enumerate(data.tiers):
        if tier.entry_reward_id is None:
            continue
        try:
            await require_giftable_reward(
                conn,
                program_id,
                tier.entry_reward_id,
                ["input", "tiers", str(index), "entryRewardId"],
                utc_now(),
            )
        except DomainError as refused:
            check.add(refused.code, refused.message, refused.field or ["input", "tiers"])
    check.raise_if_any()
    return renames


def _tier_row(rank: int, tier: TierInput) -> TierRow:
    return TierRow(
        name=tier.name.strip(),
        rank=rank,
        threshold=tier.threshold,
        earn_multiplier=None
        if tier.earn_multiplier is None
        else f"{Decimal(tier.earn_multiplier.strip()).quantize(Decimal('0.01')):f}",
        reward_discount_percent=tier.reward_discount_percent,
        entry_points=tier.entry_points,
        entry_reward_id=tier.entry_reward_id,
        perks=list(dict.fromkeys(perk.strip() for perk in tier.perks)),
    )


async def _rename_required_tiers(
    conn: BaseDBAsyncClient, program_id: int, renames: dict[str, str]
) -> None:
    """Rewards restricted to a renamed tier follow its new name (retired rewards too, so their
    history reads right)."""
    for reward_id, _, names in await repository.required_tiers_of_rewards(
        conn, program_id, active_only=False
    ):
        renamed = sorted(renames.get(name, name) for name in names)
        if renamed != sorted(names):
            await repository.set_required_tiers(conn, reward_id, renamed)


async def configure_tiers(data: ConfigureTiersInput) -> TierProgram:
    """Replace a program's tier configuration (see the module's docstring)."""
    program = await require_program(data.program_slug, None)
    check = Checker()
    names = _check_input(data, check)
    async with in_transaction() as conn:
        await lock_tier_configuration(conn, program.id)
        renames = await _checked_changes(conn, program.id, data, names, check)
        now = utc_now()
        await repository.save_settings(
            conn,
            program.id,
            metric=data.metric,
            period=data.period,
            downgrade=data.downgrade,
            grace_days=data.grace_days,
            now=now,
        )
        for old, new in renames.items():
            await repository.rename_tier(conn, program.id, old, new)
        if renames:
            await _rename_required_tiers(conn, program.id, renames)
        # Free the ranks first: (program, rank) is not unique, but a clean slate keeps it simple.
        await repository.retire_all_tiers(conn, program.id, now)
        for rank, tier in enumerate(data.tiers):
            await repository.save_tier(conn, program.id, _tier_row(rank, tier), now)
        # An assignment to a tier that leaves the configuration ends with it: were the tier
        # added back later, the old assignment must not hold its member up again.
        await repository.clear_assignments_to_retired_tiers(conn, program.id, now)
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="tiers.configured",
            payload={
                "tiers": [tier.name.strip() for tier in data.tiers],
                "renamed": renames,
            },
            now=now,
        )
    configured = await repository.tier_program(connection(), program.id)
    assert configured is not None
    return configured
