"""One record of a bulk operation applied to its member, through the capabilities' own
services, with the operation's progress written in the member's own transaction.

Every point movement is the ledger's (`adjust_points`, `give_reward`), with an idempotency key
derived from the operation and the member (`bulk-<operation>-<member>`): the same operation never
changes a member twice, however often it is resumed. The progress (the record's position and
the counts) and the member's audit entry (its actor the admin key that queued the operation, or
the command line) are written just before that transaction commits (`observe_commits`),
guarded by the runner's claim: a runner whose job was taken over has its change rolled back
(LeaseLostError), and a runner that dies leaves either both the change and the progress, or
neither.

A dry run rehearses each record: the same service call as the real run, in a transaction
that is always rolled back (`_rehearse`), so a row is refused for exactly what the real run
would refuse it for (a negative balance, a tier below the one the member earned, a reward out of
stock or inactive, an enrolment's invalid email...), with the same code and message. What the
rows before it would have used up (the reward stock and pool codes the earlier rows of the dry
run would have been given) is only read, never taken: a rehearsal must not lock or hide rows
that live redemptions and gifts take in their own lock order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, fetch_one, in_transaction, observe_commits, utc_now
from app.domain.bulk import DUPLICATE_MEMBER, BulkKind, BulkRow
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.imports import MAX_REPORTED_ERRORS, RowError
from app.domain.ledger import TransactionKind
from app.domain.rewards import CodeSource, RewardUnavailable
from app.domain.roles import StaffRole, check_points_adjustment
from app.services.audit import service as audit
from app.services.bulk import repository
from app.services.bulk.repository import BulkOperationRecord, Step
from app.services.core.idempotency import IdempotentRequest, run_once_keeping
from app.services.core.leases import Lease
from app.services.ledger import adjustments
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.members.profile import ProfileChanges
from app.services.members.service import MemberRecord, get_member_by_customer_id
from app.services.programs.service import ProgramRecord
from app.services.rewards.gifts import GiveReward, give_reward
from app.services.tiers.service import AssignTierInput, assign_member_tier

# The mutation each kind is audited as.
OPERATION_NAMES = {
    BulkKind.ADJUST_POINTS: "bulkAdjustPoints",
    BulkKind.ASSIGN_TIER: "bulkAssignTier",
    BulkKind.ENROLL_MEMBERS: "bulkEnrollMembers",
    BulkKind.ISSUE_REWARD: "bulkIssueReward",
}
# What a member's activity says of a reward given without a reason.
DEFAULT_REWARD_REASON = "Given by the store"
_UNAVAILABLE = {
    RewardUnavailable.OUT_OF_STOCK: ErrorCode.REWARD_OUT_OF_STOCK,
    RewardUnavailable.REWARD_INACTIVE: ErrorCode.REWARD_INACTIVE,
    RewardUnavailable.POOL_EMPTY: ErrorCode.REWARD_POOL_EMPTY,
}
# A gift is refused as inactive before its stock or codes are looked at.
_REFUSED_BEFORE_STOCK = frozenset({ErrorCode.REWARD_INACTIVE})


def _unavailable(reason: RewardUnavailable) -> DomainError:
    return DomainError(_UNAVAILABLE[reason], f"the reward cannot be given: {reason.value}")


# The file's column a service's field stands for.
_COLUMN_OF_FIELD = {"points": "points", "memberId": "customer_id", "customerId": "customer_id"}


class _RowRejectedError(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


def _row_error(line: int, error: DomainError) -> RowError:
    names = [part for part in error.field or [] if part != "input"]
    column = next((_COLUMN_OF_FIELD[n] for n in reversed(names) if n in _COLUMN_OF_FIELD), None)
    return RowError(line, column, error.code.value, error.message)


@dataclass
class Progress:
    """The operation as this runner moves it: its position and the errors it keeps."""

    operation: BulkOperationRecord
    lease: Lease
    position: int
    errors: list[RowError] = field(default_factory=list)
    # customer id -> the line it was first seen on: a member is changed once per operation.
    seen: dict[str, int] = field(default_factory=dict)
    # Records this runner applied (or, in a dry run, would have).
    applied: int = 0


class _RehearsedError(Exception):
    """Ends a dry run's transaction once the record went through: nothing of it is kept."""


async def _rehearse(
    perform: Callable[[], Awaitable[object]],
    used_up: Callable[[BaseDBAsyncClient], Awaitable[DomainError | None]] | None = None,
    refused_first: frozenset[ErrorCode] = frozenset(),
) -> None:
    """Runs `perform` (which raises DomainError as the real run would) and rolls it back.

    `used_up` reads whether the dry run's earlier records would have used up what this one
    needs, and answers the refusal the real run would give then; it wins over the rehearsal's
    own outcome except a refusal in `refused_first` (checked before that in the real run)."""
    try:
        async with in_transaction() as conn:
            earlier = None if used_up is None else await used_up(conn)
            try:
                await perform()
            except DomainError as refused:
                if earlier is None or refused.code in refused_first:
                    raise
                raise earlier from None
            if earlier is not None:
                raise earlier
            raise _RehearsedError
    except _RehearsedError:
        pass


@dataclass
class _MemberCommit:
    """Writes the record's progress (and audit entry) into the member's transaction."""

    progress: Progress
    row: BulkRow
    step: Step
    member_id: int | None = None
    done: bool = False

    async def before_commit(self, conn: BaseDBAsyncClient) -> None:
        if self.done:
            # A later transaction of the same service call: the record is counted already.
            return
        operation = self.progress.operation
        await repository.advance(conn, self.progress.lease, self.progress.position, self.step)
        member_id = self.member_id
        if member_id is None and operation.kind is BulkKind.ENROLL_MEMBERS:
            # The member enrolled in this very transaction: its id is not returned yet.
            enrolled = await fetch_one(
                conn,
                "SELECT id FROM members WHERE program_id = ? AND customer_id = ?",
                (operation.program_id, self.row.customer_id),
            )
            member_id = None if enrolled is None else int(enrolled["id"])
        member_key = None if member_id is None else encode_id("Member", member_id)
        await audit.record_write(
            conn,
            # An operation started from the command line has no key: its entries name the
            # command line as their actor.
            api_key_id=audit.COMMAND_LINE_KEY_ID
            if operation.api_key_id is None
            else operation.api_key_id,
            operation=OPERATION_NAMES[operation.kind],
            arguments={
                "input": {
                    "bulkOperationId": encode_id("BulkOperation", operation.id),
                    "line": self.row.line,
                    "customerId": self.row.customer_id,
                    **{k: v for k, v in operation.parameters.items() if v is not None},
                    **({"points": self.row.points} if self.row.points is not None else {}),
                }
            },
            target=None
            if member_key is None
            else audit.Target(type_name="Member", key=member_key, pk=member_id),
            before=None,
            after=None,
            succeeded=True,
            request_id=f"bulk-{operation.id}",
        )

    def committed(self) -> None:
        self.done = True


def _key(operation: BulkOperationRecord, member_id: int) -> str:
    return f"bulk-{operation.id}-{member_id}"


async def _member(program: ProgramRecord, row: BulkRow) -> MemberRecord:
    member = await get_member_by_customer_id(program.id, row.customer_id)
    if member is None:
        raise _RowRejectedError(
            RowError(
                row.line,
                "customer_id",
                ErrorCode.MEMBER_NOT_FOUND.value,
                f"no member with customer id {row.customer_id!r}",
            )
        )
    return member


async def _adjust(
    operation: BulkOperationRecord, member: MemberRecord, row: BulkRow, commit: _MemberCommit
) -> None:
    assert row.points is not None
    if operation.staff_role is not None:
        # A support key's limit holds for each member.
        check_points_adjustment(StaffRole(operation.staff_role), operation.points_limit, row.points)
    parameters = operation.parameters
    adjustment = adjustments.AdjustPointsInput(
        member_id=member.id,
        points=row.points,
        reason=str(parameters["reason"]),
        idempotency_key=_key(operation, member.id),
        description=parameters.get("description"),
    )
    if operation.dry_run:
        await _rehearse(lambda: adjustments.adjust_points(adjustment, operation.program_id))
        return
    with observe_commits(commit):
        await adjustments.adjust_points(adjustment, operation.program_id)


async def _assign_tier(
    operation: BulkOperationRecord, member: MemberRecord, commit: _MemberCommit
) -> None:
    parameters = operation.parameters
    assignment = AssignTierInput(
        member_id=member.id,
        tier_name=str(parameters["tier_name"]),
        reason=str(parameters["reason"]),
        idempotency_key=_key(operation, member.id),
    )
    if operation.dry_run:
        await _rehearse(lambda: assign_member_tier(assignment, operation.program_id))
        return
    with observe_commits(commit):
        await assign_member_tier(assignment, operation.program_id)


async def _issue_reward(
    operation: BulkOperationRecord, member: MemberRecord, commit: _MemberCommit, given_before: int
) -> None:
    """Gives the reward; in a dry run, as if the `given_before` gifts of the records before had
    been given."""
    reward_id = int(operation.parameters["reward_id"])
    reason = operation.parameters.get("reason") or DEFAULT_REWARD_REASON
    request = IdempotentRequest.for_member(
        member, key=_key(operation, member.id), operation="bulkIssueReward", rewardId=reward_id
    )
    now = utc_now()

    async def give() -> None:
        async with in_transaction() as conn:

            async def perform() -> int:
                given = await give_reward(
                    conn,
                    GiveReward(
                        program_id=operation.program_id,
                        member_id=member.id,
                        reward_id=reward_id,
                        kind=TransactionKind.ADJUST,
                        reason=str(reason),
                        event_details={"bulkOperationId": encode_id("BulkOperation", operation.id)},
                    ),
                    now,
                )
                if isinstance(given, RewardUnavailable):
                    raise _unavailable(given)
                return given.redemption_id

            await run_once_keeping(conn, request, now=now, perform=perform, keep_as="redemptionId")

    async def used_up(conn: BaseDBAsyncClient) -> DomainError | None:
        # Read without locking: the reward row and its codes stay free for live gifts and
        # redemptions. A code is counted only as far as the earlier records would reach.
        if not given_before:
            return None
        row = await fetch_one(
            conn, "SELECT stock, code_source FROM rewards WHERE id = ?", (reward_id,)
        )
        if row is None:
            return None
        if row["stock"] is not None and int(row["stock"]) <= given_before:
            return _unavailable(RewardUnavailable.OUT_OF_STOCK)
        if row["code_source"] == CodeSource.POOL.value:
            code_left = await fetch_one(
                conn,
                "SELECT id FROM reward_codes WHERE reward_id = ? AND redemption_id IS NULL"
                " ORDER BY id LIMIT 1 OFFSET ?",
                (reward_id, given_before),
            )
            if code_left is None:
                return _unavailable(RewardUnavailable.POOL_EMPTY)
        return None

    if operation.dry_run:
        await _rehearse(give, used_up, refused_first=_REFUSED_BEFORE_STOCK)
        return
    with observe_commits(commit):
        await give()


async def _enroll(
    program: ProgramRecord, operation: BulkOperationRecord, row: BulkRow, commit: _MemberCommit
) -> bool:
    """Enrolled (or would be); False when the customer is a member already."""
    if await get_member_by_customer_id(program.id, row.customer_id) is not None:
        return False
    consent = bool(operation.parameters.get("marketing_consent"))
    values = {"email": row.email, "name": row.name, "locale": row.locale}
    given = tuple(
        sorted(
            [name for name, value in values.items() if value is not None] + ["marketing_consent"]
        )
    )
    enrolment = EnrollMemberInput(
        program_slug=program.slug,
        customer_id=row.customer_id,
        profile=ProfileChanges(
            email=row.email,
            name=row.name,
            locale=row.locale,
            marketing_consent=consent,
            given=given,
        ),
    )
    try:
        if operation.dry_run:
            await _rehearse(lambda: enroll_member(enrolment, program.id))
            return True
        with observe_commits(commit):
            member = await enroll_member(enrolment, program.id)
    except DomainError as error:
        if error.code is ErrorCode.MEMBER_ALREADY_ENROLLED:
            return False
        raise
    commit.member_id = member.id
    return True


async def _apply(program: ProgramRecord, progress: Progress, row: BulkRow) -> Step | None:
    """Apply the row; the step to write when nothing committed it (a dry run, a skip)."""
    operation = progress.operation
    points = row.points or 0
    commit = _MemberCommit(progress, row, Step(applied=1, points=points))
    if operation.kind is BulkKind.ENROLL_MEMBERS:
        enrolled = await _enroll(program, operation, row, commit)
        if not enrolled:
            return Step(skipped=1)
        return None if commit.done else Step(applied=1)
    member = await _member(program, row)
    commit.member_id = member.id
    if operation.kind is BulkKind.ADJUST_POINTS:
        await _adjust(operation, member, row, commit)
    elif operation.kind is BulkKind.ASSIGN_TIER:
        await _assign_tier(operation, member, commit)
    else:
        # In a dry run, what the records before would have been given (applied so far).
        await _issue_reward(operation, member, commit, operation.applied + progress.applied)
    if commit.done:
        return None
    # A dry run: nothing committed, the record counts as what would be applied.
    return Step(applied=1, points=points) if operation.dry_run else Step(skipped=1)


def _with_error(progress: Progress, error: RowError) -> Step:
    if len(progress.errors) >= MAX_REPORTED_ERRORS:
        return Step(failed=1)
    progress.errors.append(error)
    return Step(failed=1, errors=progress.errors)


async def handle_record(
    program: ProgramRecord, progress: Progress, item: BulkRow | list[RowError]
) -> None:
    """Apply one record of the operation's file and move its position past it."""
    if isinstance(item, list):
        step = _with_error(progress, item[0])
        for extra in item[1:]:
            _with_error(progress, extra)
    else:
        first = progress.seen.setdefault(item.customer_id, item.line)
        if first != item.line:
            step = _with_error(
                progress,
                RowError(
                    item.line,
                    "customer_id",
                    DUPLICATE_MEMBER,
                    f"{item.customer_id!r} is on line {first} already: a member is changed"
                    " once per operation",
                ),
            )
        else:
            try:
                applied = await _apply(program, progress, item)
            except _RowRejectedError as rejected:
                step = _with_error(progress, rejected.error)
            except DomainError as error:
                step = _with_error(progress, _row_error(item.line, error))
            else:
                if applied is None:
                    progress.position += 1
                    return
                step = applied
    await repository.advance(connection(), progress.lease, progress.position, step)
    progress.applied += step.applied
    progress.position += 1
