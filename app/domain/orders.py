"""What an order says of where it was placed: the channel and, in a shop, the location."""

from __future__ import annotations

from enum import StrEnum

STORE_LOCATION_MAX = 128


class OrderChannel(StrEnum):
    WEB = "WEB"
    APP = "APP"
    STORE = "STORE"
    MARKETPLACE = "MARKETPLACE"
