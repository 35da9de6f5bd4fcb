"""The committed schema.graphql is what the code serves; regenerate with scripts/export-schema."""

from pathlib import Path

from strawberry.printer import print_schema

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    committed = SCHEMA_FILE.read_text()

    current = print_schema(schema)

    assert committed.strip() == current.strip(), (
        "schema.graphql is out of date: run scripts/export-schema and commit the result"
    )
