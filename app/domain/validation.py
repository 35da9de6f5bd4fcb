"""Input limits, checked before anything is written; every problem is reported at once."""

from __future__ import annotations

import re
from collections.abc import Sized
from datetime import datetime

from app.domain.errors import CombinedInputError, DomainError, ErrorCode

# C0 control characters other than tab and line breaks (PostgreSQL refuses NUL outright, and
# none of them belongs in a name, an id or a reason), and lone UTF-16 surrogates, which JSON
# can carry but UTF-8 cannot encode.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
IDEMPOTENCY_KEY_MAX = 255
EXTERNAL_ID_MAX = 128
NAME_MAX = 200
EMAIL_MAX = 254
TEXT_MAX = 2000
REASON_MAX = 500


def is_lookup_text(value: str) -> bool:
    """Whether a lookup key could ever have been stored (so the query can be skipped)."""
    return len(value) <= TEXT_MAX and not _CONTROL_CHARACTERS.search(value)


def has_control_characters(value: str) -> bool:
    """Whether text holds what no stored text may: C0 controls other than tab and line breaks,
    or a lone surrogate."""
    return _CONTROL_CHARACTERS.search(value) is not None


def check_period(start: datetime, end: datetime) -> None:
    """A report's [from, to): both with a time zone (a naive moment is no moment at all, and
    cannot be compared with stored ones), from before to."""
    for field, moment in (("from", start), ("to", end)):
        if moment.tzinfo is None:
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                f"{field} needs a time zone, e.g. 2026-11-20T10:00:00Z",
                [field],
            )
    if end <= start:
        raise DomainError(ErrorCode.INVALID_VALUE, "`to` must be after `from`", ["to"])


class Checker:
    """Collects input problems; `raise_if_any` raises them together."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, code: ErrorCode, message: str, field: list[str]) -> None:
        self.errors.append(DomainError(code, message, field))

    def text(
        self, field: list[str], value: str | None, max_length: int, *, required: bool = True
    ) -> str | None:
        """Trimmed text within its limit; empty optional text becomes None."""
        if value is None or not value.strip():
            if required:
                self.add(ErrorCode.REQUIRED, f"{field[-1]} must not be empty", field)
            return None
        value = value.strip()
        if _CONTROL_CHARACTERS.search(value):
            self.add(
                ErrorCode.INVALID_VALUE,
                f"{field[-1]} contains control characters or invalid unicode",
                field,
            )
        if len(value) > max_length:
            self.add(
                ErrorCode.TOO_LONG, f"{field[-1]} is longer than {max_length} characters", field
            )
        return value

    def changed_text(
        self, field: list[str], value: str | None, max_length: int, *, required: bool = True
    ) -> str | None:
        """For an update: a field left out (None) stays None and keeps its value; a given one is
        checked as `text`."""
        return None if value is None else self.text(field, value, max_length, required=required)

    def idempotency_key(self, value: str | None, *, required: bool = True) -> str | None:
        """The input's idempotencyKey, trimmed, within its limit."""
        return self.text(["input", "idempotencyKey"], value, IDEMPOTENCY_KEY_MAX, required=required)

    def batch(self, field: list[str], items: Sized, most: int, too_many: str) -> None:
        """Items sent to be handled together: at least one, and at most `most` (more are
        refused at once, before any item is checked)."""
        if not items:
            self.add(ErrorCode.REQUIRED, f"{field[-1]} must not be empty", field)
        if len(items) > most:
            self.add(ErrorCode.TOO_MANY, too_many, field)
            self.raise_if_any()

    def text_list(
        self, field: list[str], values: tuple[str, ...], max_length: int, max_items: int
    ) -> frozenset[str]:
        """Distinct trimmed texts, each within its limit; empty entries are refused."""
        if len(values) > max_items:
            self.add(ErrorCode.TOO_MANY, f"{field[-1]} has more than {max_items} entries", field)
            return frozenset()
        cleaned = [
            self.text([*field, str(index)], value, max_length) for index, value in enumerate(values)
        ]
        return frozenset(value for value in cleaned if value is not None)

    def int_range(self, field: list[str], value: int, low: int, high: int, code: ErrorCode) -> None:
        if not low <= value <= high:
            self.add(code, f"{field[-1]} must be between {low} and {high}, got {value}", field)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise CombinedInputError(self.errors)
