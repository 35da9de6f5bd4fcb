"""The rows a job finds due: counted once for its progress, then read in pages.

Pages follow the (due column, id) index each of these tables has for its job, so a run reads
what is due and nothing else. The cursor is a row value: an index condition on (due column,
id), where an OR of the two is not and made each page re-read every row passed before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.db import as_datetime, connection, fetch_all, fetch_one
from app.jobs.progress import Progress


@dataclass(frozen=True)
class DueRows:
    """The `columns` of the rows of `table` matching `condition`, in `due_column` order."""

    table: str
    columns: str
    condition: str
    due_column: str

    @property
    def count_sql(self) -> str:
        return f"SELECT COUNT(*) AS n FROM {self.table} WHERE {self.condition}"

    @property
    def first_page_sql(self) -> str:
        return self._page_sql("")

    @property
    def next_page_sql(self) -> str:
        return self._page_sql(f" AND ({self.due_column}, id) > (?, ?)")

    def _page_sql(self, after: str) -> str:
        return (
            f"SELECT {self.columns} FROM {self.table} WHERE {self.condition}{after}"
            f" ORDER BY {self.due_column}, id LIMIT ?"
        )


async def due_pages(
    due: DueRows, params: tuple[Any, ...], progress: Progress, batch_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every due row, a page at a time; `progress` counts a page once the job is done with it."""
    conn = connection()
    counted = await fetch_one(conn, due.count_sql, params)
    progress.start(int(counted["n"]) if counted else 0)
    page = await fetch_all(conn, due.first_page_sql, (*params, batch_size))
    while page:
        yield page
        progress.advance(len(page))
        last = page[-1]
        page = await fetch_all(
            conn,
            due.next_page_sql,
            (*params, as_datetime(last[due.due_column]), int(last["id"]), batch_size),
        )
