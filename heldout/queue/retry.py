"""When and how long heldout retries a Hub call.

The Hub answers 429 when a quota is spent, 5xx when it is struggling, and the network
drops connections. Those are worth waiting out; a 412 (someone else committed first)
or a 403 is not, and retrying it blindly would hide a real answer. The budget is in
seconds slept plus seconds spent, so a test with a fake `sleep` still ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx2
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from heldout.errors import HeldoutError, TransientError

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = (
    httpx2.TimeoutException,
    httpx2.NetworkError,
    httpx2.RemoteProtocolError,
    ConnectionError,
    TimeoutError,
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from: the client wraps network errors in others."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error, if a reply came back at all."""
    for error in causes(exc):
        status = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def is_transient(exc: BaseException) -> bool:
    """True for 408, 429, 5xx, timeouts and dropped connections; never for our own errors."""
    for error in causes(exc):
        if isinstance(error, HeldoutError):
            return False
        status = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(status, int):
            return status in RETRY_STATUSES
        if isinstance(error, _NETWORK_ERRORS):
            return True
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`Retry-After` in seconds), if it did."""
    for error in causes(exc):
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None) if response is not None else None
        value = headers.get("Retry-After") if headers is not None else None
        if value is not None and str(value).strip().isdigit():
            return float(str(value).strip())
    return None


def describe(exc: BaseException) -> str:
    """A short name for an error, safe to show: no URL, no header, no token."""
    status = http_status(exc)
    return f"HTTP {status}" if status is not None else type(exc).__name__


class _WaitRetryAfter(wait_base):
    """Honour `Retry-After` when given; otherwise jittered exponential backoff."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = retry_after(error) if error is not None else None
        return asked if asked is not None else self.fallback(retry_state)


class _StopWhenBudgetSpent(stop_base):
    """Stop when the next sleep would take the time slept or spent past the budget."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        slept = retry_state.idle_for + retry_state.upcoming_sleep
        spent = retry_state.seconds_since_start or 0.0
        return slept > self.budget or spent + retry_state.upcoming_sleep > self.budget


@dataclass(frozen=True)
class RetryPolicy:
    """Retry transient failures within `budget` seconds; `sleep` is injectable for tests."""

    budget: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    initial: float = 0.5
    maximum: float = 8.0

    def run(self, attempt: Callable[[], T], what: str) -> T:
        """Call `attempt` until it succeeds, fails for good, or the budget runs out."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            wait=_WaitRetryAfter(
                tenacity.wait_random_exponential(multiplier=self.initial, max=self.maximum)
            ),
            stop=_StopWhenBudgetSpent(self.budget),
            sleep=self.sleep,
            reraise=False,
        )
        try:
            return retrying(attempt)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            assert last is not None
            raise TransientError(self._give_up_message(what, exc.last_attempt, last)) from last

    def _give_up_message(
        self, what: str, last_attempt: tenacity.Future, error: BaseException
    ) -> str:
        asked = retry_after(error)
        wait = f"; the Hub asked to wait {asked:.0f} s more" if asked is not None else ""
        return (
            f"{what} kept failing ({describe(error)}) after {last_attempt.attempt_number}"
            f" attempts; gave up at the retry budget of {self.budget:.0f} s{wait}"
        )
