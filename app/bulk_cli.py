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
import inspect
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


def _operation_command(
    name: str, kind: BulkKind, *, file: Any = File, from_segment: bool = True
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Declare `laurel bulk <name>` from a function of the command's own options that gives
    the operation's parameters (its docstring is the command's help). Every such command also
    takes --program, the FILE (or --segment, when `from_segment`), --dry-run and --key, in that
    order around the command's own options, and queues and runs the operation."""

    def declare(parameters_of: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        own = list(inspect.signature(parameters_of, eval_str=True).parameters.values())
        required = [p for p in own if p.default is inspect.Parameter.empty]
        optional = [p for p in own if p.default is not inspect.Parameter.empty]
        shared = [_option("file", file, None if from_segment else inspect.Parameter.empty)]
        if from_segment:
            shared.append(_option("segment", Segment, None))
        signature = [
            _option("program", Program),
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in required),
            *shared,
            *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in optional),
            _option("dry_run", DryRun, False),
            _option("key", Key, None),
        ]

        def command(
            *,
            program: str,
            file: Path | None,
            dry_run: bool,
            key: str | None,
            segment: str | None = None,
            **options: Any,
        ) -> None:
            parameters = parameters_of(**options)
            _run_operation(kind, program, file, segment, parameters, dry_run=dry_run, key=key)

        command.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
        command.__doc__ = parameters_of.__doc__
        bulk_cli.command(name)(command)
        return parameters_of

    return declare


def _option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


@_operation_command("adjust-points", BulkKind.ADJUST_POINTS)
def adjust_points(
    reason: Annotated[str, typer.Option(help="Staff's note (kept with the operation).")],
    points: Annotated[
        int | None, typer.Option(help="For every member (a file's points column wins).")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="What members read in their activity.")
    ] = None,
) -> dict[str, Any]:
    """Credit or debit points for each member of FILE (customer_id[,points]) or a segment."""
    return {"points": points, "reason": reason, "description": description}


@_operation_command("assign-tier", BulkKind.ASSIGN_TIER)
def assign_tier(
    tier: Annotated[str, typer.Option(help="The tier's name.")],
    reason: Annotated[str, typer.Option(help="Why (the members' tier history shows it).")],
) -> dict[str, Any]:
    """Assign a tier to each member of FILE (customer_id) or a segment."""
    return {"tier_name": tier, "reason": reason}


@_operation_command(
    "enroll",
    BulkKind.ENROLL_MEMBERS,
    file=Annotated[
        Path, typer.Argument(help="CSV or JSON Lines: customer_id and/or email, name, locale.")
    ],
    from_segment=False,
)
def enroll(
    marketing_consent: Annotated[
        bool, typer.Option("--marketing-consent", help="The list consented to marketing.")
    ] = False,
    consent_note: Annotated[
        str | None, typer.Option(help="How the consent was given (with --marketing-consent).")
    ] = None,
) -> dict[str, Any]:
    """Enrol a mailing list; customers enrolled already are skipped."""
    return {"marketing_consent": marketing_consent, "consent_note": consent_note}


@_operation_command("issue-reward", BulkKind.ISSUE_REWARD)
def issue_reward(
    reward: Annotated[str, typer.Option(help="The reward's id (as the API shows it).")],
    reason: Annotated[str | None, typer.Option(help="Members read '<reason>: <reward>'.")] = None,
) -> dict[str, Any]:
    """Give a catalogue reward to each member of FILE (customer_id) or a segment."""
    decoded = decode_any_id(reward)
    if decoded is None or decoded[0] != "Reward":
        raise typer.BadParameter(f"{reward!r} is not a reward's id")
    return {"reward_id": decoded[1], "reason": reason}


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
