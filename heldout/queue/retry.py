"""heldout's one retry discipline: what is retried, how long, and by whom.

Two kinds of failure are worth another try, each in exactly one place:

- a *transient* failure of one store call (429, 5xx, a timeout, a dropped
  connection): `RetryPolicy.run`, inside the store, within a budget in seconds. The
  budget counts seconds slept plus seconds spent, so a test with a fake `sleep` still
  ends. A `Retry-After` is honoured; with a governor (HubStore) the governor does the
  waiting, once for the whole process, and the policy only checks the budget.
- a lost compare-and-swap race (`Conflict`): `retry_on_conflict`, around a whole
  read-plan-commit transaction, which re-reads and re-plans each time.

Nothing else loops. An error whose budget is spent is a `TransientError`; it is a
`HeldoutError`, so `is_transient` is False for it and no outer loop retries it again.
A 412 or a 403 is never retried blindly: that would hide a real answer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import httpx2
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from heldout.errors import Conflict, HeldoutError, StoreError, TransientError

T = TypeVar("T")
log = logging.getLogger("heldout.store")

CONFLICT_ATTEMPTS = 60

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
    """Honour `Retry-After` when given (0 when a governor waits instead); otherwise
    jittered exponential backoff."""

    def __init__(self, fallback: wait_base, honour: bool) -> None:
        self.fallback = fallback
        self.honour = honour

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = retry_after(error) if error is not None else None
        if asked is None:
            return self.fallback(retry_state)
        return asked if self.honour else 0.0


class Allowance:
    """One call's retry budget: every second slept for it, here or at the governor."""

    def __init__(self, budget: float, sleep: Callable[[float], None]) -> None:
        self.budget = budget
        self.slept = 0.0
        self._sleep = sleep

    def sleep(self, seconds: float) -> None:
        if seconds > 0:  # a zero wait is the governor's turn to wait: nothing to sleep
            self.slept += seconds
            self._sleep(seconds)

    def left(self) -> float:
        return max(0.0, self.budget - self.slept)


class _StopWhenBudgetSpent(stop_base):
    """Stop when the next wait (slept here or at the governor) would pass the budget."""

    def __init__(self, allowance: Allowance) -> None:
        self.allowance = allowance

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        upcoming = max(retry_state.upcoming_sleep, (retry_after(error) if error else None) or 0)
        budget = self.allowance.budget
        spent = retry_state.seconds_since_start or 0.0
        return self.allowance.slept + upcoming > budget or spent + upcoming > budget


@dataclass(frozen=True)
class RetryPolicy:
    """Retry transient failures within `budget` seconds; `sleep` is injectable for tests."""

    budget: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    initial: float = 0.5
    maximum: float = 8.0
    retry_after_waits: bool = True
    """False when a governor waits out `Retry-After` before the next attempt instead."""

    def run(self, attempt: Callable[[], T], what: str) -> T:
        """Call `attempt` until it succeeds, fails for good, or the budget runs out."""
        return self.run_with_allowance(lambda _: attempt(), what)

    def run_with_allowance(self, attempt: Callable[[Allowance], T], what: str) -> T:
        """Like `run`; each attempt gets the call's `Allowance`, to wait within it."""
        allowance = Allowance(self.budget, self.sleep)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            wait=_WaitRetryAfter(
                tenacity.wait_random_exponential(multiplier=self.initial, max=self.maximum),
                honour=self.retry_after_waits,
            ),
            stop=_StopWhenBudgetSpent(allowance),
            sleep=allowance.sleep,
            before_sleep=lambda state: _log_retry(what, state),
            reraise=False,
        )
        try:
            return retrying(lambda: attempt(allowance))
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


def _log_retry(what: str, state: tenacity.RetryCallState) -> None:
    """One warning per retry, with the server's own words (never a URL or a header)."""
    error = state.outcome.exception() if state.outcome is not None else None
    if error is None:
        return
    log.warning(
        "%s failed (%s%s); trying again (attempt %d)",
        what,
        describe(error),
        _server_says(error),
        state.attempt_number + 1,
    )


def _server_says(exc: BaseException) -> str:
    for error in causes(exc):
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
        said = headers.get("X-Error-Message") if headers is not None else None
        if said:
            return f": {str(said)[:200]}"
    return ""


class WaitForWindow(wait_base):
    """Full jitter, scaled to how long an attempt takes: the window in which another
    writer's commit makes ours lose. Racers that lost together spread over a few such
    windows instead of colliding again in lockstep; on a fast local store that is
    milliseconds, on the Hub a second or so."""

    def __init__(self, least: float = 0.02, most: float = 5.0) -> None:
        self.least, self.most = least, most

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        n = retry_state.attempt_number
        spent = (retry_state.outcome_timestamp or time.monotonic()) - retry_state.start_time
        window = max(self.least, (spent - retry_state.idle_for) / n)
        return random.uniform(0, min(self.most, window * 2**n))


def retry_on_conflict(
    attempt: Callable[[], T],
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = CONFLICT_ATTEMPTS,
) -> T:
    """Call `attempt` (a whole read-plan-commit) until it does not lose a CAS race.

    `WaitForWindow` keeps racing writers from colliding again in lockstep. Only `Conflict`
    is retried here: a transient failure was already retried inside the store, and a
    `TransientError` means its budget is spent."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Conflict),
        wait=WaitForWindow(),
        stop=tenacity.stop_after_attempt(attempts),
        sleep=sleep,
        reraise=False,
    )
    try:
        return retrying(attempt)
    except tenacity.RetryError as exc:
        raise StoreError(f"the repo was too busy to {what}; please try again") from exc
