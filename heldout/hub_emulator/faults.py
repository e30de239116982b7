"""Misbehaviour on purpose: injected errors, lost replies, slow answers and commit quotas.

Each reads the live settings on every call, so a test can turn a fault on or off on a
running server. Faults are drawn from one seeded generator, so a run with a seed is
repeatable when its requests arrive in the same order.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from heldout.hub_emulator.errors import InjectedFault, RateLimited
from heldout.hub_emulator.settings import EmulatorSettings

WINDOW_SECONDS = 3600
INTERNAL_ERROR = "Internal Error - We're working hard to fix this as soon as possible!"


class Faults:
    """Decides, request by request, whether to fail, lose the reply or be slow."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def injected(self) -> InjectedFault | None:
        """A 500, 503 or 429 (with `Retry-After: 1`) for `fault_rate` of requests."""
        rate = self._settings.fault_rate
        if rate <= 0 or self._draw() >= rate:
            return None
        with self._lock:
            status = self._rng.choice((500, 503, 429))
        if status == 429:
            return InjectedFault(429, "Too many requests (injected)", headers={"Retry-After": "1"})
        if status == 503:
            return InjectedFault(503, "Service temporarily unavailable (injected)")
        return InjectedFault(500, INTERNAL_ERROR)

    def delay(self) -> float:
        rate = self._settings.slow_rate
        if rate <= 0 or self._draw() >= rate:
            return 0.0
        return float(self._settings.slow_seconds)

    def lose_reply(self) -> bool:
        rate = self._settings.lost_reply_rate
        return rate > 0 and self._draw() < rate


class CommitQuota:
    """Commits per repo in a rolling hour, as the Hub's limit of about 128.

    Commits are counted whether or not a quota is set, so a quota set later also sees
    the commits made just before. A commit reserves its slot before it is applied and
    gives it back if it fails, so concurrent commits cannot overshoot the quota.
    """

    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._times: dict[tuple[str, str], deque[float]] = {}

    def reserve(self, key: tuple[str, str]) -> float:
        """Take a slot for one commit; raises `RateLimited` with the wait when none is free."""
        now = self._clock()
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            limit = self._settings.commit_quota_per_hour
            if limit is not None and len(times) >= limit:
                wait = times[0] + WINDOW_SECONDS - now if times else WINDOW_SECONDS
                raise RateLimited(
                    "You have exceeded the rate limit for repository commits "
                    f"({limit} per hour). Retry after {max(1, math.ceil(wait))} seconds.",
                    retry_after=max(1, math.ceil(wait)),
                )
            times.append(now)
            return now

    def release(self, key: tuple[str, str], slot: float) -> None:
        """Give back a slot whose commit was refused."""
        with self._lock:
            times = self._times.get(key)
            if times is not None:
                with contextlib.suppress(ValueError):
                    times.remove(slot)
