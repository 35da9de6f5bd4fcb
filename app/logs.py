"""How the server logs: text lines for a terminal, or JSON lines (`LAUREL_LOG_FORMAT=json`) for
a log collector, one object a line with the time, level, logger, message and, for an
unexpected error, its traceback."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a record carries that is not its own attribute: what callers passed in `extra`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(
            (name, value) for name, value in vars(record).items() if name not in _RECORD_FIELDS
        )
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """A logging dictConfig for Uvicorn and the app's loggers."""
    formatter: dict[str, Any] = (
        {"()": JsonLines} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"laurel": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "laurel"},
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }
