"""Bulk operations: their kinds, the columns of their files, and each record checked into a row
(no I/O).

A bulk operation changes many members at once, as one job: points adjusted, a tier assigned, a
mailing list enrolled, a reward issued. Its members come from a file or from a segment. The
file is CSV (a header row naming the columns, one member a line) or JSON Lines (one object a
line, its keys the same columns), told apart by its first line (`is_json_lines`). A record that
cannot be used becomes a `RowError` naming its line, and the operation goes on with the next
one.

The columns and their meaning are in docs/capabilities/bulk-operations.md.
"""

from __future__ import annotations

import csv
import io
import json
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


def is_json_lines(content: str) -> bool:
    """JSON Lines when the first line that is not blank opens an object: no CSV header does."""
    for text in io.StringIO(content):
        if text.strip():
            return text.lstrip().startswith("{")
    return False


def _json_lines(content: str) -> Iterator[tuple[int, str]]:
    """The file's lines that are not blank, with their numbers (from 1)."""
    for number, text in enumerate(io.StringIO(content), start=1):
        if text.strip():
            yield number, text


def _check_json_lines(kind: BulkKind, content: str) -> list[str]:
    """The first record's keys, checked as a CSV header is."""
    number, text = next(_json_lines(content))
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        # RecursionError: nesting deeper than the parser goes is no JSON a record can be.
        raise _problem(f"line {number} is not JSON: {error}") from None
    if not isinstance(record, dict):
        raise _problem(f"line {number} is not a JSON object")
    keys = [str(key).strip().lower() for key in record]
    unknown = [key for key in keys if key not in COLUMNS[kind]]
    if unknown:
        raise _problem(
            f"unknown key(s) {', '.join(unknown)} on line {number}; the keys are"
            f" {', '.join(COLUMNS[kind])}"
        )
    _check_required(kind, keys, "key")
    return keys


def _check_required(kind: BulkKind, names: list[str], what: str) -> None:
    """The columns (or a JSON Lines file's first keys) name what every record needs."""
    if kind is BulkKind.ENROLL_MEMBERS:
        if "customer_id" not in names and "email" not in names:
            raise _problem(f"the file needs a customer_id or an email {what}")
    elif "customer_id" not in names:
        raise _problem(f"missing {what} customer_id")


def check_header(kind: BulkKind, content: str) -> list[str]:
    """The file's columns; a DomainError when the file as a whole cannot be used."""
    if is_json_lines(content):
        return _check_json_lines(kind, content)
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
    _check_required(kind, header, "column")
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


def _json_values(kind: BulkKind, number: int, text: str) -> dict[str, str] | list[RowError]:
    """A JSON Lines record as a CSV record's values: strings, integers as their digits, null as
    empty."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as error:
        return [RowError(number, None, RowErrorCode.MALFORMED_RECORD.value, str(error))]
    if not isinstance(record, dict):
        return [
            RowError(
                number, None, RowErrorCode.MALFORMED_RECORD.value, "a line must be a JSON object"
            )
        ]
    values: dict[str, str] = {}
    errors: list[RowError] = []
    for raw_key, value in record.items():
        key = str(raw_key).strip().lower()
        if key not in COLUMNS[kind]:
            errors.append(
                RowError(
                    number,
                    key,
                    RowErrorCode.MALFORMED_RECORD.value,
                    f"unknown key {key!r}; the keys are {', '.join(COLUMNS[kind])}",
                )
            )
        elif value is None:
            values[key] = ""
        elif isinstance(value, str):
            values[key] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            values[key] = str(value)
        else:
            errors.append(
                RowError(
                    number,
                    key,
                    RowErrorCode.INVALID_VALUE.value,
                    f"{key} must be a string or an integer",
                )
            )
    return errors or values


def _read_json_lines(
    kind: BulkKind, content: str, default_points: int | None
) -> Iterator[BulkRow | list[RowError]]:
    for number, text in _json_lines(content):
        values = _json_values(kind, number, text)
        if isinstance(values, list):
            yield values
            continue
        try:
            yield _row(kind, number, values, default_points)
        except RowRejectedError as rejected:
            yield rejected.errors


def read_rows(
    kind: BulkKind, content: str, default_points: int | None = None
) -> Iterator[BulkRow | list[RowError]]:
    """The file's records in file order (blank lines left out): a row, or the errors of a
    record that cannot be used. The header must have passed `check_header`."""
    if is_json_lines(content):
        yield from _read_json_lines(kind, content, default_points)
        return
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
    if is_json_lines(content):
        return sum(1 for _ in _json_lines(content))
    reader = csv.reader(io.StringIO(content))
    next(reader, None)
    try:
        return sum(1 for values in reader if any(value.strip() for value in values))
    except csv.Error:
        return 0
