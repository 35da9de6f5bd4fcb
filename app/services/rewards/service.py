"""The reward catalogue and redemption: points and stock leave together or not at all.

Admins create, update and retire rewards (retired rewards stay for the history of their
redemptions). A redemption (app/services/rewards/redemption.py) locks the member, checks the
reward's window, stock, per-member limit and tier terms (app/services/rewards/terms.py), takes
the points by the ledger's guarded decrement, then one unit of stock by a guarded update, then
a code: a new random one or the next of the store's pool. Lock order: member, reward, pool code.
Rows are read and written in app/services/rewards/repository.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.rewards import (
    MAX_CODE_VALID_DAYS,
    MAX_LIST_ITEMS,
    MAX_PER_MEMBER_LIMIT,
    MONEY_KINDS,
    SKU_MAX,
    URL_MAX,
    CodeSource,
    RedemptionStatus,
    RewardKind,
    check_terms,
)
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker
from app.services.core.events import append_event
from app.services.core.idempotency import (
    IdempotentRequest,
    create_once_if_keyed,
    keyed_write,
    run_once_by_id,
    scope_of,
)
from app.services.experiments.enforcement import program_plans, withheld_rewards
from app.services.members.service import require_member
from app.services.programs.service import ProgramScope, require_program
from app.services.rewards import repository
from app.services.rewards.redemption import offer_refusal, price_for_tier, redeem_in
from app.services.rewards.repository import (
    FIELD_NAMES,
    RedemptionRecord,
    RewardFields,
    RewardRecord,
    terms_of,
)
from app.services.rewards.terms import (
    REFUSED_BECAUSE,
    check_required_segments,
    check_required_tiers,
    member_reward_segments,
    member_reward_tier,
)
from app.services.tiers.configuration import lock_tier_configuration

_OPERATION = "redeemReward"
MAX_STOCK = 10**9


@dataclass(frozen=True, kw_only=True)
class CreateRewardInput(RewardFields):
    program_slug: str
    kind: RewardKind
    # A retry with the same key returns the reward the first request made.
    idempotency_key: str | None = None


# Sentinel for "leave as it is" in updates (None is a value: "no stock limit", "no end").
class _Keep:
    pass


KEEP: Any = _Keep()


@dataclass(frozen=True)
class UpdateRewardInput:
    """Fields left at KEEP keep their value; the kind and the code source never change."""

    reward_id: int
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RedeemRewardInput:
    member_id: int
    reward_id: int
    idempotency_key: str
    # Asked by the member with a member token: its keys live apart from the store's.
    by_member: bool = False
    # PAY_WITH_POINTS: how many points to spend (within the reward's min, max and step).
    points: int | None = None


@dataclass(frozen=True)
class RedeemedReward:
    redemption: RedemptionRecord
    replayed: bool


@dataclass(frozen=True)
class RewardFilter:
    kinds: frozenset[RewardKind] = frozenset()
    include_retired: bool = False
    include_inactive: bool = True


# --- reading the catalogue --------------------------------------------------------------------


async def get_reward(reward_id: int, scope: ProgramScope) -> RewardRecord | None:
    return await repository.read_reward(connection(), reward_id, scope)


async def get_redemption(redemption_id: int, scope: ProgramScope) -> RedemptionRecord | None:
    return await repository.read_redemption(connection(), redemption_id, scope)


async def list_rewards(program_id: int, *, include_inactive: bool) -> list[RewardRecord]:
    """The program's rewards, cheapest first; without inactive ones: only those a member can
    be offered now (active, not retired, inside their window)."""
    rewards = await repository.rewards_by_cost(connection(), program_id, active_only=False)
    if include_inactive:
        return rewards
    now = utc_now()
    return [
        reward
        for reward in rewards
        if (refusal := offer_refusal(reward, now)) is None
        or refusal[0] is ErrorCode.REWARD_OUT_OF_STOCK
    ]


async def search_rewards(
    program_id: int, filters: RewardFilter, *, first: int, after: int | None
) -> list[RewardRecord]:
    """The admin's catalogue, by id (keyset pages of `first` + 1 to tell if more follow)."""
    return await repository.rewards_page(
        connection(),
        program_id,
        kinds=filters.kinds,
        include_retired=filters.include_retired,
        include_inactive=filters.include_inactive,
        first=first,
        after=after,
    )


async def member_redemptions(
    member_id: int,
    scope: ProgramScope,
    *,
    status: RedemptionStatus | None,
    first: int,
    before: int | None,
) -> list[RedemptionRecord]:
    """The member's redemptions, newest first (keyset by id; `first` + 1 tells if more follow)."""
    member = await require_member(member_id, scope, ["memberId"])
    return await repository.redemptions_page(
        connection(), member.id, status=status, first=first, before=before
    )


# --- the admin's catalogue --------------------------------------------------------------------


def _check_fields(check: Checker, kind: RewardKind, data: RewardFields) -> RewardFields:
    """Every problem of the fields for `kind`, and the fields cleaned (trimmed texts)."""
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    charity = check.changed_text(["input", "charityName"], data.charity_name, NAME_MAX)
    skus = check.text_list(["input", "skus"], data.skus, SKU_MAX, MAX_LIST_ITEMS)
    categories = check.text_list(["input", "categories"], data.categories, SKU_MAX, MAX_LIST_ITEMS)
    check.text_list(["input", "imageUrls"], data.image_urls, URL_MAX, MAX_LIST_ITEMS)
    for index, url in enumerate(data.image_urls):
        if not url.strip().lower().startswith(("https://", "http://")):
            check.add(
                ErrorCode.INVALID_VALUE,
                "imageUrls must be http(s) URLs",
                ["input", "imageUrls", str(index)],
            )
    tiers = check.text_list(["input", "requiredTiers"], data.required_tiers, NAME_MAX, 20)
    segments = check.text_list(["input", "requiredSegments"], data.required_segments, NAME_MAX, 20)
    currency = None if data.currency is None else data.currency.strip().upper()
    check_terms(
        check,
        terms_of(
            kind,
            replace(
                data,
                currency=currency,
                skus=tuple(skus),
                categories=tuple(categories),
                charity_name=charity,
            ),
        ),
    )
    if data.stock is not None:
        check.int_range(["input", "stock"], data.stock, 0, MAX_STOCK, ErrorCode.INVALID_QUANTITY)
    if data.per_member_limit is not None:
        check.int_range(
            ["input", "perMemberLimit"],
            data.per_member_limit,
            1,
            MAX_PER_MEMBER_LIMIT,
            ErrorCode.INVALID_QUANTITY,
        )
    if data.code_valid_days is not None:
        check.int_range(
            ["input", "codeValidDays"],
            data.code_valid_days,
            1,
            MAX_CODE_VALID_DAYS,
            ErrorCode.INVALID_VALUE,
        )
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        check.add(ErrorCode.INVALID_VALUE, "endsAt must be after startsAt", ["input", "endsAt"])
    if data.code_source is CodeSource.POOL and kind in (
        RewardKind.STORE_CREDIT,
        RewardKind.CHARITY,
    ):
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{kind.value} rewards are not used at a checkout: their codes are Laurel's own",
            ["input", "codeSource"],
        )
    return replace(
        data,
        name=name or "",
        description=description or "",
        charity_name=charity,
        currency=currency,
        skus=tuple(sorted(skus)),
        categories=tuple(sorted(categories)),
        image_urls=tuple(url.strip() for url in data.image_urls),
        required_tiers=tuple(sorted(tiers)),
        required_segments=tuple(sorted(segments)),
    )


def _check_store_credit_currency(
    kind: RewardKind, currency: str | None, program_currency: str
) -> None:
    """Store credit is held in the program's currency only: a reward paying another could never
    be redeemed."""
    if kind is RewardKind.STORE_CREDIT and currency != program_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"store credit is held in the program's currency, {program_currency}, not {currency}",
            ["input", "currency"],
        )


def _with_currency(
    kind: RewardKind, cleaned: RewardFields, default: str | None, program_currency: str
) -> RewardFields:
    """A reward paying money is in `default` unless it names a currency; store credit must be
    in the program's."""
    if (kind in MONEY_KINDS or cleaned.value_minor is not None) and cleaned.currency is None:
        cleaned = replace(cleaned, currency=default)
    _check_store_credit_currency(kind, cleaned.currency, program_currency)
    return cleaned


async def _catalogue_event(
    conn: BaseDBAsyncClient, event_type: str, reward: RewardRecord, now: datetime, **extra: Any
) -> None:
    await append_event(
        conn,
        program_id=reward.program_id,
        member_id=None,
        event_type=event_type,
        payload={"rewardId": encode_id("Reward", reward.id), "name": reward.name, **extra},
        now=now,
    )


async def create_reward(data: CreateRewardInput) -> RewardRecord:
    check = Checker()
    cleaned = _check_fields(check, data.kind, _fields_of(data))
    key = check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    # Checked here for the order of errors, and again under the lock below for the race.
    await check_required_tiers(connection(), program.id, cleaned.required_tiers)
    await check_required_segments(connection(), program.id, cleaned.required_segments)
    cleaned = _with_currency(data.kind, cleaned, program.currency, program.currency)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> RewardRecord:
            if cleaned.required_tiers:
                await lock_tier_configuration(conn, program.id)
                await check_required_tiers(conn, program.id, cleaned.required_tiers)
            reward = await repository.insert_reward(conn, program.id, data.kind, cleaned, now)
            await _catalogue_event(
                conn,
                "reward.created",
                reward,
                now,
                kind=reward.kind.value,
                costPoints=reward.cost_points,
            )
            return reward

        return await create_once_if_keyed(
            conn,
            **keyed_write(program.id, key, "createReward", data, now),
            create=perform,
            remember_id_as="rewardId",
            read=lambda reward_id: repository.read_reward(conn, reward_id, program.id),
        )


def _fields_of(reward: RewardFields) -> RewardFields:
    """Only the admin's fields of a stored reward or a creation input."""
    return RewardFields(**{name: getattr(reward, name) for name in FIELD_NAMES})


async def update_reward(data: UpdateRewardInput) -> RewardRecord:
    """Change a reward's fields (KEEP leaves one); the whole result is checked as on creation.

    Codes already issued keep the value and expiry they were issued with.
    """
    unknown = set(data.changes) - set(FIELD_NAMES)
    if unknown or "code_source" in data.changes:
        # The API cannot send these: a caller in the code made a mistake.
        raise ValueError(
            f"not updatable: {sorted(unknown | ({'code_source'} & set(data.changes)))}"
        )
    changes_tiers = data.changes.get("required_tiers", KEEP) is not KEEP
    now = utc_now()
    async with in_transaction() as conn:
        if changes_tiers:
            # The tier configuration's lock comes before the reward row's (configureTiers takes
            # it, then renames tiers in rewards' rows).
            owner = await repository.reward_program(conn, data.reward_id)
            if owner is not None:
                await lock_tier_configuration(conn, owner)
        current = await _lock_reward(conn, data.reward_id)
        if current.retired_at is not None:
            raise DomainError(
                ErrorCode.REWARD_RETIRED, "a retired reward cannot change", ["input", "id"]
            )
        merged = replace(
            _fields_of(current),
            **{key: value for key, value in data.changes.items() if value is not KEEP},
        )
        check = Checker()
        cleaned = _check_fields(check, current.kind, merged)
        check.raise_if_any()
        if changes_tiers:
            await check_required_tiers(conn, current.program_id, cleaned.required_tiers)
        if data.changes.get("required_segments", KEEP) is not KEEP:
            await check_required_segments(conn, current.program_id, cleaned.required_segments)
        _, program_currency = await repository.program_zone(conn, current.program_id)
        cleaned = _with_currency(current.kind, cleaned, current.currency, program_currency)
        reward = await repository.write_reward_fields(conn, current.id, cleaned, now)
        await _catalogue_event(conn, "reward.updated", reward, now)
    return reward


async def _lock_reward(conn: BaseDBAsyncClient, reward_id: int) -> RewardRecord:
    reward = await repository.lock_reward_row(conn, reward_id)
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "id"])
    return reward


async def retire_reward(reward_id: int) -> RewardRecord:
    """No new redemptions from now on; issued codes stay valid. Retiring twice is harmless."""
    now = utc_now()
    async with in_transaction() as conn:
        current = await _lock_reward(conn, reward_id)
        if current.retired_at is not None:
            return current
        reward = await repository.retire_reward_row(conn, reward_id, now)
        await _catalogue_event(conn, "reward.retired", reward, now)
    return reward


# --- redemption -------------------------------------------------------------------------------


async def redeem_reward(data: RedeemRewardInput, scope: ProgramScope) -> RedeemedReward:
    """Spend a member's points on a reward and issue its code.

    The member row is locked first (checks that count the member's redemptions need it), then
    the ledger's guarded decrement takes the points, then a guarded update one unit of stock,
    then the pool code: the order every writer keeps, so concurrent redemptions cannot
    deadlock. A member who owes points (`points_debt`) is refused with POINTS_OWED.
    """
    check = Checker()
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    member = await require_member(data.member_id, scope)
    if member.points_debt > 0:
        raise DomainError(
            ErrorCode.POINTS_OWED,
            f"the member owes {member.points_debt} points from refunds: no redemption until"
            " they are repaid",
            ["input", "memberId"],
        )
    reward = await get_reward(data.reward_id, member.program_id)
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "rewardId"])
    payload: dict[str, Any] = {"memberId": member.id, "rewardId": reward.id}
    if data.points is not None:
        payload["points"] = data.points
    request = IdempotentRequest.of(
        scope=scope_of(member.program_id, member.id, by_member=data.by_member),
        key=data.idempotency_key,
        operation=_OPERATION,
        payload=payload,
    )
    now = utc_now()
    async with in_transaction() as conn:
        outcome = await run_once_by_id(
            conn,
            request,
            now=now,
            perform=lambda: redeem_in(conn, member.id, reward.id, data.points, now),
            remember_id_as="redemptionId",
            read=lambda redemption_id: repository.read_redemption(conn, redemption_id, scope),
        )
    return RedeemedReward(redemption=outcome.value, replayed=outcome.replayed)


@dataclass(frozen=True)
class RewardOption:
    """A reward as one member sees it now: what it costs them and, if they cannot redeem it,
    the code and message `redeemReward` would refuse with (checked in the same order)."""

    reward: RewardRecord
    cost_points: int
    refusal: tuple[ErrorCode, str] | None


@dataclass(frozen=True)
class Recommendation:
    option: RewardOption
    # Points the member still needs (0: they can redeem it now).
    points_needed: int


def recommend(
    options: list[RewardOption], points_available: int, limit: int
) -> list[Recommendation]:
    """What to show a member, by one rule: first the rewards they can redeem now, dearest
    first (the most their points buy); then those only points stand between them and, nearest
    first (what to earn towards). Rewards refused for anything else (stock, limits, tier,
    dates, owed points) are not shown: earning more would not make them redeemable."""
    now = sorted(
        (option for option in options if option.refusal is None),
        key=lambda option: (-option.cost_points, option.reward.id),
    )
    within_reach = sorted(
        (
            option
            for option in options
            if option.refusal is not None and option.refusal[0] is ErrorCode.INSUFFICIENT_POINTS
        ),
        key=lambda option: (option.cost_points, option.reward.id),
    )
    shown = [Recommendation(option, 0) for option in now] + [
        Recommendation(option, option.cost_points - points_available) for option in within_reach
    ]
    return shown[:limit]


async def reward_options(member_id: int, scope: ProgramScope) -> list[RewardOption]:
    """Every active, unretired reward of the member's program, cheapest first, with why not;
    without the rewards an experiment keeps from the member (app/domain/experiments.py).

    A read without locks: a redemption a moment later may still be refused (stock runs out).
    """
    member = await require_member(member_id, scope, ["memberId"])
    conn = connection()
    now = utc_now()
    zone, _ = await repository.program_zone(conn, member.program_id)
    rewards = await repository.rewards_by_cost(conn, member.program_id, active_only=True)
    # Rewards an experiment keeps from this member are not shown to them at all.
    kept = withheld_rewards(await program_plans(conn, member.program_id, member.id), member.id, now)
    rewards = [reward for reward in rewards if reward.id not in kept]
    tier = await member_reward_tier(conn, member.program_id, member.id)
    segments = await member_reward_segments(conn, member.program_id, member.id, rewards)
    codes_left = await repository.pool_codes_left(
        conn, [reward.id for reward in rewards if reward.code_source is CodeSource.POOL]
    )
    bought = await repository.purchases_in_windows(
        conn,
        member.id,
        [reward for reward in rewards if reward.per_member_limit is not None],
        now,
        zone,
    )
    options = []
    for reward in rewards:
        price = price_for_tier(tier, reward, None, segments)
        refusal = offer_refusal(reward, now)
        if refusal is None and member.points_debt > 0:
            refusal = (ErrorCode.POINTS_OWED, "the member owes points from refunds")
        if (
            refusal is None
            and reward.code_source is CodeSource.POOL
            and codes_left.get(reward.id, 0) == 0
        ):
            refusal = (ErrorCode.REWARD_POOL_EMPTY, "the reward's codes are all handed out")
        if (
            refusal is None
            and reward.per_member_limit is not None
            and bought.get(reward.id, 0) >= reward.per_member_limit
        ):
            refusal = (ErrorCode.REWARD_LIMIT_REACHED, "the member reached the limit")
        if refusal is None and price.refusal is not None:
            refusal = (price.refusal, REFUSED_BECAUSE[price.refusal])
        if refusal is None and price.points > member.points_available:
            refusal = (
                ErrorCode.INSUFFICIENT_POINTS,
                f"the member has fewer than {price.points} points available",
            )
        options.append(RewardOption(reward=reward, cost_points=price.points, refusal=refusal))
    return options
