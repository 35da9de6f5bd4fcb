"""A program's cold configuration, cached per process for as long as it is known current.

Earning rules, experiments, punch cards, tiers, challenges, badges and segment definitions
change on admin writes, seldom; an order used to read each of them again. Each program row
carries `config_version`, which database triggers raise in the same transaction as any change
to that configuration (migration 0028), whoever makes it: this process, another worker, the
CLI or a job.

A write path that has read the program row declares the version it read (`reading_config`);
inside that block `cached` serves a value loaded under the same version, and loads (and keeps)
it otherwise. Outside such a block it always loads: code that has not read the version cannot
know what is current.

Never stale after an admin change is acknowledged: the change committed with its version; a
request that starts after the acknowledgement reads the program row, so that version or a
later one, and finds no value kept under it. A value is kept under the version read *before*
it was loaded, so it is at least as new as its version (a value newer than its version costs
one more load later, never a stale answer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from app.db import database_client

T = TypeVar("T")

# At most this many values are kept (a few per program); past it, the oldest go first.
MAX_ENTRIES = 4096

# (program id, configuration version) the current request has read.
_reading: ContextVar[tuple[int, int] | None] = ContextVar("laurel_config_reading", default=None)
# (what, program id, key) -> (version it was loaded under, value)
_entries: dict[tuple[str, int, Hashable], tuple[int, Any]] = {}
# The database client the entries were read through: a new client (Tortoise set up again, as
# tests do) may be another database, where the same program id and version mean other rows.
_owner: list[object] = []


@contextlib.contextmanager
def reading_config(program_id: int, version: int) -> Iterator[None]:
    """Within the block, the program's configuration is at least at `version` (the request has
    just read it from the program row)."""
    token = _reading.set((program_id, version))
    try:
        yield
    finally:
        _reading.reset(token)


async def cached(
    what: str, program_id: int, load: Callable[[], Awaitable[T]], key: Hashable = None
) -> T:
    """`load()`'s value, served from the process's cache when it was loaded under the version
    the request read (`reading_config`) of the same program; loaded otherwise. `what` names
    the kind of value (with `key`, what distinguishes two of one kind)."""
    reading = _reading.get()
    if reading is None or reading[0] != program_id:
        return await load()
    version = reading[1]
    client = database_client()
    if not _owner or _owner[0] is not client:
        _entries.clear()
        _owner[:] = [client]
    entry_key = (what, program_id, key)
    entry = _entries.get(entry_key)
    if entry is not None and entry[0] == version:
        return entry[1]  # type: ignore[no-any-return]
    value = await load()
    _entries.pop(entry_key, None)
    if len(_entries) >= MAX_ENTRIES:
        del _entries[next(iter(_entries))]
    _entries[entry_key] = (version, value)
    return value


def forget() -> None:
    """Drop every cached value (tests that change configuration behind the triggers' back)."""
    _entries.clear()
