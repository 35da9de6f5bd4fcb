"""Fixtures of the engagement tests: the API client on a manual clock (months pass in tests)."""

from __future__ import annotations

from tests.jobs.helpers import api, clock

__all__ = ["api", "clock"]
