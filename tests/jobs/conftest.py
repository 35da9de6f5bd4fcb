"""Fixtures of the job tests: the API client and a manual clock shared by services and jobs."""

from __future__ import annotations

from tests.jobs.helpers import api, clock

__all__ = ["api", "clock"]
