"""An order's fingerprint is stored with it and compared when the order is reported again: it
must stay what it was for every order already recorded, however it is computed."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.orders import OrderChannel
from app.services.core import idempotency
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, _fingerprint, _normalised

_BARE = RecordOrderInput(
    program_slug="shop",
    customer_id="c-1",
    order_id="o-1",
    currency="EUR",
    total_minor=2495,
    lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000)],
    placed_at=datetime(2025, 1, 15, 10, 0, tzinfo=UTC),
    shipping_minor=495,
)
_EVERYTHING = replace(
    _BARE,
    total_minor=7000,
    lines=[
        OrderLineInput(sku="SKU-1", quantity=2, unit_price_minor=2000, category="shoes"),
        OrderLineInput(sku="SKU-2", quantity=1, unit_price_minor=3000),
    ],
    shipping_minor=0,
    tax_minor=500,
    discount_minor=500,
    idempotency_key="key-1",
    exchange_rate="1.1",
    paid_with_points_minor=100,
    paid_with_store_credit_minor=200,
    channel=OrderChannel.STORE,
    store_location="Lyon",
)


def _as_first_recorded(data: RecordOrderInput) -> str:
    """The fingerprint as orders were first recorded with it: the whole input deep-copied into
    dicts (dataclasses.asdict), the idempotency key and the later fields at their default left
    out."""
    payload: dict[str, Any] = asdict(data)
    payload.pop("idempotency_key")
    for name in ("paid_with_points_minor", "paid_with_store_credit_minor", "channel"):
        if not payload[name]:
            payload.pop(name)
    if not payload["store_location"]:
        payload.pop("store_location")
    payload["placed_at"] = data.placed_at.isoformat()
    return idempotency.request_fingerprint("recordOrder", payload)


@pytest.mark.parametrize("data", [_BARE, _EVERYTHING], ids=["bare", "every field"])
def test_fingerprint_is_the_one_stored_with_recorded_orders(data: RecordOrderInput) -> None:
    normalised = _normalised(data)
    assert _fingerprint(normalised) == _as_first_recorded(normalised)


def test_fingerprint_tells_orders_apart_by_their_lines() -> None:
    other_category = replace(
        _BARE, lines=[OrderLineInput(sku="SKU-1", quantity=1, unit_price_minor=2000, category="x")]
    )
    assert _fingerprint(_normalised(_BARE)) != _fingerprint(_normalised(other_category))
