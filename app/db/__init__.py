"""The database layer: Tortoise's configuration and the migrations (configuration), the process's
client (client), transactions with SQLite group commit (transactions, group_commit) and the
hooks around COMMIT (hooks), the raw-SQL helpers of the hot paths (sql, quick_reads) and the
column values they hand back (values). Callers import from `app.db`."""

from app.db.client import connection, database_client
from app.db.configuration import (
    MIGRATIONS_PACKAGE,
    MODEL_MODULES,
    apply_migrations,
    close_db,
    init_db,
    is_sqlite_url,
    normalise_url,
    tortoise_config,
)
from app.db.group_commit import GroupCommitCounts, group_commit_counts
from app.db.hooks import (
    BeforeCommit,
    CommitObserver,
    after_commit,
    before_commit,
    observe_commits,
    on_commit_start,
)
from app.db.quick_reads import fetch_all_quick, quick_read, quick_read_values
from app.db.sql import (
    StatementRunner,
    execute,
    execute_many,
    fetch_all,
    fetch_all_in,
    fetch_first_in,
    fetch_one,
    is_postgres,
    run_together,
)
from app.db.transactions import in_transaction, lock_until_commit
from app.db.values import as_date, as_datetime, as_optional_datetime, from_json, utc_now

__all__ = [
    "MIGRATIONS_PACKAGE",
    "MODEL_MODULES",
    "BeforeCommit",
    "CommitObserver",
    "GroupCommitCounts",
    "StatementRunner",
    "after_commit",
    "apply_migrations",
    "as_date",
    "as_datetime",
    "as_optional_datetime",
    "before_commit",
    "close_db",
    "connection",
    "database_client",
    "execute",
    "execute_many",
    "fetch_all",
    "fetch_all_in",
    "fetch_all_quick",
    "fetch_first_in",
    "fetch_one",
    "from_json",
    "group_commit_counts",
    "in_transaction",
    "init_db",
    "is_postgres",
    "is_sqlite_url",
    "lock_until_commit",
    "normalise_url",
    "observe_commits",
    "on_commit_start",
    "quick_read",
    "quick_read_values",
    "run_together",
    "tortoise_config",
    "utc_now",
]
