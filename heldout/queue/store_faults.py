"""Misbehaviour on purpose for a `LocalStore`, as the Hub emulator's faults are for `HubStore`.

Tests turn these on to prove that the store's guarantees hold when calls fail:

- a *fault* fails a call before anything happens, as a disk or lock hiccup would;
- a *lost reply* lets a commit pass its commit point (`HEAD` replaced), then fails the
  call as if its answer never arrived, the way the emulator applies a commit and
  answers 500.

Both raise `InjectedStoreFault`, a `TimeoutError`: the caller cannot tell whether the
call did anything, which is exactly the case a store must get right. The fields are
read live on every call, so a test can change them on a running store.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


class InjectedStoreFault(TimeoutError):
    """A call failed on purpose; whether it had an effect is unknown to the caller."""


@dataclass
class StoreFaults:
    """Live fault rates for one `LocalStore` (fractions between 0 and 1)."""

    fault_rate: float = 0.0
    lost_reply_rate: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for name in ("fault_rate", "lost_reply_rate"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        self._rng = random.Random(self.seed)

    def _hit(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def before(self, what: str) -> None:
        """Maybe fail `what` before it does anything."""
        if self._hit(self.fault_rate):
            raise InjectedStoreFault(f"{what}: injected fault")

    def after_commit_point(self) -> None:
        """Maybe lose the reply of a commit that has landed."""
        if self._hit(self.lost_reply_rate):
            raise InjectedStoreFault("commit: injected lost reply (the commit landed)")
