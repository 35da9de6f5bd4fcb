"""Column values as the drivers hand them back, made alike on both databases; the clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from app import clock


def from_json(value: Any) -> Any:
    """A JSON column's value: the drivers hand it back as text, a default may be a list."""
    return json.loads(value) if isinstance(value, str) else value


def as_datetime(value: Any) -> datetime:
    """SQLite hands timestamps back as text; PostgreSQL as aware datetimes."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_optional_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def utc_now() -> datetime:
    """Now, by the process's clock (app/clock.py), which tests and `--as-of` can replace."""
    return clock.current().now()
