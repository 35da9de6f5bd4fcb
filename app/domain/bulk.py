"""Bulk operations: their kinds, the columns of their files, and each record checked into a row
(no I/O).

A bulk operation changes many members at once, as one job: points adjusted, a tier assigned, a
mailing list enrolled, a reward issued. Its members come from a CSV file (a header row naming
the columns, one member a line) or from a segment. A record that cannot be used becomes a
`RowError` naming its line, and the operation goes on with the next one.

The columns and their meaning are in docs/capabilities/bulk-operations.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode
from app.domain.imports import RowError, RowErrorCode, RowRejectedError
from app.domain.money import MAX_POINTS_PER_MOVEMENT
from app.domain.validation import EMAIL_MAX, EXTERNAL_ID_MAX, NAME_MAX, has_control_characters


class BulkKind(StrEnum):
    ADJUST_POINTS = "adjust_points"
    ASSIGN_TIER = "assign_tier"
    ENROLL_MEMBERS = "enroll_members"
    ISSUE_REWARD = "issue_reward"


class BulkStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    # Stopped on request between two members: what was done stays done.
    CANCELLED = "CANCELLED"


FINISHED = frozenset({BulkStatus.DONE, BulkStatus.FAILED, BulkStatus.CANCELLED})

COLUMNS: dict[BulkKind, tuple[str, ...]] = {
    BulkKind.ADJUST_POINTS: ("customer_id", "points"),
    BulkKind.ASSIGN_TIER: ("customer_id",),
    BulkKind.ENROLL_MEMBERS: ("customer_id", "email", "name", "locale"),
    BulkKind.ISSUE_REWARD: ("customer_id",),
}

# What is in the row-error list besides the import's codes (app/domain/imports.py).
DUPLICATE_MEMBER = "DUPLICATE_MEMBER"


@dataclass(frozen=True)
class BulkRow:
    line: int
    customer_id: str
    # ADJUST_POINTS: the row's own amount (None: the operation's).
    points: int | None = None
    # ENROLL_MEMBERS: the profile the member is enrolled with.
    email: str | None = None
    name: str | None = None
    locale: str | None = None


def _problem(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_VALUE, message, ["input", "content"])


def check_header(kind: BulkKind, content: str) -> list[str]:
    """The file's columns; a DomainError when the file as a whole cannot be used."""
    reader = csv.reader(io.StringIO(content))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise _problem("the file is empty") from None
    except csv.Error as error:
        raise _problem(f"the header row is not CSV: {error}") from None
    unknown = [name for name in header if name not in COLUMNS[kind]]
    if unknown:
        raise _problem(
            f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS[kind])}"
        )
    if kind is BulkKind.ENROLL_MEMBERS:
        if "customer_id" not in header and "email" not in header:
            raise _problem("the file needs a customer_id or an email column")
    elif "customer_id" not in header:
        raise _problem("missing column customer_id")
    return header


def _text(
    values: dict[str, str], name: str, limit: int, line: int, errors: list[RowError]
) -> str | None:
    value = (values.get(name) or "").strip()
    if not value:
        return None
    if has_control_characters(value):
        errors.append(
            RowError(line, name, RowErrorCode.INVALID_VALUE.value, f"{name} has control characters")
        )
    elif len(value) > limit:
        errors.append(RowError(line, name, RowErrorCode.TOO_LONG.value, f"{name} is too long"))
    return value


def _row(kind: BulkKind, line: int, values: dict[str, str], default_points: int | None) -> BulkRow:
    errors: list[RowError] = []
    customer_id = _text(values, "customer_id", EXTERNAL_ID_MAX, line, errors)
    email = _text(values, "email", EMAIL_MAX, line, errors)
    if kind is BulkKind.ENROLL_MEMBERS and customer_id is None and email is not None:
        # A mailing list knows its people by e-mail: the address is their customer id.
        customer_id = email.lower()
    if customer_id is None:
        errors.append(
            RowError(line, "customer_id", RowErrorCode.REQUIRED.value, "customer_id is empty")
        )
    points: int | None = None
    if kind is BulkKind.ADJUST_POINTS:
        raw = (values.get("points") or "").strip()
        if not raw:
            points = default_points
            if points is None:
                errors.append(
                    RowError(line, "points", RowErrorCode.REQUIRED.value, "points is empty")
                )
        else:
            try:
                points = int(raw)
            except ValueError:
                errors.append(
                    RowError(
                        line, "points", RowErrorCode.INVALID_VALUE.value, f"{raw!r} is not a number"
                    )
                )
            else:
                if points == 0 or abs(points) > MAX_POINTS_PER_MOVEMENT:
                    errors.append(
                        RowError(
                            line,
                            "points",
                            RowErrorCode.INVALID_POINTS.value,
                            f"points must be non-zero and at most {MAX_POINTS_PER_MOVEMENT}"
                            " either way",
                        )
                    )
    name = _text(values, "name", NAME_MAX, line, errors)
    locale = _text(values, "locale", 35, line, errors)
    if errors:
        raise RowRejectedError(errors)
    assert customer_id is not None
    return BulkRow(line, customer_id, points, email, name, locale)


def read_rows(
    kind: BulkKind, content: str, default_points: int | None = None
) -> Iterator[BulkRow | list[RowError]]:
    """The file's records in file order (blank lines left out): a row, or the errors of a
    record that cannot be used. The header must have passed `check_header`."""
    lines = io.StringIO(content)
    reader = csv.reader(lines)
    header = [name.strip().lower() for name in next(reader)]
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield [RowError(line, None, RowErrorCode.MALFORMED_RECORD.value, str(error))]
            continue
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            yield [
                RowError(
                    line,
                    None,
                    RowErrorCode.MALFORMED_RECORD.value,
                    f"{len(values)} fields where the header names {len(header)}",
                )
            ]
            continue
        try:
            yield _row(kind, line, dict(zip(header, values, strict=True)), default_points)
        except RowRejectedError as rejected:
            yield rejected.errors


def count_rows(content: str) -> int:
    """Records after the header (blank lines left out): the operation's total."""
    reader = csv.reader(io.StringIO(content))
    next(reader, None)
    try:
        return sum(1 for values in reader if any(value.strip() for value in values))
    except csv.Error:
        return 0
