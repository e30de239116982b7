"""How a worker's threads tell each other to wake, stop and back off.

One object, owned by the `Worker` and handed to its `Loop`, instead of events both
reach into. Other threads (a webhook, a signal handler, a host app) only call
`wake()` and `request_stop()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from heldout.queue.retry import retry_after


class Control:
    def __init__(
        self,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """`sleep` replaces the idle wait between polls (tests); by default the wait
        ends early on `wake()` or `request_stop()`."""
        self.stop = stop or threading.Event()
        self.cancel = threading.Event()  # set at shutdown: scoring children are killed
        self.halt = threading.Event()  # ends the heartbeat, after the last release
        self._woken = threading.Event()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._commits_paused_until = 0.0  # monotonic; set by a spent commit quota

    # ---- from any thread -----------------------------------------------------------

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll."""
        self._woken.set()

    def request_stop(self) -> None:
        """Stop taking jobs; give back what is not scored. Safe from a signal handler."""
        self.stop.set()
        self._woken.set()

    # ---- the loop's side -----------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    def woken(self) -> bool:
        """Whether `wake()` was called since the last look; clears it."""
        was = self._woken.is_set()
        self._woken.clear()
        return was

    def idle(self, seconds: float) -> None:
        """The wait between polls of an idle queue (replaceable in tests)."""
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self.wait(seconds)

    def wait(self, seconds: float) -> None:
        """Wait for `wake()`, for `request_stop()`, or for `seconds`."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._woken.wait(min(left, 0.25)):
                return

    # ---- commit back-off -------------------------------------------------------------

    def commits_paused(self) -> float:
        """Seconds until a commit may be tried again (0: now)."""
        with self._lock:
            return max(0.0, self._commits_paused_until - time.monotonic())

    def commit_failed(self, exc: BaseException, fallback: float) -> float:
        """After a failed commit: wait what the Hub asked (`Retry-After`), else `fallback`.
        Every commit of this worker waits it out, so the Hub sees one probe per wait."""
        asked = getattr(exc, "retry_after", None) or retry_after(exc)
        wait = asked if asked is not None else fallback
        with self._lock:
            self._commits_paused_until = max(self._commits_paused_until, time.monotonic() + wait)
        return wait
