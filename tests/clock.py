"""A clock for one module under test, instead of patching `time.time` for the whole process.

    clock = FrozenClock.install(monkeypatch, sessions)   # sessions.time.time() is now the clock
    clock.advance(61)

Only the module given sees it: other threads (the live server, hypothesis, urllib3) and
other modules keep the real time.
"""

from __future__ import annotations

import time as real_time
from types import ModuleType
from typing import Any


class FrozenClock:
    """Stands in for the `time` module inside one module: time() is frozen until advanced."""

    def __init__(self, now: float | None = None) -> None:
        self.now = real_time.time() if now is None else now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> Any:  # monotonic, sleep, … stay real
        return getattr(real_time, name)

    @classmethod
    def install(cls, monkeypatch: Any, module: ModuleType, now: float | None = None) -> FrozenClock:
        clock = cls(now)
        monkeypatch.setattr(module, "time", clock)
        return clock
