"""Activity records and edges are made once per ledger row and shared (ledger rows never change).

They are keyed by the row's values, not its id: the same id in another database (tests set one
up per test; a server may be pointed at a restored copy) must never give another row's record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.graphql.members.types import _activity_edges
from app.services.members.service import activity_row

ROW = {
    "id": 7,
    "member_id": 3,
    "kind": "EARN_ORDER",
    "points": 40,
    "description": "Order 1001",
    "order_ref": "1001",
    "created_at": "2026-11-02T10:00:00+00:00",
}


def test_a_row_read_again_gives_the_record_and_edge_made_before() -> None:
    record = activity_row(ROW)
    assert record.created_at == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert activity_row(dict(ROW)) is record
    assert _activity_edges.edge(record) is _activity_edges.edge(activity_row(dict(ROW)))


def test_another_row_with_the_same_id_gets_its_own_record_and_edge() -> None:
    record = activity_row(ROW)
    other = activity_row({**ROW, "description": "Order 1002", "order_ref": "1002"})
    assert other is not record
    assert (other.id, other.description, other.order_ref) == (7, "Order 1002", "1002")
    edge = _activity_edges.edge(other)
    assert edge is not _activity_edges.edge(record)
    assert (edge.node.description, edge.node.order_id) == ("Order 1002", "1002")
