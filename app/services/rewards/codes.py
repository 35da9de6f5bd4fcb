"""Codes the store's checkout can trust: validate, mark used, cancel, expire; uploaded pools;
the program's redemption settings; and the charity report.

A code is looked up within one program only: another program's code reads exactly like an
unknown one. Every state change is a guarded update from ISSUED, so two checkouts, a
cancellation and the expiry job can race for one code and exactly one of them wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_optional_datetime,
    connection,
    execute,
    fetch_all,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import ExpiryPolicy
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.rewards import (
    MAX_CODES_PER_UPLOAD,
    MAX_POINTS_PER_CURRENCY_UNIT,
    POOL_CODE_MAX,
    POOL_CODE_MIN,
    CodeProblem,
    CodeSource,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
    code_problem,
    normalise_code,
)
from app.domain.tiers import TierChangeReason
from app.domain.validation import EXTERNAL_ID_MAX, Checker, check_period, is_lookup_text
from app.services.core.events import append_event
from app.services.ledger.service import (
    Movement,
    expiry_settings,
    lock_member,
    lock_owner,
    post_movement,
)
from app.services.programs.service import ProgramScope, require_program
from app.services.punch_cards.service import on_gift_cancelled as on_punch_card_gift_cancelled
from app.services.rewards.gifts import lock_reward_rows, revoke_given_reward
from app.services.rewards.repository import (
    RedemptionRecord,
    RewardRecord,
    read_redemption,
    read_reward,
    redemption_of,
    redemption_settings_of,
    return_stock,
)
from app.services.rewards.repository import (
    RedemptionSettingsRecord as RedemptionSettingsRecord,
)
from app.services.tiers.service import on_member_activity as on_tier_activity

_PROBLEM_CODES = {
    CodeProblem.USED: (ErrorCode.REDEMPTION_ALREADY_USED, "the code was already used"),
    CodeProblem.EXPIRED: (ErrorCode.REDEMPTION_EXPIRED, "the code has expired"),
    CodeProblem.CANCELLED: (ErrorCode.REDEMPTION_CANCELLED, "the redemption was cancelled"),
}
_NOT_FOUND = DomainError(
    ErrorCode.REDEMPTION_CODE_NOT_FOUND, "no such code in this program", ["input", "code"]
)


@dataclass(frozen=True)
class CodeCheck:
    """What the checkout learns from a code: the redemption and its reward, and whether (or
    why not) it can be used now. `redemption` is None for an unknown code."""

    code: str
    redemption: RedemptionRecord | None
    reward: RewardRecord | None
    problem: ErrorCode | None


async def _find(conn: BaseDBAsyncClient, program_id: int, raw_code: str) -> RedemptionRecord | None:
    if not is_lookup_text(raw_code) or len(raw_code) > POOL_CODE_MAX * 2:
        return None
    row = await fetch_one(
        conn,
        f"SELECT {redemption_of.columns} FROM redemptions WHERE code = ? AND program_id = ?",
        (normalise_code(raw_code), program_id),
    )
    return None if row is None else redemption_of(row)


async def validate_code(program_slug: str, raw_code: str, scope: ProgramScope) -> CodeCheck:
    program = await require_program(program_slug, scope, ["programSlug"])
    conn = connection()
    redemption = await _find(conn, program.id, raw_code)
    if redemption is None:
        return CodeCheck(
            code=normalise_code(raw_code),
            redemption=None,
            reward=None,
            problem=ErrorCode.REDEMPTION_CODE_NOT_FOUND,
        )
    reward = await read_reward(conn, redemption.reward_id, None)
    problem = code_problem(redemption.status, redemption.expires_at, utc_now())
    return CodeCheck(
        code=redemption.code,
        redemption=redemption,
        reward=reward,
        problem=None if problem is None else _PROBLEM_CODES[problem][0],
    )


async def _redemption_event(
    conn: BaseDBAsyncClient,
    redemption: RedemptionRecord,
    event_type: str,
    now: datetime,
    **details: object,
) -> None:
    await append_event(
        conn,
        program_id=redemption.program_id,
        member_id=redemption.member_id,
        event_type=event_type,
        payload={
            "redemptionId": encode_id("Redemption", redemption.id),
            "memberId": encode_id("Member", redemption.member_id),
            **details,
        },
        now=now,
    )


@dataclass(frozen=True)
class MarkedUsed:
    redemption: RedemptionRecord
    # True when this order had already used the code: nothing changed.
    already_used: bool


async def mark_used(
    program_slug: str, raw_code: str, order_id: str, scope: ProgramScope
) -> MarkedUsed:
    """The checkout used the code for `order_id`. Same code and same order again: success
    (nothing changes); another order: REDEMPTION_ALREADY_USED."""
    check = Checker()
    order = check.text(["input", "orderId"], order_id, EXTERNAL_ID_MAX)
    check.text(["input", "code"], raw_code, POOL_CODE_MAX * 2)
    check.raise_if_any()
    assert order is not None
    program = await require_program(program_slug, scope)
    now = utc_now()
    async with in_transaction() as conn:
        found = await _find(conn, program.id, raw_code)
        if found is None:
            raise _NOT_FOUND
        row = await fetch_one(
            conn,
            "UPDATE redemptions SET status = ?, used_at = ?, used_order_id = ?"
            " WHERE id = ? AND status = ? AND (expires_at IS NULL OR expires_at > ?)"
            f" RETURNING {redemption_of.columns}",
            (
                RedemptionStatus.USED.value,
                now,
                order,
                found.id,
                RedemptionStatus.ISSUED.value,
                now,
            ),
        )
        if row is None:
            current = await read_redemption(conn, found.id, None)
            assert current is not None
            if current.status is RedemptionStatus.USED and current.used_order_id == order:
                return MarkedUsed(redemption=current, already_used=True)
            problem = code_problem(current.status, current.expires_at, now)
            assert problem is not None
            code, message = _PROBLEM_CODES[problem]
            raise DomainError(code, message, ["input", "code"])
        used = redemption_of(row)
        await _redemption_event(conn, used, "redemption.used", now, orderId=order)
    return MarkedUsed(redemption=used, already_used=False)


async def _return_points(
    conn: BaseDBAsyncClient, redemption: RedemptionRecord, reason: str, now: datetime
) -> int:
    """Give a bought redemption's points and its unit of stock back; the reversal's id.

    The points come back in a lot that expires no later than the earliest of the lots they
    were spent from (`spent_points_expire_at`), so redeeming points about to expire and
    cancelling never buys them a new lifetime. When that moment has already passed, they come
    back expired: the same transaction expires the returned lot, so the member never holds them
    (the activity shows both the return and the expiry).
    """
    await lock_reward_rows(conn, redemption.program_id)
    spent = await fetch_one(
        conn, "SELECT spent_points_expire_at FROM redemptions WHERE id = ?", (redemption.id,)
    )
    assert spent is not None
    expiry = await expiry_settings(conn, redemption.program_id)
    # Lots keep their dates only under a lot lifetime: under any other policy (a program that
    # left LOT_LIFETIME) nothing expires by date, returned points included.
    expires_no_later_than = (
        as_optional_datetime(spent["spent_points_expire_at"])
        if expiry.policy is ExpiryPolicy.LOT_LIFETIME
        else None
    )
    reward_name = await return_stock(conn, redemption.reward_id)
    posted = await post_movement(
        conn,
        Movement(
            program_id=redemption.program_id,
            member_id=redemption.member_id,
            kind=TransactionKind.REDEMPTION_CANCELLED,
            points=redemption.points_spent,
            counter_account=Account.PROGRAM_REDEEMED,
            description=f"{reason}: {reward_name}",
            event_details={"redemptionId": encode_id("Redemption", redemption.id)},
            expires_no_later_than=expires_no_later_than,
            expiry=expiry,
        ),
        now,
    )
    if expires_no_later_than is not None and expires_no_later_than <= now:
        await _expire_returned_lot(conn, redemption, posted.transaction_id, now)
    await execute(
        conn,
        "UPDATE redemptions SET reversal_transaction_id = ? WHERE id = ?",
        (posted.transaction_id, redemption.id),
    )
    return posted.transaction_id


async def _expire_returned_lot(
    conn: BaseDBAsyncClient, redemption: RedemptionRecord, transaction_id: int, now: datetime
) -> None:
    lot = await fetch_one(
        conn,
        "SELECT id, remaining FROM point_lots WHERE transaction_id = ? AND remaining > 0",
        (transaction_id,),
    )
    if lot is None:
        # Debt recovery already took them: they repaid what the member owed.
        return
    left = int(lot["remaining"])
    await post_movement(
        conn,
        Movement(
            program_id=redemption.program_id,
            member_id=redemption.member_id,
            kind=TransactionKind.EXPIRE,
            points=-left,
            counter_account=Account.PROGRAM_EXPIRED,
            description=f"{left} points expired (returned after their lots had expired)",
            expiring_lots=((int(lot["id"]), left),),
            event_details={"reason": "returned after expiry", "lots": 1},
        ),
        now,
    )


async def cancel_redemption(redemption_id: int, scope: ProgramScope) -> RedemptionRecord:
    """Cancel an unused code: a bought one gives its points and its unit of stock back, a given
    one is taken back (`revoke_given_reward`: the member gains nothing). One transaction;
    cancelling again returns the cancelled redemption and changes nothing."""
    found = await read_redemption(connection(), redemption_id, scope)
    if found is None:
        raise DomainError(ErrorCode.REDEMPTION_NOT_FOUND, "no such redemption", ["input", "id"])
    reward = await read_reward(connection(), found.reward_id, None)
    assert reward is not None
    if reward.kind is RewardKind.STORE_CREDIT:
        raise DomainError(
            ErrorCode.REDEMPTION_NOT_CANCELLABLE,
            "store credit is on the member's balance once redeemed: refund it there",
            ["input", "id"],
        )
    if reward.kind is RewardKind.CHARITY:
        raise DomainError(
            ErrorCode.REDEMPTION_NOT_CANCELLABLE,
            "a donation is made when redeemed: it cannot be cancelled",
            ["input", "id"],
        )
    now = utc_now()
    async with in_transaction() as conn:
        if found.source is RedemptionSource.GIFT:
            revoked = await revoke_given_reward(conn, found.id, now)
            if revoked:
                await on_punch_card_gift_cancelled(conn, found.id, now)
                await _re_evaluate_tier(conn, found, now)
            current = await read_redemption(conn, found.id, None)
            assert current is not None
            if not revoked:
                _refuse_unless_cancelled(current, now)
            return current
        await lock_member(conn, found.member_id)
        row = await fetch_one(
            conn,
            "UPDATE redemptions SET status = ?, cancelled_at = ? WHERE id = ? AND status = ?"
            f" RETURNING {redemption_of.columns}",
            (RedemptionStatus.CANCELLED.value, now, found.id, RedemptionStatus.ISSUED.value),
        )
        if row is None:
            current = await read_redemption(conn, found.id, None)
            assert current is not None
            _refuse_unless_cancelled(current, now)
            return current
        cancelled = redemption_of(row)
        await _return_points(conn, cancelled, "Redemption cancelled", now)
        await _re_evaluate_tier(conn, cancelled, now)
        await _redemption_event(
            conn,
            cancelled,
            "redemption.cancelled",
            now,
            source=cancelled.source.value,
            pointsReturned=cancelled.points_spent,
        )
    return cancelled


async def _re_evaluate_tier(
    conn: BaseDBAsyncClient, redemption: RedemptionRecord, now: datetime
) -> None:
    """A cancellation can change what the member earned (a gift taken back): their stored
    tier follows in the same transaction."""
    await on_tier_activity(
        conn,
        program_id=redemption.program_id,
        member_id=redemption.member_id,
        reason=TierChangeReason.GIFT_CANCELLED,
        now=now,
    )


def _refuse_unless_cancelled(current: RedemptionRecord, now: datetime) -> None:
    if current.status is RedemptionStatus.CANCELLED:
        return
    if current.status is RedemptionStatus.EXPIRED:
        raise DomainError(ErrorCode.REDEMPTION_EXPIRED, "the code has expired", ["input", "id"])
    raise DomainError(
        ErrorCode.REDEMPTION_ALREADY_USED, "a used code cannot be cancelled", ["input", "id"]
    )


async def expire_redemption(redemption_id: int, now: datetime) -> int | None:
    """Mark one due code EXPIRED (None when it was not due any more: used, cancelled, already
    expired); returns the points given back, which is 0 unless the program returns the
    points of expired codes and the member bought it."""
    async with in_transaction() as conn:
        if not await lock_owner(conn, "redemptions", redemption_id):
            return None
        row = await fetch_one(
            conn,
            "UPDATE redemptions SET status = ?, expired_at = ? WHERE id = ? AND status = ?"
            f" AND expires_at IS NOT NULL AND expires_at <= ? RETURNING {redemption_of.columns}",
            (
                RedemptionStatus.EXPIRED.value,
                now,
                redemption_id,
                RedemptionStatus.ISSUED.value,
                now,
            ),
        )
        if row is None:
            return None
        expired = redemption_of(row)
        returned = 0
        settings = await redemption_settings_of(conn, expired.program_id)
        if settings.expired_codes_return_points and expired.source is RedemptionSource.PURCHASE:
            await _return_points(conn, expired, "Unused code expired, points returned", now)
            returned = expired.points_spent
        await _redemption_event(conn, expired, "redemption.expired", now, pointsReturned=returned)
    return returned


# --- pools of uploaded codes ------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedCodes:
    added: int
    # Codes refused because they repeat within the upload or already exist (any program).
    duplicates: tuple[str, ...]
    # Codes of the reward not yet handed out, after the upload.
    available: int


async def upload_codes(reward_id: int, codes: list[str]) -> UploadedCodes:
    """Add the store's codes to a POOL reward; duplicates are reported and skipped, the rest
    added. Codes are compared without case or outer spaces, as checkouts send them."""
    check = Checker()
    check.batch(
        ["input", "codes"],
        codes,
        MAX_CODES_PER_UPLOAD,
        f"at most {MAX_CODES_PER_UPLOAD} codes per upload",
    )
    cleaned: list[str] = []
    for index, raw in enumerate(codes):
        path = ["input", "codes", str(index)]
        text = check.text(path, raw, POOL_CODE_MAX)
        if text is None:
            continue
        if len(text) < POOL_CODE_MIN or any(ch.isspace() for ch in text):
            check.add(
                ErrorCode.INVALID_VALUE,
                f"a code has {POOL_CODE_MIN} to {POOL_CODE_MAX} characters and no spaces",
                path,
            )
        cleaned.append(normalise_code(text))
    check.raise_if_any()
    reward = await read_reward(connection(), reward_id, None)
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, "no such reward", ["input", "rewardId"])
    if reward.code_source is not CodeSource.POOL:
        raise DomainError(
            ErrorCode.REWARD_NOT_POOLED,
            "the reward issues its own codes (codeSource GENERATED)",
            ["input", "rewardId"],
        )
    seen: set[str] = set()
    duplicates: list[str] = []
    fresh: list[str] = []
    for code in cleaned:
        (duplicates if code in seen else fresh).append(code)
        seen.add(code)
    now = utc_now()
    added = 0
    async with in_transaction() as conn:
        for code in fresh:
            # A code must identify one redemption wherever it is typed: it may not repeat a
            # code of any pool or any issued redemption.
            taken = await fetch_one(
                conn, "SELECT 1 AS taken FROM redemptions WHERE code = ?", (code,)
            )
            inserted = (
                None
                if taken is not None
                else await fetch_one(
                    conn,
                    "INSERT INTO reward_codes (program_id, reward_id, code, redemption_id,"
                    " uploaded_at) VALUES (?, ?, ?, NULL, ?) ON CONFLICT (code) DO NOTHING"
                    " RETURNING id",
                    (reward.program_id, reward.id, code, now),
                )
            )
            if inserted is None:
                duplicates.append(code)
            else:
                added += 1
        left = await fetch_one(
            conn,
            "SELECT COUNT(*) AS n FROM reward_codes WHERE reward_id = ? AND redemption_id IS NULL",
            (reward.id,),
        )
        assert left is not None
        if added:
            await append_event(
                conn,
                program_id=reward.program_id,
                member_id=None,
                event_type="reward.codes_uploaded",
                payload={"rewardId": encode_id("Reward", reward.id), "added": added},
                now=now,
            )
    return UploadedCodes(added=added, duplicates=tuple(duplicates), available=int(left["n"]))


# --- settings ---------------------------------------------------------------------------------


async def redemption_settings(program_slug: str, scope: ProgramScope) -> RedemptionSettingsRecord:
    program = await require_program(program_slug, scope, ["programSlug"])
    return await redemption_settings_of(connection(), program.id)


async def update_redemption_settings(
    program_slug: str,
    *,
    expired_codes_return_points: bool | None,
    points_per_currency_unit: int | None,
) -> RedemptionSettingsRecord:
    if points_per_currency_unit is not None:
        check = Checker()
        check.int_range(
            ["input", "pointsPerCurrencyUnit"],
            points_per_currency_unit,
            1,
            MAX_POINTS_PER_CURRENCY_UNIT,
            ErrorCode.INVALID_VALUE,
        )
        check.raise_if_any()
    program = await require_program(program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:
        current = await redemption_settings_of(conn, program.id)
        returns = (
            current.expired_codes_return_points
            if expired_codes_return_points is None
            else expired_codes_return_points
        )
        rate = (
            current.points_per_currency_unit
            if points_per_currency_unit is None
            else (points_per_currency_unit)
        )
        await execute(
            conn,
            "INSERT INTO redemption_settings (program_id, expired_codes_return_points,"
            " points_per_currency_unit, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (program_id) DO UPDATE SET"
            " expired_codes_return_points = excluded.expired_codes_return_points,"
            " points_per_currency_unit = excluded.points_per_currency_unit,"
            " updated_at = excluded.updated_at",
            (program.id, returns, rate, now),
        )
        return await redemption_settings_of(conn, program.id)


# --- charity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CharityTotal:
    charity_name: str
    currency: str
    total_minor: int
    donations: int


async def charity_totals(
    program_slug: str, start: datetime, end: datetime, scope: ProgramScope
) -> list[CharityTotal]:
    """Donations made in members' names in [start, end), per charity and currency. A donation
    is settled (USED) when made and never changes after, so the report counts USED ones only."""
    check_period(start, end)
    program = await require_program(program_slug, scope, ["programSlug"])
    rows = await fetch_all(
        connection(),
        "SELECT d.charity_name, d.currency, SUM(d.value_minor) AS total, COUNT(*) AS n"
        " FROM redemptions d JOIN rewards r ON r.id = d.reward_id"
        " WHERE d.program_id = ? AND r.kind = ? AND d.status = ?"
        " AND d.created_at >= ? AND d.created_at < ?"
        " GROUP BY d.charity_name, d.currency ORDER BY d.charity_name, d.currency",
        (
            program.id,
            RewardKind.CHARITY.value,
            RedemptionStatus.USED.value,
            start,
            end,
        ),
    )
    return [
        CharityTotal(
            charity_name=str(row["charity_name"]),
            currency=str(row["currency"]),
            total_minor=int(row["total"]),
            donations=int(row["n"]),
        )
        for row in rows
    ]
