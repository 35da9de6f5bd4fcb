"""Reading an import file as a stream: one item (an order with its lines, a member's lots, a
member) at a time, with the line it starts on, whatever the file's size.

Memory holds one item: CSV lines of one order or lots of one member are consecutive, so an item
ends when the next record names another. Progress is counted in bytes of the file read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.domain.errors import DomainError, ErrorCode
from app.domain.imports import (
    COLUMNS,
    REQUIRED_COLUMNS,
    FileFormat,
    ImportKind,
    RowError,
    RowErrorCode,
    record_key,
)

# The longest line read (a record longer than this is malformed, not a reason to run out of
# memory).
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Item:
    line: int
    records: list[dict[str, Any]]


class FileProblemError(DomainError):
    """The file as a whole cannot be imported (unknown format, missing columns, not UTF-8)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_VALUE, message, ["file"])


def guess_format(path: Path, given: str | None) -> FileFormat:
    name = (given or path.suffix.lstrip(".")).lower()
    if name in ("csv",):
        return FileFormat.CSV
    if name in ("jsonl", "ndjson", "json"):
        return FileFormat.JSONL
    raise FileProblemError(
        f"cannot tell the format of {path.name!r}: name it .csv or .jsonl, or pass --format"
    )


class _CountingLines:
    """The decoded lines of a binary stream, counting the bytes read."""

    def __init__(self, stream: IO[bytes], on_bytes: Callable[[int], None]) -> None:
        self.stream = stream
        self.on_bytes = on_bytes
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        while True:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.line += 1
            self.on_bytes(len(raw))
            if len(raw) > MAX_LINE_BYTES:
                raise FileProblemError(f"line {self.line} is longer than {MAX_LINE_BYTES} bytes")
            try:
                text = raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise FileProblemError(f"line {self.line} is not UTF-8") from exc
            yield text


def _csv_records(
    lines: _CountingLines, kind: ImportKind
) -> Iterator[tuple[int, dict[str, Any]] | RowError]:
    reader = csv.reader(iter(lines))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return
    unknown = [name for name in header if name not in COLUMNS[kind]]
    if unknown:
        raise FileProblemError(
            f"unknown column(s) {', '.join(unknown)} for {kind.value}; the columns are "
            + ", ".join(COLUMNS[kind])
        )
    missing = [name for name in REQUIRED_COLUMNS[kind] if name not in header]
    if missing:
        raise FileProblemError(f"missing column(s) {', '.join(missing)} for {kind.value}")
    while True:
        start = lines.line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(start, None, RowErrorCode.MALFORMED_RECORD.value, str(exc))
            continue
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            yield RowError(
                start,
                None,
                RowErrorCode.MALFORMED_RECORD.value,
                f"{len(values)} fields where the header names {len(header)}",
            )
            continue
        yield start, dict(zip(header, values, strict=True))


def _jsonl_records(lines: _CountingLines) -> Iterator[tuple[int, dict[str, Any]] | RowError]:
    for text in lines:
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            yield RowError(lines.line, None, RowErrorCode.MALFORMED_RECORD.value, str(exc))
            continue
        if not isinstance(record, dict):
            yield RowError(
                lines.line, None, RowErrorCode.MALFORMED_RECORD.value, "a line must be an object"
            )
            continue
        yield lines.line, {str(key).lower(): value for key, value in record.items()}


def read_items(
    stream: IO[bytes],
    kind: ImportKind,
    file_format: FileFormat,
    on_bytes: Callable[[int], None] = lambda _: None,
) -> Iterator[Item | RowError]:
    """The file's items in file order, and a RowError for each record that cannot be read."""
    lines = _CountingLines(stream, on_bytes)
    records = _csv_records(lines, kind) if file_format is FileFormat.CSV else _jsonl_records(lines)
    pending: Item | None = None
    pending_key = ""
    for record in records:
        if isinstance(record, RowError):
            # Reported in line order: the item before it first.
            if pending is not None:
                yield pending
                pending = None
            yield record
            continue
        line, values = record
        key = record_key(kind, values)
        if pending is not None and key and key == pending_key:
            pending.records.append(values)
            continue
        if pending is not None:
            yield pending
        pending, pending_key = Item(line, [values]), key
    if pending is not None:
        yield pending
