"""The `laurel` command: serve, migrate, seed-demo, API keys, verify-ledger, analytics, export."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn

from app import clock
from app.auth.api_keys import KeyKind
from app.bulk_cli import register as register_bulk_commands
from app.config import DEFAULT_DATA_DIR, Settings
from app.db import apply_migrations, close_db, init_db, utc_now
from app.domain.errors import CombinedInputError, DomainError
from app.domain.roles import StaffRole
from app.jobs.runner import JobName
from app.logs import log_config
from app.services.analytics import open_snapshots

T = TypeVar("T")

cli = typer.Typer(
    help="Laurel: a self-hosted loyalty engine. DATABASE_URL picks the database.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_KEY_FILE = DEFAULT_DATA_DIR / "demo-admin-key"
DEMO_PUBLISHABLE_KEY_FILE = DEFAULT_DATA_DIR / "demo-publishable-key"


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    async def with_database() -> T:
        open_snapshots.configure(open_snapshots.policy_of(settings))
        await init_db(settings)
        try:
            return await work()
        finally:
            # A read may have started a refresh of analytics snapshots: not past the database.
            await open_snapshots.stop_refreshes()
            await close_db()

    try:
        return asyncio.run(with_database())
    except CombinedInputError as exc:
        for error in exc.errors:
            typer.echo(f"error: {error.code}: {error.message}", err=True)
        raise typer.Exit(2) from exc
    except DomainError as exc:
        typer.echo(f"error: {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def _migrate(settings: Settings) -> None:
    async def migrate_and_close() -> None:
        try:
            await apply_migrations(settings)
        finally:
            await close_db()

    asyncio.run(migrate_and_close())


@cli.command()
def migrate() -> None:
    """Apply the database migrations (safe to run again)."""
    _migrate(Settings.from_env())
    typer.echo("migrations applied")


def _seed_if_empty(settings: Settings, key_file: Path) -> str | None:
    """Seed an empty database and return its admin key; None when it held data already."""
    from app.services.demo.service import database_is_empty, seed_demo

    async def seed() -> str | None:
        if not await database_is_empty():
            return None
        keys = await seed_demo()
        typer.echo("Loaded the demo program `demo`, with three members and three rewards.")
        typer.echo(f"  store backend (secret) key: {keys.secret}")
        typer.echo(f"  storefront (publishable) key: {keys.publishable}")
        _keep_key(DEMO_PUBLISHABLE_KEY_FILE, keys.publishable)
        return keys.admin

    admin_key = _run(settings, seed)
    if admin_key is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(admin_key + "\n")
        key_file.chmod(0o600)
    return admin_key


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo program into an empty database and print its API keys."""
    settings = Settings.from_env()
    _migrate(settings)
    admin_key = _seed_if_empty(settings, DEMO_KEY_FILE)
    if admin_key is None:
        typer.echo("The database already holds data: nothing loaded.", err=True)
        raise typer.Exit(1)
    typer.echo(f"  admin key: {admin_key}")


def _demo_admin_key(settings: Settings) -> str:
    seeded = _seed_if_empty(settings, DEMO_KEY_FILE)
    if seeded is not None:
        return seeded
    if DEMO_KEY_FILE.exists():
        return DEMO_KEY_FILE.read_text().strip()
    from app.services.access.api_keys import create_api_key

    async def new_key() -> str:
        return (await create_api_key(KeyKind.ADMIN, None, "demo console")).secret

    key = _run(settings, new_key)
    DEMO_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_KEY_FILE.write_text(key + "\n")
    DEMO_KEY_FILE.chmod(0o600)
    return key


def _keep_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)


def _demo_widget_fragment(settings: Settings) -> str | None:
    """`key=...&token=...` for the widget demo page: the demo's publishable key (kept in
    data/demo-publishable-key) and a fresh member token of its Alice, or None without them."""
    from app.services.access.member_tokens import create_member_token

    if not DEMO_PUBLISHABLE_KEY_FILE.exists():
        return None
    key = DEMO_PUBLISHABLE_KEY_FILE.read_text().strip()

    async def token() -> str:
        return (await create_member_token("demo", "cust-alice", None, None)).token

    try:
        return f"key={key}&token={_run(settings, token)}"
    except typer.Exit:
        return None


@cli.command()
def serve(
    demo: Annotated[
        bool, typer.Option(help="Load the demo program into an empty database; print a key.")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="Uvicorn worker processes.")] = 1,
) -> None:
    """Apply migrations and serve the API (LAUREL_HOST / LAUREL_PORT, default 127.0.0.1:8000)."""
    settings = Settings.from_env()
    if settings.is_sqlite and workers > 1:
        typer.echo(
            "error: SQLite serves from one process (its writes are serialised inside it);"
            " use PostgreSQL for several workers",
            err=True,
        )
        raise typer.Exit(2)
    _migrate(settings)
    base_url = f"http://{settings.host}:{settings.port}"
    if demo:
        key = _demo_admin_key(settings)
        typer.echo(f"GraphiQL: {base_url}/graphiql#key={key}")
        typer.echo(f"Console: {base_url}/console (sign in with the admin key)")
        typer.echo(f"Admin API key: {key}")
        fragment = _demo_widget_fragment(settings)
        if fragment is not None:
            typer.echo(
                f"Rewards widget demo (as Alice, for the token's lifetime):"
                f" {base_url}/widget/demo#{fragment}"
            )
    typer.echo(f"GraphQL endpoint: {base_url}/graphql (Authorization: Bearer <key>)")
    uvicorn.run(
        "app.main:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        access_log=False,
    )


@cli.command("create-api-key")
def create_api_key_command(
    kind: Annotated[KeyKind, typer.Option(help="admin, secret (server) or publishable.")],
    name: Annotated[str, typer.Option(help="What the key is for, to tell keys apart.")],
    program: Annotated[
        str | None, typer.Option(help="Program slug (secret and publishable keys).")
    ] = None,
    per_second: Annotated[
        float | None, typer.Option(help="Its own rate limit: requests per second on average.")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="Its own rate limit: requests at once.")] = None,
    role: Annotated[
        StaffRole | None,
        typer.Option(help="An admin key's staff role (none: owner, everything)."),
    ] = None,
    points_limit: Annotated[
        int | None,
        typer.Option(help="A support key's largest points adjustment (default 1000)."),
    ] = None,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from app.services.access.api_keys import check_rate_limit, create_api_key, set_rate_limit

    async def create() -> str:
        if per_second is not None or burst is not None:
            check_rate_limit(per_second, burst)
        created = await create_api_key(
            kind, program, name, role=role, points_adjustment_limit=points_limit
        )
        if per_second is not None or burst is not None:
            await set_rate_limit(created.id, per_second, burst)
        return created.secret

    typer.echo(_run(Settings.from_env(), create))


@cli.command("list-api-keys")
def list_api_keys_command() -> None:
    """List API keys (never their secrets): id, kind, role, program, name, prefix, state."""
    from app.services.access.api_keys import list_api_keys

    for key in _run(Settings.from_env(), list_api_keys):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        role = key.role or ("owner" if key.kind == KeyKind.ADMIN else "-")
        typer.echo(
            f"{key.id}\t{key.kind}\t{role}\t{key.program_slug or '-'}\t{key.name}"
            f"\t{key.display_prefix}...\t{state}"
        )


@cli.command("revoke-api-key")
def revoke_api_key_command(
    key_id: Annotated[int, typer.Argument(help="The id shown by list-api-keys.")],
) -> None:
    """Revoke an API key; running servers refuse it within LAUREL_API_KEY_CACHE_SECONDS."""
    from app.services.access.api_keys import revoke_api_key

    _run(Settings.from_env(), lambda: revoke_api_key(key_id))
    typer.echo(f"revoked key {key_id}")


@cli.command("set-rate-limit")
def set_rate_limit_command(
    key_id: Annotated[int, typer.Argument(help="The id shown by list-api-keys.")],
    per_second: Annotated[
        float | None, typer.Option(help="Requests per second on average.")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="Requests allowed at once.")] = None,
) -> None:
    """Set one key's rate limit (a token bucket); without options, back to its kind's default."""
    from app.services.access.api_keys import set_rate_limit

    _run(Settings.from_env(), lambda: set_rate_limit(key_id, per_second, burst))
    if per_second is None:
        typer.echo(f"key {key_id} uses its kind's default rate limit")
    else:
        typer.echo(f"key {key_id}: {per_second:g} requests/s, bursts of {burst}")


@cli.command("worker")
def worker_command() -> None:
    """Deliver webhooks until stopped (SIGTERM or Ctrl-C ends the round in progress first).
    Run it beside servers started with LAUREL_WEBHOOK_WORKER=off; any number may run."""
    import signal

    from app.jobs.webhooks import WebhookWorker, options_of
    from app.services.webhooks import service as webhooks_service

    settings = Settings.from_env()
    webhooks_service.allow_private_addresses(settings.webhooks_allow_private)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        typer.echo("delivering webhooks; SIGTERM or Ctrl-C stops after the current round")
        await WebhookWorker(options_of(settings)).run_until(stop)
        typer.echo("stopped")

    _run(settings, work)


webhooks_cli = typer.Typer(help="Webhook endpoints: where a program's events are sent.")
cli.add_typer(webhooks_cli, name="webhooks")


@webhooks_cli.command("create")
def create_webhook_command(
    program: Annotated[str, typer.Option(help="The program's slug.")],
    url: Annotated[str, typer.Option(help="Where to POST the events (https://...).")],
    event_type: Annotated[
        list[str] | None,
        typer.Option(help="An event type or group (points.*); repeat it; none: every event."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the endpoint is for.")] = None,
) -> None:
    """Add an endpoint and print its id and signing secret (shown this once)."""
    from app.domain.ids import encode_id
    from app.services.webhooks import service as webhooks_service

    settings = Settings.from_env()
    webhooks_service.allow_private_addresses(settings.webhooks_allow_private)

    async def create() -> str:
        made = await webhooks_service.create_endpoint(
            webhooks_service.CreateEndpointInput(
                program_slug=program,
                url=url,
                event_types=tuple(event_type or ()),
                description=description,
            )
        )
        return f"{encode_id('WebhookEndpoint', made.endpoint.id)}\t{made.secret}"

    typer.echo(_run(settings, create))


@webhooks_cli.command("list")
def list_webhooks_command(
    program: Annotated[str, typer.Option(help="The program's slug.")],
) -> None:
    """A program's endpoints: id, state, URL, event types."""
    from app.domain.ids import encode_id
    from app.services.programs.service import require_program
    from app.services.webhooks import service as webhooks_service

    async def listed() -> list[webhooks_service.EndpointRecord]:
        found = await require_program(program, None, ["program"])
        return await webhooks_service.list_endpoints(found.id)

    for endpoint in _run(Settings.from_env(), listed):
        state = "enabled" if endpoint.enabled else f"disabled {endpoint.disabled_reason}".strip()
        typer.echo(
            f"{encode_id('WebhookEndpoint', endpoint.id)}\t{state}\t{endpoint.url}"
            f"\t{','.join(endpoint.event_types) or '*'}"
        )


documents_cli = typer.Typer(help="Trusted documents: the queries a program's storefront may run.")
cli.add_typer(documents_cli, name="documents")


@documents_cli.command("register")
def register_documents_command(
    manifest: Annotated[
        Path,
        typer.Argument(
            help="A persisted-query manifest: Apollo's persisted-query-manifest.json, or a JSON"
            " map of id to document (Relay, GraphQL Codegen)."
        ),
    ],
    program: Annotated[str, typer.Option(help="The program's slug.")],
) -> None:
    """Add a build's documents to the program's trusted documents (those it holds stay)."""
    import json

    from app.services.documents.service import (
        RegisterTrustedDocumentsInput,
        manifest_documents,
        register_trusted_documents,
    )

    try:
        parsed = json.loads(manifest.read_bytes())
    except OSError as exc:
        typer.echo(f"error: cannot read {manifest}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    except (ValueError, RecursionError) as exc:
        typer.echo(f"error: {manifest} is not JSON: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def register() -> str:
        registered = await register_trusted_documents(
            RegisterTrustedDocumentsInput(
                program_slug=program, documents=manifest_documents(parsed)
            )
        )
        return (
            f"{registered.added} added, {registered.already_registered} already registered;"
            f" {program} has {registered.total} trusted documents"
        )

    typer.echo(_run(Settings.from_env(), register))


jobs_cli = typer.Typer(help="Scheduled work; cron-friendly and safe to run again.")
cli.add_typer(jobs_cli, name="jobs")


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date and time") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter("--as-of needs a time zone, e.g. 2026-12-01T00:00:00Z")
    return parsed.astimezone(UTC)


class _ProgressBar:
    """A bar per job on a terminal; nothing when the output goes to a log (cron)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def start(self, total: int) -> None:
        if total and sys.stderr.isatty():
            self.bar = typer.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()

    def advance(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@jobs_cli.command("run")
def run_jobs(
    job: Annotated[
        str, typer.Argument(help="One of: all, " + ", ".join(name.value for name in JobName))
    ] = "all",
    as_of: Annotated[
        str | None, typer.Option(help="Run as if it were this time (ISO 8601, with zone).")
    ] = None,
) -> None:
    """Run due scheduled work now (or as of a given time) and print what each job did."""
    from app.jobs.runner import ALL_JOBS, JobOptions, describe, run_job

    if job == "all":
        names: tuple[JobName, ...] = ALL_JOBS
    else:
        try:
            names = (JobName(job),)
        except ValueError as exc:
            known = ", ".join(["all", *(name.value for name in JobName)])
            raise typer.BadParameter(f"{job!r} is not a job; choose one of {known}") from exc
    settings = Settings.from_env()
    moment = _as_of(as_of)

    async def work() -> None:
        options = JobOptions(
            idempotency_retention_days=settings.idempotency_retention_days,
            real_now=utc_now(),
        )
        if moment is not None:
            # A run as of another time keeps no analytics snapshots: stamped with that time,
            # readers on the real clock would take them for older or newer than they are.
            open_snapshots.configure(open_snapshots.SnapshotPolicy(budget_ms=float("inf")))
        with clock.using(clock.ManualClock(moment) if moment else clock.current()):
            for name in names:
                progress = _ProgressBar(name.value)
                try:
                    result = await run_job(name, utc_now(), progress, options)
                finally:
                    progress.close()
                typer.echo(describe(result))

    _run(settings, work)


@cli.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help="members, orders or balances")],
    file: Annotated[Path, typer.Argument(help="A CSV or JSON Lines file (docs/import/)")],
    program: Annotated[str, typer.Option(help="The program's slug.")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the file's extension)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and count; write nothing.")
    ] = False,
) -> None:
    """Import members, orders (replayed as of their time) or opening balances from a file.

    Safe to run again or after a crash: what is there is skipped. Prints one line per rejected
    row (line, column, code, message) and a summary; exits 1 when a row was rejected."""
    from app.domain.imports import FileFormat, ImportKind
    from app.jobs.imports import run_import
    from app.services.imports.reader import guess_format

    try:
        import_kind = ImportKind(kind)
    except ValueError as exc:
        known = ", ".join(k.value for k in ImportKind)
        raise typer.BadParameter(
            f"{kind!r} is not a kind of import; choose one of {known}"
        ) from exc
    if not file.is_file():
        typer.echo(f"error: {file} is not a readable file", err=True)
        raise typer.Exit(2)
    try:
        chosen: FileFormat = guess_format(file, file_format)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    settings = Settings.from_env()

    async def work() -> Any:
        bar = _ProgressBar(f"import {import_kind.value}")
        try:
            with file.open("rb") as stream:
                return await run_import(
                    stream,
                    program_slug=program,
                    kind=import_kind,
                    file_format=chosen,
                    dry_run=dry_run,
                    progress=bar,
                    total_bytes=file.stat().st_size,
                )
        finally:
            bar.close()

    report = _run(settings, work)
    for error in report.errors:
        typer.echo(f"line {error.line}\t{error.field or '-'}\t{error.code}\t{error.message}")
    if report.error_count > len(report.errors):
        typer.echo(f"... and {report.error_count - len(report.errors)} more row errors")
    verb = "would import" if dry_run else "imported"
    typer.echo(
        f"{import_kind.value}: {verb} {report.imported}, skipped {report.skipped} already"
        f" there, rejected {report.failed}"
        + (f"; points {report.points}" if import_kind is not ImportKind.MEMBERS else "")
    )
    if report.failed:
        raise typer.Exit(1)


register_bulk_commands(cli, _run, _ProgressBar)


@cli.command("verify-ledger")
def verify_ledger_command() -> None:
    """Recompute every balance from the ledger; exit 1 and list every mismatch."""
    from app.services.ledger.verify import ledger_problems

    async def print_problems() -> int:
        # Printed as found, not gathered first: memory stays flat however many there are.
        count = 0
        async for problem in ledger_problems():
            typer.echo(problem)
            count += 1
        return count

    problems = _run(Settings.from_env(), print_problems)
    if problems:
        typer.echo(f"ledger verification FAILED: {problems} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo("ledger verified: every transaction and balance agrees with the entries")


analytics_cli = typer.Typer(help="The program's numbers: the daily rollups behind them.")
cli.add_typer(analytics_cli, name="analytics")

OneOrEveryProgram = Annotated[
    str | None, typer.Option(help="One program's slug; every program by default.")
]


async def _one_or_every_program(slug: str | None) -> list[Any]:
    """The program named (PROGRAM_NOT_FOUND when there is none), or every program."""
    from app.services.programs.service import list_programs, require_program

    if slug is not None:
        return [await require_program(slug, None, ["program"])]
    return await list_programs(None)


@analytics_cli.command("rebuild")
def analytics_rebuild_command(
    program: OneOrEveryProgram = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Change nothing: list where the kept rollups differ, exit 1 if any."
        ),
    ] = False,
) -> None:
    """Recompute the daily analytics rollups from the orders, members and ledger."""
    from app.services.analytics import rebuild as analytics_rebuild

    async def work() -> list[str]:
        programs = await _one_or_every_program(program)
        lines = []
        for found in programs:
            if check:
                for diff in await analytics_rebuild.compare(found):
                    lines.append(
                        f"{found.slug}\t{diff.day.isoformat()}\t{diff.metric}\t{diff.dimension}"
                        f"\tkept {diff.kept}\trecomputed {diff.recomputed}"
                    )
            else:
                written = await analytics_rebuild.rebuild(found)
                lines.append(f"{found.slug}: {written} rollup rows rebuilt")
        return lines

    lines = _run(Settings.from_env(), work)
    for line in lines:
        typer.echo(line)
    if check and lines:
        typer.echo(f"analytics rollups differ: {len(lines)} row(s)", err=True)
        raise typer.Exit(1)
    if check:
        typer.echo("analytics rollups agree with the orders, members and ledger")


@analytics_cli.command("summarise")
def analytics_summarise_command(
    program: OneOrEveryProgram = None,
) -> None:
    """Count the closed-period summaries programInsights and programCohorts read: those a late
    write made stale, and the last twelve settled months' (run it daily, after midnight)."""
    from app.services.analytics import summaries

    async def work() -> list[str]:
        programs = await _one_or_every_program(program)
        lines = []
        for found in programs:
            done = await summaries.summarise(found.id)
            lines.append(
                f"{found.slug}: {done.spans} customer span(s) and {done.cohorts} cohort cell(s)"
                " counted"
            )
        return lines

    for line in _run(Settings.from_env(), work):
        typer.echo(line)


export_cli = typer.Typer(help="CSV exports of the program's numbers, streamed.")
cli.add_typer(export_cli, name="export")


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)", param_hint=option) from exc


@contextlib.contextmanager
def _csv_export(
    output: Path | None, label: str, columns: Sequence[str]
) -> Iterator[tuple[Any, _ProgressBar]]:
    """A CSV writer on the file (or stdout), its header written, and the export's progress bar;
    BadParameter when the file cannot be opened."""
    import csv

    if output is None:
        out: Any = sys.stdout
    else:
        try:
            out = output.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {output}: {exc.strerror}") from exc
    progress = _ProgressBar(label)
    try:
        writer = csv.writer(out)
        writer.writerow(columns)
        yield writer, progress
    finally:
        progress.close()
        if out is not sys.stdout:
            out.close()


@export_cli.command("insights")
def export_insights_command(
    program: Annotated[str, typer.Option(help="The program's slug.")],
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD), included.")],
    to: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD), included.")],
    granularity: Annotated[str, typer.Option(help="DAY, WEEK or MONTH.")] = "MONTH",
    channel: Annotated[str | None, typer.Option(help="Only the orders of this channel.")] = None,
    segment: Annotated[str | None, typer.Option(help="Only the members of this segment.")] = None,
    inactive_months: Annotated[
        int, typer.Option(help="Churn and retention threshold, in months (1 to 36).")
    ] = 3,
    output: Annotated[Path | None, typer.Option(help="CSV file; stdout by default.")] = None,
) -> None:
    """Export an insights series (programInsights) as CSV: one row per period, then the
    totals; the columns are named in the first row (docs/capabilities/analytics.md)."""

    from app.domain.analytics import Granularity
    from app.domain.orders import OrderChannel
    from app.services.analytics import export
    from app.services.analytics.insights import InsightsInput, program_insights

    try:
        wanted = Granularity(granularity.upper())
    except ValueError as exc:
        raise typer.BadParameter("choose DAY, WEEK or MONTH", param_hint="--granularity") from exc
    try:
        on_channel = None if channel is None else OrderChannel(channel.upper())
    except ValueError as exc:
        known = ", ".join(c.value for c in OrderChannel)
        raise typer.BadParameter(f"choose one of {known}", param_hint="--channel") from exc
    data = InsightsInput(
        program_slug=program,
        first_day=_day(from_, "--from"),
        last_day=_day(to, "--to"),
        granularity=wanted,
        channel=on_channel,
        segment=segment,
        inactive_months=inactive_months,
    )

    async def work() -> None:
        found = await program_insights(data, None)
        if found is None:
            typer.echo(f"error: no program {program!r}", err=True)
            raise typer.Exit(2)
        with _csv_export(output, "insights", export.INSIGHTS_COLUMNS) as (writer, progress):
            progress.start(len(found.series) + 1)
            for row in export.insights_rows(found):
                writer.writerow(row)
                progress.advance(1)

    _run(Settings.from_env(), work)


@export_cli.command("members")
def export_members_command(
    program: Annotated[str, typer.Option(help="The program's slug.")],
    output: Annotated[Path | None, typer.Option(help="CSV file; stdout by default.")] = None,
) -> None:
    """Export the program's members with their KPIs as CSV (balances, orders, revenue in the
    program's currency, average order value, first and last order), streamed by pages."""

    from app.services.analytics import export
    from app.services.programs.service import get_program_by_slug

    async def work() -> None:
        found = await get_program_by_slug(program, None)
        if found is None:
            typer.echo(f"error: no program {program!r}", err=True)
            raise typer.Exit(2)
        with _csv_export(output, "members", export.MEMBER_COLUMNS) as (writer, progress):
            progress.start(await export.member_count(found))
            async for page in export.member_rows(found):
                writer.writerows(page)
                progress.advance(len(page))

    _run(Settings.from_env(), work)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
