"""Bulk operation files (app/domain/bulk.py): CSV and JSON Lines read into the same rows, and
JSON Lines records that cannot be used reported by their line numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.domain.bulk import BulkKind, BulkRow, check_header, count_rows, read_rows
from app.domain.errors import DomainError
from app.domain.imports import RowError

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "import" / "bulk"
SAMPLE_OF = {
    BulkKind.ADJUST_POINTS: "adjust-points",
    BulkKind.ASSIGN_TIER: "assign-tier",
    BulkKind.ENROLL_MEMBERS: "enroll",
    BulkKind.ISSUE_REWARD: "issue-reward",
}


def rows_of(kind: BulkKind, content: str) -> list[BulkRow | list[RowError]]:
    check_header(kind, content)
    return list(read_rows(kind, content))


@pytest.mark.parametrize("kind", list(BulkKind))
def test_each_kinds_samples_read_into_the_same_rows_in_both_formats(kind: BulkKind) -> None:
    csv_content = (SAMPLES / f"{SAMPLE_OF[kind]}.csv").read_text(encoding="utf-8")
    jsonl_content = (SAMPLES / f"{SAMPLE_OF[kind]}.jsonl").read_text(encoding="utf-8")
    from_csv = rows_of(kind, csv_content)
    from_jsonl = rows_of(kind, jsonl_content)
    assert all(isinstance(row, BulkRow) for row in from_csv + from_jsonl)
    assert len(from_csv) == count_rows(csv_content) == count_rows(jsonl_content) >= 2
    # The CSV's header is its line 1: its records are one line further down.
    assert [replace(row, line=row.line - 1) for row in from_csv if isinstance(row, BulkRow)] == (
        from_jsonl
    )


def test_json_lines_records_that_cannot_be_used_are_reported_by_their_line() -> None:
    content = (
        '{"customer_id": "a", "points": 5}\n'
        "\n"
        '{"customer_id": "b", "points": "7"}\n'
        "not json\n"
        '["a list"]\n'
        '{"customer_id": "c", "points": 1.5}\n'
        '{"customer_id": "d", "colour": "red"}\n'
        '{"customer_id": null, "points": 3}\n'
        '{"customer_id": 42, "points": -2}\n'
    )
    read = rows_of(BulkKind.ADJUST_POINTS, content)
    assert read[0] == BulkRow(1, "a", 5)
    assert read[1] == BulkRow(3, "b", 7)
    failed = [
        [(e.line, e.field, e.code) for e in errors]
        for errors in read[2:-1]
        if isinstance(errors, list)
    ]
    assert failed == [
        [(4, None, "MALFORMED_RECORD")],
        [(5, None, "MALFORMED_RECORD")],
        [(6, "points", "INVALID_VALUE")],
        [(7, "colour", "MALFORMED_RECORD")],
        [(8, "customer_id", "REQUIRED")],
    ]
    assert read[-1] == BulkRow(9, "42", -2)
    assert count_rows(content) == 8


def test_a_json_lines_file_whose_first_record_is_unusable_is_refused_whole() -> None:
    with pytest.raises(DomainError, match="unknown key"):
        check_header(BulkKind.ASSIGN_TIER, '{"customer": "a"}\n')
    with pytest.raises(DomainError, match="not JSON"):
        check_header(BulkKind.ASSIGN_TIER, '{"customer_id": \n')


def test_json_lines_nested_deeper_than_the_parser_goes_is_malformed_not_a_crash() -> None:
    nested = '{"customer_id": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(DomainError, match="not JSON"):
        check_header(BulkKind.ADJUST_POINTS, nested + "\n")
    read = rows_of(BulkKind.ADJUST_POINTS, '{"customer_id": "a", "points": 5}\n' + nested + "\n")
    assert read[0] == BulkRow(1, "a", 5)
    assert isinstance(read[1], list)
    assert [(e.line, e.field, e.code) for e in read[1]] == [(2, None, "MALFORMED_RECORD")]


def test_a_json_lines_file_needs_the_keys_a_csv_file_needs_as_columns() -> None:
    with pytest.raises(DomainError, match="missing key customer_id"):
        check_header(BulkKind.ADJUST_POINTS, '{"points": 5}\n')
    with pytest.raises(DomainError, match="customer_id or an email key"):
        check_header(BulkKind.ENROLL_MEMBERS, '{"name": "Ann"}\n')
    assert check_header(BulkKind.ENROLL_MEMBERS, '{"email": "a@example.org"}\n') == ["email"]
