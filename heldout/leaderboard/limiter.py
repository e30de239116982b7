"""Per-account allowances over a sliding window, kept in memory.

The board is one process, so a dictionary is enough: refused files and uploads are
counted per signed-in account (never per IP: a Space sees its proxy's), and each
answer says when the next try is allowed. A restart forgets the counts, which only
ever errs towards letting someone in.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Wait:
    """Refused for now: the allowance is used up until `seconds` from now."""

    seconds: float

    def sentence(self) -> str:
        minutes = max(1, round(self.seconds / 60))
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"


class Allowance:
    """At most `limit` units per key in any `window` seconds."""

    def __init__(
        self, limit: float, window: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._used: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.RLock()

    def _recent(self, key: str, now: float) -> deque[tuple[float, float]]:
        used = self._used.get(key)
        if used is None:
            return deque()
        while used and used[0][0] <= now - self.window:
            used.popleft()
        if not used:
            del self._used[key]
        return used

    def check(self, key: str, amount: float = 1.0) -> Wait | None:
        """None if `amount` more fits now; else how long until it would."""
        with self._lock:
            now = self.clock()
            used = self._recent(key, now)
            total = sum(n for _, n in used)
            if total + amount <= self.limit:
                return None
            for at, n in used:  # the wait until enough of the window has passed
                total -= n
                if total + amount <= self.limit:
                    return Wait(at + self.window - now)
            return Wait(self.window)  # more than the whole allowance at once

    def take(self, key: str, amount: float = 1.0) -> Wait | None:
        """Use `amount` if it fits (None), or change nothing and say how long to wait."""
        with self._lock:
            wait = self.check(key, amount)
            if wait is None:
                self._used.setdefault(key, deque()).append((self.clock(), amount))
            return wait

    def add(self, key: str, amount: float = 1.0) -> None:
        """Count `amount` whatever the allowance (for refusals already made)."""
        with self._lock:
            self._used.setdefault(key, deque()).append((self.clock(), amount))
