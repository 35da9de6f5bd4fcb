"""Settings read from the environment, with defaults that run a demo on one machine."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


def default_database_url() -> str:
    return f"sqlite://{DEFAULT_DATA_DIR / 'laurel.sqlite3'}"


def _log_format(value: str) -> str:
    if value.lower() not in {"text", "json"}:
        raise SystemExit("LAUREL_LOG_FORMAT must be text or json")
    return value.lower()


def _trusted_proxies(value: str) -> tuple[str, ...]:
    proxies = tuple(part.strip() for part in value.split(",") if part.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SystemExit(
                f"LAUREL_TRUSTED_PROXIES: {proxy!r} is no address or network"
            ) from None
    return proxies


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _seconds_env(name: str, default: float) -> float:
    """A duration (seconds or milliseconds, as the name says): a number, 0 or more."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc
    if not value >= 0:
        raise SystemExit(f"{name} must be 0 or more, got {raw!r}")
    return value


def _flag(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "on", "true", "yes"}:
        return True
    if raw in {"0", "off", "false", "no"}:
        return False
    raise SystemExit(f"{name} must be on or off, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start; see the README's configuration table."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    # asyncpg's default pool of 5 gave 250 ms p99 spikes under 16 concurrent requests.
    postgres_pool_size: int = 20
    # FULL flushes every commit to disk: a ledger must not lose acknowledged points on power
    # loss, so durability wins over the 1.5x that NORMAL would give.
    sqlite_synchronous: str = "FULL"
    # SQLite group commit: at most this many transactions waiting at once share one COMMIT
    # (one flush to disk), each in its own savepoint (app/db/group_commit.py); 1 commits each
    # on its own.
    sqlite_group_commit: int = 32
    # How long a resolved API key is trusted before it is looked up again (revocation delay).
    api_key_cache_seconds: float = 5.0
    log_level: str = "info"
    # "text" lines, or "json" lines for a log collector (app/logs.py).
    log_format: str = "text"
    # The server's own job runner: every this many seconds; 0 leaves scheduling to cron.
    jobs_interval_seconds: int = 0
    # Without that runner: how often the server looks for a changed tier configuration to
    # bring every member to (0: leave it to `laurel jobs run tiers-recalculate`).
    tier_recalculation_seconds: float = 5.0
    # How long an idempotency key replays its stored response before it may be purged.
    idempotency_retention_days: int = 30
    # Production mode turns introspection off for every key but admin keys, and GraphiQL off
    # unless `graphiql_in_production`.
    production: bool = False
    graphiql_in_production: bool = False
    # The admin console (/console) likewise: off in production unless `console_in_production`.
    console_in_production: bool = False
    max_body_bytes: int = 256 * 1024
    # The whole request, database work included, is cancelled and rolled back after this.
    request_timeout_seconds: float = 15.0
    # Query documents answered once without an error run from a plan afterwards
    # (app/graphql/compiled.py); off sends every request through Strawberry's executor.
    query_plans: bool = True
    # Load shedding per process (app/web/admission.py): requests at work at once, requests that
    # may wait for a turn, and how long; the rest is answered 503 OVERLOADED at once. 0 in
    # flight turns it off.
    max_in_flight: int = 64
    max_queued: int = 1024
    max_queue_seconds: float = 2.0
    # Each shopper's own rate limit under a publishable key (by member token, else address);
    # the key's own limit is the store's ceiling.
    shopper_per_second: float = 10.0
    shopper_burst: int = 30
    # Proxies whose X-Forwarded-For names the client (addresses or networks).
    trusted_proxies: tuple[str, ...] = ()
    # The webhook worker inside `laurel serve` (off when `laurel worker` runs apart).
    webhook_worker: bool = True
    # Whether endpoints may be on loopback or private addresses (a receiver on the same host or
    # network); refused by default so webhooks are no way into the operator's network.
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    # The customer figures of months not settled yet (programInsights, programCohorts) are
    # answered from a lagged snapshot when counting them took at least this many milliseconds
    # and folded at least this many customers; one older than the refresh age is refreshed in
    # the background, one older than the maximum lag is not used (counted again at once).
    analytics_snapshot_budget_ms: float = 1000.0
    analytics_snapshot_min_customers: int = 20_000
    analytics_snapshot_refresh_seconds: float = 60.0
    analytics_snapshot_max_lag_seconds: float = 300.0

    @classmethod
    def from_env(cls) -> Settings:
        synchronous = os.environ.get("LAUREL_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
            raise SystemExit("LAUREL_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL")
        min_customers = _int_env("LAUREL_ANALYTICS_SNAPSHOT_MIN_CUSTOMERS", 20_000)
        if min_customers < 0:
            raise SystemExit(
                f"LAUREL_ANALYTICS_SNAPSHOT_MIN_CUSTOMERS must be 0 or more, got {min_customers}"
            )
        refresh_seconds = _seconds_env("LAUREL_ANALYTICS_SNAPSHOT_REFRESH_SECONDS", 60)
        max_lag_seconds = _seconds_env("LAUREL_ANALYTICS_SNAPSHOT_MAX_LAG_SECONDS", 300)
        if refresh_seconds >= max_lag_seconds:
            # A snapshot would be counted live again before any refresh could start.
            raise SystemExit(
                "LAUREL_ANALYTICS_SNAPSHOT_REFRESH_SECONDS must be less than"
                f" LAUREL_ANALYTICS_SNAPSHOT_MAX_LAG_SECONDS, got {refresh_seconds:g}"
                f" and {max_lag_seconds:g}"
            )
        return cls(
            database_url=os.environ.get("DATABASE_URL") or default_database_url(),
            host=os.environ.get("LAUREL_HOST", "127.0.0.1"),
            port=_int_env("LAUREL_PORT", 8000),
            postgres_pool_size=_int_env("LAUREL_PG_POOL_SIZE", 20),
            sqlite_synchronous=synchronous,
            sqlite_group_commit=max(1, _int_env("LAUREL_SQLITE_GROUP_COMMIT", 32)),
            api_key_cache_seconds=float(os.environ.get("LAUREL_API_KEY_CACHE_SECONDS", "5")),
            log_level=os.environ.get("LAUREL_LOG_LEVEL", "info"),
            log_format=_log_format(os.environ.get("LAUREL_LOG_FORMAT", "text")),
            jobs_interval_seconds=_int_env("LAUREL_JOBS_INTERVAL_SECONDS", 0),
            tier_recalculation_seconds=float(
                os.environ.get("LAUREL_TIER_RECALCULATION_SECONDS", "5")
            ),
            idempotency_retention_days=_int_env("LAUREL_IDEMPOTENCY_RETENTION_DAYS", 30),
            production=os.environ.get("LAUREL_ENV", "development").lower() == "production",
            graphiql_in_production=os.environ.get("LAUREL_GRAPHIQL", "").lower()
            in {"1", "on", "true", "yes"},
            console_in_production=os.environ.get("LAUREL_CONSOLE", "").lower()
            in {"1", "on", "true", "yes"},
            max_body_bytes=_int_env("LAUREL_MAX_BODY_BYTES", 256 * 1024),
            request_timeout_seconds=float(os.environ.get("LAUREL_REQUEST_TIMEOUT_SECONDS", "15")),
            query_plans=os.environ.get("LAUREL_QUERY_PLANS", "on").lower()
            not in {"0", "off", "false", "no"},
            max_in_flight=_int_env("LAUREL_MAX_IN_FLIGHT", 64),
            max_queued=_int_env("LAUREL_MAX_QUEUED", 1024),
            max_queue_seconds=float(os.environ.get("LAUREL_MAX_QUEUE_SECONDS", "2")),
            shopper_per_second=float(os.environ.get("LAUREL_SHOPPER_PER_SECOND", "10")),
            shopper_burst=_int_env("LAUREL_SHOPPER_BURST", 30),
            trusted_proxies=_trusted_proxies(os.environ.get("LAUREL_TRUSTED_PROXIES", "")),
            webhook_worker=_flag("LAUREL_WEBHOOK_WORKER", default=True),
            webhooks_allow_private=_flag("LAUREL_WEBHOOKS_ALLOW_PRIVATE", default=False),
            webhook_timeout_seconds=float(os.environ.get("LAUREL_WEBHOOK_TIMEOUT_SECONDS", "10")),
            analytics_snapshot_budget_ms=_seconds_env("LAUREL_ANALYTICS_SNAPSHOT_BUDGET_MS", 1000),
            analytics_snapshot_min_customers=min_customers,
            analytics_snapshot_refresh_seconds=refresh_seconds,
            analytics_snapshot_max_lag_seconds=max_lag_seconds,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")
