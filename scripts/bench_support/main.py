"""`scripts/bench`: the API under load over loopback, against the floor of its own SQL.

For each backend (SQLite with one worker, PostgreSQL with two) it makes a fresh database,
migrates and seeds it (a program, 10,000 members, and members with 1, 11 and 10,000
activities), then:

1. starts `laurel serve --workers N` on 127.0.0.1 and drives it with wrk and a Lua script
   (bench_support/*.lua): recordOrder (unique orders, random members), member-status (random
   members), and member-status pinned to the 1-, 11- and 10,000-activity members (in
   half-length segments, light-page-heavy-heavy-page-light, so drift cancels);
2. the floors, in two halves just before and just after each API measurement: a separate
   Python process runs the statements of one request straight through the driver at the same
   concurrency, on its own copy of the seeded database (bench_support/floor.py); a write is
   judged against the minimal earn transaction (2 statements in one transaction: what one
   durable write costs through the driver) and shown against the same SQL as the app's too;
3. checks the ledger: every acknowledged recordOrder has exactly one EARN_ORDER transaction and
   one order, and `laurel verify-ledger` passes.

It prints one table per backend. Targets are reported PASS/MISS and never fail the run; a
ledger problem does (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.graphql.core.ids import encode_id
from bench_support import floor as floor_module
from bench_support.documents import MEMBER_STATUS_DOCUMENT, RECORD_ORDER_DOCUMENT

SUPPORT_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SUPPORT_DIR.parent.parent
BIN_DIR = Path(sys.executable).parent
LAUREL = str(BIN_DIR / "laurel")
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"

TAIL_FACTOR = 4.0  # p99 must stay under 4x p50
HISTORY_FACTOR = 1.2  # 10,000 activities may cost at most 1.2x one activity
STATUS_FLOOR_FACTOR = 0.3


class BenchError(Exception):
    """The run could not go on (setup, server or tool failure): not a missed target."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class Backend:
    name: str  # sqlite | postgres
    title: str
    workers: int
    # recordOrder's target, as a ratio of the minimal earn transaction's floor.
    record_factor: float


SQLITE = Backend("sqlite", "SQLite", 1, 0.5)
POSTGRES = Backend("postgres", "PostgreSQL", 2, 0.35)


def _run_async(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


class Database:
    """A bench database: its URL for the app, direct queries, a copy for the floor, drop."""

    backend: Backend

    @property
    def app_url(self) -> str:
        raise NotImplementedError

    @property
    def driver_target(self) -> str:
        """What the floor connects to: a file path or a DSN."""
        raise NotImplementedError

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read with `?` placeholders; rows as tuples."""
        raise NotImplementedError

    def clone(self, suffix: str) -> Database:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    backend = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def app_url(self) -> str:
        return f"sqlite://{self.path}"

    @property
    def driver_target(self) -> str:
        return str(self.path)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(statement, tuple(params)).fetchall())
        finally:
            conn.close()

    def clone(self, suffix: str) -> Database:
        target = self.path.with_name(f"{self.path.stem}-{suffix}{self.path.suffix}")
        source = sqlite3.connect(self.path)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return SqliteDatabase(target)

    def drop(self) -> None:
        for extra in ("", "-wal", "-shm"):
            Path(f"{self.path}{extra}").unlink(missing_ok=True)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _numbered(statement: str) -> str:
    parts = statement.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


class PostgresDatabase(Database):
    backend = POSTGRES

    def __init__(self, admin_url: str, name: str) -> None:
        self.admin_url = admin_url
        self.name = name

    @classmethod
    def create(cls, admin_url: str, name: str) -> PostgresDatabase:
        async def create() -> None:
            conn = await asyncpg.connect(admin_url, timeout=5)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
                await conn.execute(f"CREATE DATABASE {_quote(name)}")
            finally:
                await conn.close()

        _run_async(create())
        return cls(admin_url, name)

    @property
    def app_url(self) -> str:
        return _with_database(self.admin_url, self.name)

    @property
    def driver_target(self) -> str:
        return self.app_url

    def admin(self, *statements: str) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self.admin_url, timeout=5)
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        _run_async(run())

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.app_url, timeout=5)
            try:
                rows = await conn.fetch(_numbered(statement), *params)
                return [tuple(row) for row in rows]
            finally:
                await conn.close()

        result: list[tuple[Any, ...]] = _run_async(run())
        return result

    def vacuum_analyze(self) -> None:
        """What autovacuum does in a running system, done now: planner statistics, and no dead
        row versions left by the seed's burst of updates to one member's balance row."""

        async def run() -> None:
            conn = await asyncpg.connect(self.app_url, timeout=5)
            try:
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()

        _run_async(run())

    def clone(self, suffix: str) -> Database:
        name = f"{self.name}_{suffix}"
        statement = f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(self.name)}"
        # A just-closed session can linger for a moment and block the copy of its database.
        for attempt in range(20):
            try:
                self.admin(f"DROP DATABASE IF EXISTS {_quote(name)}", statement)
                break
            except asyncpg.ObjectInUseError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        return PostgresDatabase(self.admin_url, name)

    def drop(self) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {_quote(self.name)} WITH (FORCE)")


def postgres_problem(admin_url: str) -> str | None:
    """None when PostgreSQL answers at `admin_url`, else why not."""

    async def probe() -> None:
        conn = await asyncpg.connect(admin_url, timeout=3)
        await conn.close()

    try:
        _run_async(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# ----------------------------------------------------------------------------- processes


def run_command(
    args: Sequence[str], env: dict[str, str], timeout: float, what: str
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            list(args),
            env=env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what} did not finish within {timeout:.0f} s") from exc
    return done


def checked(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise BenchError(
            f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _descendants(pid: int) -> list[int]:
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            found.extend(int(child) for child in children)
    return found


def _cpu_snapshot() -> dict[int, tuple[float, str]]:
    """CPU seconds (user + system) and command line of every process (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    snapshot: dict[int, tuple[float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        snapshot[int(entry)] = (cpu, cmdline.decode(errors="replace"))
    return snapshot


def _is_foreign(cmdline: str, database_marker: str) -> bool:
    """A process doing someone else's work: not PostgreSQL's shared background processes,
    nor a PostgreSQL backend serving the bench's own database."""
    if cmdline.startswith("postgres: ") or "/bin/postgres " in cmdline:
        return "(" in cmdline and database_marker not in cmdline
    return True


@dataclass
class CpuWindow:
    """CPU use over a measurement, in cores: the server's, and everyone else's (noise)."""

    server_cores: float = math.nan
    other_cores: float = math.nan


@contextmanager
def cpu_window(server_pid: int | None, database_marker: str) -> Iterator[CpuWindow]:
    window = CpuWindow()
    ours = set(_descendants(os.getpid()))
    before = _cpu_snapshot()
    started = time.monotonic()
    yield window
    elapsed = time.monotonic() - started
    after = _cpu_snapshot()
    ours.update(_descendants(os.getpid()))
    server = set(_descendants(server_pid)) if server_pid else set()
    server_cpu = other_cpu = 0.0
    for pid, (cpu, cmdline) in after.items():
        spent = cpu - before.get(pid, (0.0, ""))[0]
        if pid in server:
            server_cpu += spent
        elif pid not in ours and _is_foreign(cmdline, database_marker):
            other_cpu += spent
    if server_pid:
        window.server_cores = server_cpu / elapsed
    window.other_cores = other_cpu / elapsed


class Server:
    """`laurel serve` in its own session, so it and its workers can be stopped as one."""

    def __init__(self, label: str, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.label = label
        self.port = free_port()
        self.env = {
            **env,
            "LAUREL_HOST": HOST,
            "LAUREL_PORT": str(self.port),
            "LAUREL_LOG_LEVEL": "warning",
        }
        self.workers = workers
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [LAUREL, "serve", "--workers", str(self.workers)],
                env=self.env,
                cwd=PROJECT_DIR,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        healthy_workers = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited early:\n{self.log_tail()}")
            try:
                status, _ = self._http("GET", "/healthz", None, {}, timeout=2)
            except OSError:
                status = 0
            if status == 200:
                healthy_workers += 1
                if healthy_workers >= 3:
                    return
            else:
                healthy_workers = 0
            time.sleep(0.2)
        raise BenchError(f"the server did not answer /healthz within {timeout:.0f} s")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session started above, only
            self.process.wait(timeout=10)

    def _http(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def post(self, key: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": document, "variables": variables}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        status, answer = self._http("POST", "/graphql", body, headers, timeout=30)
        if status != 200:
            raise BenchError(f"POST /graphql answered {status}: {answer[:500]!r}")
        decoded: dict[str, Any] = json.loads(answer)
        return decoded


# ----------------------------------------------------------------------------- measurements


@dataclass
class Measurement:
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    ok: int = 0
    bad: int = 0
    replayed: int = 0
    socket_errors: int = 0
    bad_sample: str = ""
    acked_ids: list[str] = field(default_factory=list)
    cpu: CpuWindow = field(default_factory=CpuWindow)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms > 0 else math.inf


def combine(scenario: str, parts: Sequence[Measurement]) -> Measurement:
    """Several segments of one scenario: total rps; p50/p99 are the segments' mean."""
    return Measurement(
        scenario=scenario,
        requests=sum(p.requests for p in parts),
        seconds=sum(p.seconds for p in parts),
        p50_ms=sum(p.p50_ms for p in parts) / len(parts),
        p99_ms=sum(p.p99_ms for p in parts) / len(parts),
        ok=sum(p.ok for p in parts),
        bad=sum(p.bad for p in parts),
        replayed=sum(p.replayed for p in parts),
        socket_errors=sum(p.socket_errors for p in parts),
        bad_sample=next((p.bad_sample for p in parts if p.bad_sample), ""),
        cpu=CpuWindow(
            server_cores=sum(p.cpu.server_cores for p in parts) / len(parts),
            other_cores=sum(p.cpu.other_cores for p in parts) / len(parts),
        ),
    )


@dataclass(frozen=True)
class LoadSettings:
    duration: int
    warmup: int
    connections: int
    py_spy: str | None
    work_dir: Path
    keep: bool
    # Names this run's databases: PostgreSQL backends serving them are not noise.
    database_marker: str
    # recordOrder and its floors only (no member-status runs).
    writes_only: bool = False


class Profiler:
    """Optional py-spy recording of the server during a measured run."""

    def __init__(self, settings: LoadSettings, name: str, pid: int, seconds: int) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        if settings.py_spy is None:
            return
        out = settings.work_dir / f"py-spy-{name}.txt"
        self.process = subprocess.Popen(
            [
                settings.py_spy,
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--nonblocking",
                "--format",
                "raw",
                "--rate",
                "200",
                "--duration",
                str(seconds),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log(f"py-spy recording the server to {out}")

    def finish(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def run_wrk(
    settings: LoadSettings,
    server: Server,
    script: str,
    scenario: str,
    seconds: int,
    env: dict[str, str],
    profile: bool = False,
) -> Measurement:
    result_path = settings.work_dir / f"wrk-{scenario}-{secrets.token_hex(3)}.txt"
    ids_path = result_path.with_suffix(".ids")
    wrk_env = {
        **os.environ,
        **env,
        "BENCH_LUA_DIR": str(SUPPORT_DIR),
        "BENCH_RESULT": str(result_path),
        "BENCH_IDS": str(ids_path),
        "BENCH_SEED": str(secrets.randbelow(1_000_000)),
    }
    command = [
        "wrk",
        "-t1",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(SUPPORT_DIR / script),
        f"{server.base_url}/graphql",
    ]
    profiler = (
        Profiler(settings, f"{server.label}-{scenario}", server.pid, seconds) if profile else None
    )
    with cpu_window(server.pid, settings.database_marker) as cpu:
        done = run_command(command, wrk_env, seconds + 60, f"wrk ({scenario})")
    if profiler is not None:
        profiler.finish()
    checked(done, f"wrk ({scenario})")
    try:
        values = dict(
            (name, int(value))
            for name, value in (
                line.split() for line in result_path.read_text().splitlines() if line.strip()
            )
        )
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"wrk wrote no result for {scenario}:\n{done.stdout}{done.stderr}"
        ) from exc
    bad_path = Path(f"{result_path}.bad")
    acked_ids = ids_path.read_text().split() if ids_path.exists() else []
    return Measurement(
        scenario=scenario,
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        ok=values["ok"],
        bad=values["bad"],
        replayed=values["replayed"],
        socket_errors=sum(
            values[k]
            for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
        ),
        bad_sample=bad_path.read_text(errors="replace") if bad_path.exists() else "",
        acked_ids=acked_ids,
        cpu=cpu,
    )


def run_floor(
    settings: LoadSettings,
    database: Database,
    scenario: str,
    seed: dict[str, Any],
    pool_size: int,
    sqlite_synchronous: str,
    seconds: int,
) -> Measurement:
    command = [
        sys.executable,
        "-m",
        "bench_support.floor",
        "--backend",
        database.backend.name,
        "--database",
        database.driver_target,
        "--scenario",
        scenario,
        "--concurrency",
        str(settings.connections),
        "--duration",
        str(seconds),
        "--warmup",
        str(settings.warmup),
        "--pool-size",
        str(pool_size),
        "--sqlite-synchronous",
        sqlite_synchronous,
        "--program-slug",
        seed["program_slug"],
        "--pool-prefix",
        seed["pool_prefix"],
        "--members",
        str(seed["pool_size"]),
        "--first-pk",
        str(seed["pool_first_pk"]),
        "--program-id",
        str(seed["program_id"]),
        "--nonce",
        f"floor{secrets.token_hex(4)}",
    ]
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    with cpu_window(None, settings.database_marker) as cpu:
        done = run_command(command, env, seconds + settings.warmup + 120, f"floor ({scenario})")
    result = json.loads(checked(done, f"floor ({scenario})").strip().splitlines()[-1])
    return Measurement(
        scenario=f"floor: {scenario}",
        requests=int(result["requests"]),
        seconds=float(result["seconds"]),
        p50_ms=float(result["p50_ms"]),
        p99_ms=float(result["p99_ms"]),
        ok=int(result["requests"]),
        cpu=cpu,
    )


def _pythonpath() -> str:
    """This checkout's app and scripts first: the `laurel` command of a shared environment
    would import whichever checkout that environment was installed from."""
    existing = os.environ.get("PYTHONPATH")
    ours = os.pathsep.join((str(PROJECT_DIR), str(SUPPORT_DIR.parent)))
    return ours + (os.pathsep + existing if existing else "")


# ----------------------------------------------------------------------------- ledger check


@dataclass
class LedgerCheck:
    label: str
    ok: bool
    detail: str


def check_ledger(
    database: Database, nonce: str, measured: Measurement, connections: int
) -> LedgerCheck:
    """Exactly one EARN_ORDER transaction (and one order) per acknowledged recordOrder.

    wrk stops with up to one request in flight per connection: those may commit without their
    answer being read. They are reported apart and allowed up to the connection count; every
    acknowledged order id must have exactly one transaction, and no order id more than one.
    """
    pattern = f"{nonce}-%"
    # The requests that were in flight when wrk stopped are still running in the server.
    last, stable, deadline = -1, 0, time.monotonic() + 30
    while stable < 3 and time.monotonic() < deadline:
        count = int(
            database.query("SELECT COUNT(*) FROM orders WHERE order_id LIKE ?", (pattern,))[0][0]
        )
        stable = stable + 1 if count == last else 0
        last = count
        time.sleep(0.25)
    transactions = Counter(
        str(row[0])
        for row in database.query(
            "SELECT order_ref FROM ledger_transactions WHERE kind = 'EARN_ORDER'"
            " AND order_ref LIKE ?",
            (pattern,),
        )
    )
    orders = database.query(
        "SELECT o.order_id, t.order_ref FROM orders o"
        " LEFT JOIN ledger_transactions t ON t.id = o.transaction_id WHERE o.order_id LIKE ?",
        (pattern,),
    )
    acked = Counter(measured.acked_ids)
    problems: list[str] = []
    if len(measured.acked_ids) != measured.ok:
        problems.append(
            f"wrk acknowledged {measured.ok} but reported {len(measured.acked_ids)} order ids"
        )
    if duplicates := [order for order, n in acked.items() if n > 1]:
        problems.append(f"{len(duplicates)} order ids acknowledged twice, e.g. {duplicates[0]}")
    if measured.replayed:
        problems.append(f"{measured.replayed} answers said alreadyRecorded for a new order id")
    if missing := [order for order in acked if transactions[order] != 1]:
        example = missing[0]
        problems.append(
            f"{len(missing)} acknowledged orders without exactly one transaction,"
            f" e.g. {example} has {transactions[example]}"
        )
    if doubled := [order for order, n in transactions.items() if n > 1]:
        problems.append(f"{len(doubled)} orders with several transactions, e.g. {doubled[0]}")
    unlinked = [row[0] for row in orders if row[1] != row[0]]
    if unlinked:
        problems.append(f"{len(unlinked)} orders not linked to their own transaction")
    if len(orders) != sum(transactions.values()):
        problems.append(
            f"{len(orders)} orders but {sum(transactions.values())} EARN_ORDER transactions"
        )
    in_flight = [order for order in transactions if order not in acked]
    if len(in_flight) > connections:
        problems.append(
            f"{len(in_flight)} transactions nobody acknowledged, more than the"
            f" {connections} requests that can be in flight when wrk stops"
        )
    detail = (
        f"{measured.ok} acknowledged, {sum(transactions.values())} EARN_ORDER transactions,"
        f" {len(orders)} orders ({len(in_flight)} committed while in flight at wrk's stop,"
        f" answer unread; at most {connections} allowed)"
    )
    if problems:
        detail += "; " + "; ".join(problems)
    return LedgerCheck(label=f"ledger check ({measured.scenario})", ok=not problems, detail=detail)


# ----------------------------------------------------------------------------- one backend


def floor_drift(traced: Sequence[str], mirrored: Sequence[str]) -> str:
    """How the floor's statements differ from the ones the app ran ("" when they match)."""
    if list(traced) == list(mirrored):
        return ""
    diff = difflib.unified_diff(
        list(mirrored), list(traced), "floor.py", "the app", lineterm="", n=0
    )
    return "\n".join(line for line in diff if not line.startswith("@@"))


@dataclass
class Row:
    measurement: Measurement
    # The floor the target is judged by: the minimal earn transaction for a write, the same
    # SQL for a read.
    floor: Measurement | None = None
    floor_factor: float | None = None
    tail_target: bool = True
    floor_name: str = "member-status"  # which floor's statements it compares with
    # A write's second column: the same SQL as the app's through the driver.
    same_sql: Measurement | None = None


@dataclass
class BackendReport:
    backend: Backend
    rows: list[Row] = field(default_factory=list)
    floors: list[Measurement] = field(default_factory=list)
    history: tuple[Measurement, Measurement, Measurement] | None = None
    checks: list[LedgerCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The floor's statements against a traced request of the app: "" when they match.
    floor_drift: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ledger_ok(self) -> bool:
        return all(check.ok for check in self.checks) and bool(self.checks)


def seed_database(database: Database, env: dict[str, str]) -> dict[str, Any]:
    seed_env = {**env, "PYTHONPATH": _pythonpath()}
    if isinstance(database, PostgresDatabase):
        # Setup only: commits need not wait for the disk while the history is built.
        database.admin(f"ALTER DATABASE {_quote(database.name)} SET synchronous_commit = off")
    else:
        seed_env["LAUREL_SQLITE_SYNCHRONOUS"] = "NORMAL"
    try:
        done = run_command([sys.executable, "-m", "bench_support.seed"], seed_env, 600, "seeding")
    finally:
        if isinstance(database, PostgresDatabase):
            database.admin(f"ALTER DATABASE {_quote(database.name)} RESET synchronous_commit")
    if isinstance(database, PostgresDatabase):
        database.vacuum_analyze()
    seeded: dict[str, Any] = json.loads(checked(done, "seeding").strip().splitlines()[-1])
    return seeded


def sanity_check(server: Server, key: str, seed: dict[str, Any], nonce: str) -> None:
    """One request of each kind by hand, so a broken setup fails loudly before the load."""
    answer = server.post(
        key,
        RECORD_ORDER_DOCUMENT,
        {
            "input": {
                "programSlug": seed["program_slug"],
                "customerId": f"{seed['pool_prefix']}00000",
                "orderId": f"{nonce}-sanity",
                "currency": seed["currency"],
                "totalMinor": 2495,
                "shippingMinor": 495,
                "placedAt": "2025-01-15T10:00:00Z",
                "lines": [{"sku": "SKU-1", "quantity": 1, "unitPriceMinor": 2000}],
            }
        },
    )
    payload = (answer.get("data") or {}).get("recordOrder") or {}
    if not payload.get("order") or payload.get("userErrors"):
        raise BenchError(f"recordOrder sanity request failed: {json.dumps(answer)[:800]}")
    for pk, expected in ((seed["heavy_pk"], 10), (seed["page_pk"], 10), (seed["light_pk"], 1)):
        answer = server.post(key, MEMBER_STATUS_DOCUMENT, {"id": encode_id("Member", pk)})
        member = (answer.get("data") or {}).get("member")
        if not member or len(member["activity"]["edges"]) != expected or answer.get("errors"):
            raise BenchError(f"member-status sanity request failed: {json.dumps(answer)[:800]}")


def bench_backend(
    backend: Backend, settings: LoadSettings, postgres_url: str, report: BackendReport
) -> None:
    database: Database
    if backend is SQLITE:
        database = SqliteDatabase(settings.work_dir / f"{settings.database_marker}.sqlite3")
    else:
        database = PostgresDatabase.create(postgres_url, settings.database_marker)
    floor_database: Database | None = None
    env = {**os.environ, "DATABASE_URL": database.app_url, "PYTHONPATH": _pythonpath()}
    for name in ("LAUREL_HOST", "LAUREL_PORT", "LAUREL_LOG_LEVEL"):
        env.pop(name, None)
    sqlite_synchronous = os.environ.get("LAUREL_SQLITE_SYNCHRONOUS", "FULL").upper()
    pool_size = int(os.environ.get("LAUREL_PG_POOL_SIZE") or 20)
    try:
        log(f"{backend.title}: migrating {database.app_url}")
        checked(run_command([LAUREL, "migrate"], env, 600, "laurel migrate"), "laurel migrate")
        log(f"{backend.title}: seeding 10,000 members and a 10,000-order history")
        started = time.monotonic()
        seed = seed_database(database, env)
        log(f"{backend.title}: seeded in {time.monotonic() - started:.0f} s")
        report.floor_drift = {
            "recordOrder": floor_drift(
                seed["record_order_sql"], floor_module.record_order_statements(backend.name)
            ),
            "member-status": floor_drift(
                seed["member_status_sql"], floor_module.MEMBER_STATUS_STATEMENTS
            ),
        }
        key = checked(
            run_command(
                [
                    LAUREL,
                    "create-api-key",
                    "--kind",
                    "secret",
                    "--program",
                    seed["program_slug"],
                    "--name",
                    "bench",
                    # The load is the measurement: the key's own limit must not cut it.
                    "--per-second",
                    "100000",
                    "--burst",
                    "1000000",
                ],
                env,
                120,
                "laurel create-api-key",
            ),
            "laurel create-api-key",
        ).split()[-1]

        floor_database = database.clone("floor")
        floor_pool = pool_size * backend.workers
        half = max(1, settings.duration // 2)

        def floor(scenario: str) -> Measurement:
            assert floor_database is not None
            log(f"{backend.title}: floor {scenario} (driver; {half} s, pool {floor_pool})")
            return run_floor(
                settings, floor_database, scenario, seed, floor_pool, sqlite_synchronous, half
            )

        member_ids = settings.work_dir / f"members-{backend.name}.txt"
        member_ids.write_text(
            "".join(
                encode_id("Member", seed["pool_first_pk"] + i) + "\n"
                for i in range(seed["pool_size"])
            )
        )
        solo_ids: dict[str, Path] = {}
        for which in ("light", "page", "heavy"):
            solo_ids[which] = settings.work_dir / f"{which}-{backend.name}.txt"
            solo_ids[which].write_text(encode_id("Member", seed[f"{which}_pk"]) + "\n")

        server = Server(
            backend.name, env, backend.workers, settings.work_dir / f"server-{backend.name}.log"
        )
        log(f"{backend.title}: starting laurel serve --workers {backend.workers} on {HOST}")
        server.start()
        try:
            nonce = f"r{secrets.token_hex(4)}"
            sanity_check(server, key, seed, nonce)
            order_env = {
                "BENCH_KEY": key,
                "BENCH_DOCUMENT": RECORD_ORDER_DOCUMENT,
                "BENCH_MEMBERS": str(seed["pool_size"]),
                "BENCH_PREFIX": seed["pool_prefix"],
                "BENCH_PROGRAM": seed["program_slug"],
                "BENCH_CURRENCY": seed["currency"],
            }
            # Each API measurement sits between two half-length floor measurements (the server
            # idles meanwhile), so the floor is taken under the same conditions of the machine.
            floor_record_first = floor("record-order")
            floor_earn_first = floor("minimal-earn")
            log(f"{backend.title}: recordOrder ({settings.warmup} s warm-up, then measured)")
            if settings.warmup:
                warm = run_wrk(
                    settings,
                    server,
                    "record_order.lua",
                    "warm-up recordOrder",
                    settings.warmup,
                    {**order_env, "BENCH_NONCE": f"{nonce}w"},
                )
                report.checks.append(
                    check_ledger(database, f"{nonce}w", warm, settings.connections)
                )
            record = run_wrk(
                settings,
                server,
                "record_order.lua",
                "recordOrder",
                settings.duration,
                {**order_env, "BENCH_NONCE": f"{nonce}m"},
                profile=True,
            )
            report.checks.append(check_ledger(database, f"{nonce}m", record, settings.connections))
            floor_earn = combine(
                "floor: minimal earn (2 statements)", [floor_earn_first, floor("minimal-earn")]
            )
            floor_record = combine(
                "floor: recordOrder's SQL", [floor("record-order"), floor_record_first]
            )
            report.rows.append(
                Row(
                    record,
                    floor_earn,
                    backend.record_factor,
                    True,
                    "recordOrder",
                    same_sql=floor_record,
                )
            )
            report.floors = [floor_earn, floor_record]
            if not settings.writes_only:
                floor_status_first = floor("member-status")
                status_env = {"BENCH_KEY": key, "BENCH_DOCUMENT": MEMBER_STATUS_DOCUMENT}
                log(f"{backend.title}: member-status, random members")
                if settings.warmup:
                    run_wrk(
                        settings,
                        server,
                        "member_status.lua",
                        "warm-up member-status",
                        settings.warmup,
                        {**status_env, "BENCH_MEMBER_IDS": str(member_ids)},
                    )
                status = run_wrk(
                    settings,
                    server,
                    "member_status.lua",
                    "member-status",
                    settings.duration,
                    {**status_env, "BENCH_MEMBER_IDS": str(member_ids)},
                    profile=True,
                )
                floor_status = combine(
                    "floor: member-status SQL", [floor_status_first, floor("member-status")]
                )
                report.rows.append(Row(status, floor_status, STATUS_FLOOR_FACTOR))
                report.floors.append(floor_status)

                log(f"{backend.title}: member-status by history length (1, 11, 10,000 activities)")
                segments: dict[str, list[Measurement]] = {"light": [], "page": [], "heavy": []}
                # A palindrome of half-length segments, so a linear drift of the machine's speed
                # weighs the same on every member.
                for which in ("light", "page", "heavy", "heavy", "page", "light"):
                    segments[which].append(
                        run_wrk(
                            settings,
                            server,
                            "member_status.lua",
                            f"member-status {which}",
                            half,
                            {**status_env, "BENCH_MEMBER_IDS": str(solo_ids[which])},
                        )
                    )
                light = combine("member-status, 1 activity", segments["light"])
                page = combine("member-status, 11 activities", segments["page"])
                heavy = combine("member-status, 10,000 activities", segments["heavy"])
                for measured in (light, page, heavy):
                    report.rows.append(Row(measured, floor_status, None))
                report.history = (light, page, heavy)
        finally:
            server.stop()
        done = run_command([LAUREL, "verify-ledger"], env, 300, "laurel verify-ledger")
        report.checks.append(
            LedgerCheck(
                label="laurel verify-ledger",
                ok=done.returncode == 0,
                detail=f"exit {done.returncode}: {(done.stdout + done.stderr).strip()[-600:]}",
            )
        )
        noteworthy = [
            text
            for text in server.log_tail().splitlines()
            if any(word in text for word in ("Traceback", "ERROR", "Error", "WARNING", "error:"))
        ]
        if noteworthy:
            report.notes.append("server log: " + " | ".join(noteworthy[-5:]))
    finally:
        if floor_database is not None:
            floor_database.drop()
        if not (settings.keep and isinstance(database, SqliteDatabase)):
            database.drop()


# ----------------------------------------------------------------------------- report


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _drift_lines(report: BackendReport) -> list[str]:
    lines = []
    for name, drift in report.floor_drift.items():
        if drift:
            lines.append(
                f"WARNING (*): the {name} floor no longer runs the statements the app runs"
                f" (update bench_support/floor.py); its ratios compare unlike work:\n{drift}"
            )
        else:
            statements = (
                floor_module.record_order_statements(report.backend.name)
                if name == "recordOrder"
                else floor_module.MEMBER_STATUS_STATEMENTS
            )
            lines.append(
                f"floor statements ({name}): the {len(statements)} the app runs, checked"
                " against a traced request"
            )
    return lines


def render(report: BackendReport, settings: LoadSettings) -> tuple[str, int, int]:
    """The backend's table, and the counts of targets passed and missed."""
    backend = report.backend
    workers = "1 worker" if backend.workers == 1 else f"{backend.workers} workers"
    lines = [
        "",
        f"== {backend.title}: {workers}, {settings.connections} connections,"
        f" {settings.duration} s per measurement ==",
    ]
    if report.error:
        lines.append(f"RUN FAILED: {report.error}")
        if not report.rows and not report.checks:
            return "\n".join([*lines, *_drift_lines(report)]), 0, 0

    def line(
        scenario: str,
        m: Measurement | None,
        floor_rps: str = "",
        ratio: str = "",
        same_sql: str = "",
        errors: str = "",
        target: str = "",
        result: str = "",
    ) -> str:
        figures = (
            f"{_fmt(m.rps):>9}{_fmt(m.p50_ms, 2):>9}{_fmt(m.p99_ms, 2):>9}"
            if m is not None
            else f"{'':>27}"
        )
        tail = _fmt(m.tail, 2) if m is not None else ""
        server = _fmt(m.cpu.server_cores, 2) if m is not None else ""
        other = _fmt(m.cpu.other_cores, 2) if m is not None else ""
        return (
            f"{scenario:<34}{figures}{floor_rps:>11}{ratio:>7}{same_sql:>9}{tail:>9}{server:>6}"
            f"{other:>7}"
            f"{errors:>8}  {target:<26}{result}".rstrip()
        )

    header = (
        f"{'scenario':<34}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'floor rps':>11}{'ratio':>7}"
        f"{'same SQL':>9}{'p99/p50':>9}{'srv':>6}{'other':>7}{'errors':>8}  {'target':<26}result"
    )
    lines += [header, "-" * len(header)]
    passed = missed = 0

    def judge(ok: bool) -> str:
        nonlocal passed, missed
        passed, missed = passed + ok, missed + (not ok)
        return "PASS" if ok else "MISS"

    for row in report.rows:
        m = row.measurement
        floor_rps = row.floor.rps if row.floor else math.nan
        ratio = m.rps / floor_rps if floor_rps else math.nan
        targets: list[str] = []
        verdicts: list[str] = []
        stale = "*" if report.floor_drift.get(row.floor_name) else ""
        same_sql = ""
        if row.same_sql is not None and row.same_sql.rps:
            same_sql = _fmt(m.rps / row.same_sql.rps, 2) + stale
            stale = ""  # the judged floor (the minimal earn) runs no statement of the app's
        if row.floor_factor is not None:
            targets.append(f"ratio>={row.floor_factor:g}")
            verdicts.append(judge(ratio >= row.floor_factor) + stale)
        if row.tail_target:
            targets.append(f"p99<{TAIL_FACTOR:g}x p50")
            verdicts.append(judge(m.tail < TAIL_FACTOR))
        lines.append(
            line(
                m.scenario,
                m,
                _fmt(floor_rps),
                _fmt(ratio, 2),
                same_sql,
                str(m.bad + m.socket_errors),
                ", ".join(targets),
                ", ".join(verdicts),
            )
        )
    if report.history is not None:
        light, page, heavy = report.history
        cost = light.rps / heavy.rps if heavy.rps else math.inf
        p50_cost = heavy.p50_ms / light.p50_ms if light.p50_ms else math.inf
        lines.append(
            f"{'history cost, 10,000 vs 1':<34}{f'{cost:.2f}x by rps, {p50_cost:.2f}x by p50':<85}"
            f"  {f'<={HISTORY_FACTOR:g}x (by rps)':<26}{judge(cost <= HISTORY_FACTOR)}"
        )
        page_cost = page.rps / heavy.rps if heavy.rps else math.inf
        page_p50 = heavy.p50_ms / page.p50_ms if page.p50_ms else math.inf
        lines.append(
            f"{'history cost, 10,000 vs 11':<34}"
            f"{f'{page_cost:.2f}x by rps, {page_p50:.2f}x by p50 (both fill the page)':<85}"
            f"  (information)"
        )
    for floor in report.floors:
        lines.append(line(floor.scenario, floor, errors="0", target="(the floor)"))
    lines.append(
        "srv: cores the server used; other: cores used meanwhile by processes outside the"
        " benchmark (noise).\nratio: rps / the floor rps of its row (a write: the minimal earn"
        " transaction, 2 statements); same SQL: a write's rps / its own statements' floor.\n"
        "floors: two half-length runs, just before and just after the API"
        " run; 1/11/10,000-activity rows: two half-length runs each; p50/p99 of split runs are"
        " the mean of the halves."
    )
    lines.append("")
    lines.extend(_drift_lines(report))
    for check in report.checks:
        lines.append(f"{check.label}: {'OK' if check.ok else 'MISMATCH'}: {check.detail}")
    for row in report.rows:
        if row.measurement.bad_sample:
            lines.append(
                f"first refused answer ({row.measurement.scenario}):"
                f" {row.measurement.bad_sample[:300]}"
            )
    lines.extend(report.notes)
    return "\n".join(lines), passed, missed


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Load-test recordOrder and member-status against their driver-level floor.",
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds per measurement (default 10)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="concurrent connections (default 16)"
    )
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both", help="default both"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="warm-up seconds before each scenario (default 2)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="admin connection used to create and drop laurel_bench_<pid>"
        " (default $BENCH_POSTGRES_URL or " + DEFAULT_POSTGRES_URL + ")",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy binary: record the server (raw collapsed stacks) during the measured"
        " recordOrder and member-status runs; slows the server, so the figures are not comparable",
    )
    parser.add_argument(
        "--writes-only",
        action="store_true",
        help="measure recordOrder and its floors only, not the member-status reads",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work directory (logs, wrk results, the SQLite database)",
    )
    args = parser.parse_args(argv)
    if args.duration < 2 or args.connections < 1 or args.warmup < 0:
        parser.error("--duration must be >= 2, --connections >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if shutil.which("wrk") is None:
        print("scripts/bench: wrk is not installed (scripts/bench installs it)", file=sys.stderr)
        return 2
    backends: list[Backend] = []
    if args.backend in ("sqlite", "both"):
        backends.append(SQLITE)
    if args.backend in ("postgres", "both"):
        problem = postgres_problem(args.postgres_url)
        if problem is None:
            backends.append(POSTGRES)
        elif args.backend == "both":
            print(
                f"PostgreSQL is not reachable at {args.postgres_url} ({problem}):"
                " running SQLite only",
                flush=True,
            )
        else:
            print(f"PostgreSQL is not reachable at {args.postgres_url}: {problem}", file=sys.stderr)
            return 2
    work_dir = Path(tempfile.mkdtemp(prefix="laurel-bench-"))
    settings = LoadSettings(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        py_spy=args.py_spy,
        work_dir=work_dir,
        keep=args.keep,
        database_marker=f"laurel_bench_{os.getpid()}",
        writes_only=args.writes_only,
    )
    started = time.monotonic()
    reports: list[BackendReport] = []
    try:
        for backend in backends:
            report = BackendReport(backend)
            reports.append(report)
            try:
                bench_backend(backend, settings, args.postgres_url, report)
            except (BenchError, OSError, asyncpg.PostgresError, json.JSONDecodeError) as exc:
                report.error = str(exc)
                log(f"{backend.title}: {exc}")
    finally:
        if args.keep:
            log(f"work directory kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    total_passed = total_missed = 0
    for report in reports:
        text, passed, missed = render(report, settings)
        total_passed += passed
        total_missed += missed
        print(text)
    print()
    print(
        f"targets: {total_passed} PASS, {total_missed} MISS"
        f" (misses are reported, not failures); wall time {time.monotonic() - started:.0f} s"
    )
    failed = [r for r in reports if r.error or not r.ledger_ok]
    if failed:
        print(
            "FAILED: "
            + ", ".join(
                f"{r.backend.title} ({'run error' if r.error else 'ledger check'})" for r in failed
            )
        )
        return 1
    print("ledger checks: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
