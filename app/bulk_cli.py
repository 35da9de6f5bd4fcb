"""`laurel bulk ...`: bulk operations from the command line, run at once with a progress bar.

Each command queues the operation (as the API does) and runs it in this process. Its key is
made from what it was given (kind, settings, file or segment) unless `--key` names one, so
running the same command again, or again after a crash, gives the same operation: finished, it
is reported; interrupted, it resumes once its lease has passed (`laurel jobs run bulk` does the
same from cron). To do the same thing twice on purpose, give another `--key`.

The command line has no API key: its operations are recorded in `bulk_operations` (with no
audit entries, which name a key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer

from app.config import Settings
from app.domain.bulk import BulkKind
from app.domain.ids import decode_any_id

T = TypeVar("T")

bulk_cli = typer.Typer(
    help="Change many members at once: points, tiers, enrolment, rewards (each one job)."
)


class _Bar(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, done: int) -> None: ...

    def close(self) -> None: ...


class _Runner(Protocol):
    def __call__(self, settings: Settings, work: Callable[[], Awaitable[T]]) -> T: ...


# Given by app/cli.py (`register`), which owns running with a database and drawing a bar.
_tools: dict[str, Any] = {}

Program = Annotated[str, typer.Option(help="The program's slug.")]
File = Annotated[
    Path | None,
    typer.Argument(help="A CSV or JSON Lines file (docs/capabilities/bulk-operations.md)."),
]
Segment = Annotated[
    str | None, typer.Option(help="A segment's key: its members now, instead of a file.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check and count; write nothing.")]
Key = Annotated[
    str | None, typer.Option(help="The operation's idempotency key (default: from the input).")
]


def register(cli: typer.Typer, run: _Runner, progress_bar: Callable[[str], _Bar]) -> None:
    """Add `laurel bulk` to `cli`, with the command line's runner and progress bar."""
    _tools["run"] = run
    _tools["bar"] = progress_bar
    cli.add_typer(bulk_cli, name="bulk")


def _content(file: Path | None) -> str | None:
    if file is None:
        return None
    if not file.is_file():
        typer.echo(f"error: {file} is not a readable file", err=True)
        raise typer.Exit(2)
    return file.read_text(encoding="utf-8-sig")


def _key(given: str | None, kind: BulkKind, settings: dict[str, Any], content: str | None) -> str:
    if given is not None:
        return given
    digest = hashlib.sha256(
        json.dumps([kind.value, settings, content], sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"cli-{digest[:40]}"


def _run_operation(
    kind: BulkKind,
    program: str,
    file: Path | None,
    segment: str | None,
    parameters: dict[str, Any],
    *,
    dry_run: bool,
    key: str | None,
) -> None:
    from app.jobs.bulk import run_claimed
    from app.services.bulk import repository
    from app.services.bulk import service as bulk_service

    content = _content(file)
    settings = Settings.from_env()
    idempotency_key = _key(
        key, kind, {**parameters, "segment": segment, "dryRun": dry_run}, content
    )

    async def work() -> repository.BulkOperationRecord:
        queued = await bulk_service.queue_bulk_operation(
            bulk_service.QueueBulkInput(
                program_slug=program,
                kind=kind,
                parameters=bulk_service.BulkParameters(**parameters),
                content=content,
                segment_key=segment,
                dry_run=dry_run,
                idempotency_key=idempotency_key,
            ),
            None,
            bulk_service.Requester(),
        )
        claimed = await repository.claim(queued.id)
        if claimed is None:
            # Finished already, or running under another runner's lease.
            return queued
        bar = _tools["bar"](f"bulk {kind.value}")
        try:
            return await run_claimed(claimed, bar)
        finally:
            bar.close()

    record = _tools["run"](settings, work)
    _print(record)
    if record.failed:
        raise typer.Exit(1)


def _print(record: Any) -> None:
    for error in record.errors:
        typer.echo(f"line {error.line}\t{error.field or '-'}\t{error.code}\t{error.message}")
    if record.failed > len(record.errors):
        typer.echo(f"... and {record.failed - len(record.errors)} more row errors")
    verb = "would apply" if record.dry_run else "applied"
    typer.echo(
        f"bulk operation {record.id} ({record.kind.value}) {record.status.value}:"
        f" {record.position} of {record.rows_total} records; {verb} {record.applied},"
        f" skipped {record.skipped}, rejected {record.failed}"
        + (f"; points {record.points}" if record.kind is BulkKind.ADJUST_POINTS else "")
    )


@bulk_cli.command("adjust-points")
def adjust_points(
    program: Program,
    reason: Annotated[str, typer.Option(help="Staff's note (kept with the operation).")],
    file: File = None,
    segment: Segment = None,
    points: Annotated[
        int | None, typer.Option(help="For every member (a file's points column wins).")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="What members read in their activity.")
    ] = None,
    dry_run: DryRun = False,
    key: Key = None,
) -> None:
    """Credit or debit points for each member of FILE (customer_id[,points]) or a segment."""
    _run_operation(
        BulkKind.ADJUST_POINTS,
        program,
        file,
        segment,
        {"points": points, "reason": reason, "description": description},
        dry_run=dry_run,
        key=key,
    )


@bulk_cli.command("assign-tier")
def assign_tier(
    program: Program,
    tier: Annotated[str, typer.Option(help="The tier's name.")],
    reason: Annotated[str, typer.Option(help="Why (the members' tier history shows it).")],
    file: File = None,
    segment: Segment = None,
    dry_run: DryRun = False,
    key: Key = None,
) -> None:
    """Assign a tier to each member of FILE (customer_id) or a segment."""
    _run_operation(
        BulkKind.ASSIGN_TIER,
        program,
        file,
        segment,
        {"tier_name": tier, "reason": reason},
        dry_run=dry_run,
        key=key,
    )


@bulk_cli.command("enroll")
def enroll(
    program: Program,
    file: Annotated[
        Path, typer.Argument(help="CSV or JSON Lines: customer_id and/or email, name, locale.")
    ],
    marketing_consent: Annotated[
        bool, typer.Option("--marketing-consent", help="The list consented to marketing.")
    ] = False,
    consent_note: Annotated[
        str | None, typer.Option(help="How the consent was given (with --marketing-consent).")
    ] = None,
    dry_run: DryRun = False,
    key: Key = None,
) -> None:
    """Enrol a mailing list; customers enrolled already are skipped."""
    _run_operation(
        BulkKind.ENROLL_MEMBERS,
        program,
        file,
        None,
        {"marketing_consent": marketing_consent, "consent_note": consent_note},
        dry_run=dry_run,
        key=key,
    )


@bulk_cli.command("issue-reward")
def issue_reward(
    program: Program,
    reward: Annotated[str, typer.Option(help="The reward's id (as the API shows it).")],
    file: File = None,
    segment: Segment = None,
    reason: Annotated[str | None, typer.Option(help="Members read '<reason>: <reward>'.")] = None,
    dry_run: DryRun = False,
    key: Key = None,
) -> None:
    """Give a catalogue reward to each member of FILE (customer_id) or a segment."""
    decoded = decode_any_id(reward)
    if decoded is None or decoded[0] != "Reward":
        raise typer.BadParameter(f"{reward!r} is not a reward's id")
    _run_operation(
        BulkKind.ISSUE_REWARD,
        program,
        file,
        segment,
        {"reward_id": decoded[1], "reason": reason},
        dry_run=dry_run,
        key=key,
    )


@bulk_cli.command("status")
def status(operation_id: Annotated[int, typer.Argument(help="The operation's number.")]) -> None:
    """An operation's progress and row errors."""
    from app.services.bulk import service as bulk_service

    _print_found(operation_id, bulk_service.get_bulk_operation)


@bulk_cli.command("cancel")
def cancel(operation_id: Annotated[int, typer.Argument(help="The operation's number.")]) -> None:
    """Cancel a queued operation, or stop a running one before its next member."""
    from app.services.bulk import service as bulk_service

    _print_found(operation_id, bulk_service.cancel_bulk_operation)


def _print_found(operation_id: int, action: Callable[[int, None], Awaitable[Any]]) -> None:
    """The operation after `action` (for every program, as the command line has no key)."""

    async def work() -> Any:
        return await action(operation_id, None)

    record = _tools["run"](Settings.from_env(), work)
    if record is None:
        typer.echo(f"error: no bulk operation {operation_id}", err=True)
        raise typer.Exit(2)
    _print(record)
