"""How a job reports its progress: the CLI draws a bar, the in-process runner logs."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None:
        """The amount of work found due (lots, members or programs, per job)."""

    def advance(self, done: int) -> None: ...


class SilentProgress:
    def start(self, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass
