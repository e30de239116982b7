"""One rate governor for the whole process: what the Hub allows, what we spent, who waits.

The Hub limits each token to about 1000 API calls and 5000 downloads (resolves) per 5
minutes, and each repo to about 128 commits per hour; past a limit it answers 429 with
`Retry-After`. A process may run many threads (a worker's loop, its heartbeat, a
board's handlers), and each of them retrying on its own would hammer a spent quota
(issue 10 measured about 30 requests a second). So:

- every Hub request of the process is counted here (by the shared HTTP client's hooks,
  see `hub_client`): API calls and downloads per token in a sliding 5-minute window,
  commits per repo in a sliding hour. `snapshot()` and `Budget.describe()` make the
  budget visible to logs and `heldout queue stats`;
- a 429 blocks that repo's reads or commits for everyone in the process until its
  `Retry-After` has passed. One thread waits it out, then sends one probe; the others
  wait for the probe's outcome instead of sending their own. A success lifts the
  block; another 429 starts a new one. So at most one request per `Retry-After` per
  repo reaches a spent quota;
- a caller whose retry budget is shorter than the wait is told at once
  (`TransientError`), without a request.

The governor never refuses a request on its own count: the Hub's own accounting is
shared with other processes and is the one that counts. The limits here are for
display, and for callers (the worker's poll) that want to slow down before a 429.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from heldout.errors import TransientError

Kind = Literal["api", "download", "commit"]
Group = Literal["read", "commit"]

API_WINDOW = 300.0
COMMIT_WINDOW = 3600.0
DEFAULT_RETRY_AFTER = 5.0  # a 429 without Retry-After
PROBE_PATIENCE = 5.0  # how often a waiter re-checks while a probe is out


@dataclass(frozen=True)
class Limits:
    """The Hub's free tier by default; `[storage]` in heldout.toml can change them."""

    api_calls_5min: int = 1000
    downloads_5min: int = 5000
    commits_hour: int = 128

    def __post_init__(self) -> None:
        for name in ("api_calls_5min", "downloads_5min", "commits_hour"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number")


@dataclass(frozen=True)
class Budget:
    """What the process has spent of the Hub's limits, at one moment."""

    api_calls_5min: int
    downloads_5min: int
    api_limit_5min: int
    downloads_limit_5min: int
    commits_last_hour: dict[str, int]
    commits_limit_hour: int
    blocked_until: dict[str, float]  # repo id -> epoch seconds, while a 429 is in force

    def __post_init__(self) -> None:
        counts = (self.api_calls_5min, self.downloads_5min, *self.commits_last_hour.values())
        if any(n < 0 for n in counts):
            raise ValueError("a request count cannot be negative")
        if min(self.api_limit_5min, self.downloads_limit_5min, self.commits_limit_hour) < 1:
            raise ValueError("a limit must be positive")

    def describe(self, now: float | None = None) -> str:
        """One line for logs, e.g. 'API 132/1000 per 5 min, downloads 40/5000, commits
        owner/q 17/128 per hour'."""
        now = time.time() if now is None else now
        commits = ", ".join(
            f"{repo} {n}/{self.commits_limit_hour}"
            for repo, n in sorted(self.commits_last_hour.items())
        )
        line = (
            f"API {self.api_calls_5min}/{self.api_limit_5min} per 5 min, "
            f"downloads {self.downloads_5min}/{self.downloads_limit_5min}, "
            f"commits {commits or 'none'} per hour"
        )
        for repo, until in sorted(self.blocked_until.items()):
            line += f"; {repo} held by the Hub (429) for {max(0.0, until - now):.0f} s more"
        return line


@dataclass
class _Block:
    until: float
    sleeper: bool = False  # a thread is waiting it out for everyone
    probing: bool = False  # a thread's request is testing whether it has passed


@dataclass(frozen=True)
class Ticket:
    """Leave to send one attempt; hand it back to `settle` with the outcome."""

    repo: str
    group: Group
    probe: bool = False


@dataclass
class _Window:
    span: float
    times: deque[float] = field(default_factory=deque)

    def add(self, now: float) -> None:
        self.times.append(now)

    def count(self, now: float) -> int:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        return len(self.times)


class Governor:
    """Thread-safe; one per process (`governor()`), injectable clock for tests."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.time):
        self.limits = limits or Limits()
        self._clock = clock
        self._cond = threading.Condition()
        self._api: dict[str, _Window] = {}
        self._downloads: dict[str, _Window] = {}
        self._commits: dict[str, _Window] = {}
        self._blocks: dict[tuple[str, Group], _Block] = {}

    def configure(self, limits: Limits) -> None:
        with self._cond:
            self.limits = limits

    # -- counting (called by the HTTP client's hooks) ----------------------------------

    def count(self, kind: Kind, token: str | None, repo: str | None = None) -> None:
        """One request sent (API call or download), or one commit made on `repo`."""
        now = self._clock()
        with self._cond:
            if kind == "commit":
                if repo is not None:
                    self._commits.setdefault(repo, _Window(COMMIT_WINDOW)).add(now)
                return
            windows = self._api if kind == "api" else self._downloads
            windows.setdefault(token_key(token), _Window(API_WINDOW)).add(now)

    def snapshot(self, token: str | None = None) -> Budget:
        """The budget of `token` (by default, of the token that has spent the most)."""
        now = self._clock()
        with self._cond:
            if token is not None:
                key = token_key(token)
                api = self._api[key].count(now) if key in self._api else 0
                downloads = self._downloads[key].count(now) if key in self._downloads else 0
            else:
                api = max((w.count(now) for w in self._api.values()), default=0)
                downloads = max((w.count(now) for w in self._downloads.values()), default=0)
            commits = {repo: w.count(now) for repo, w in self._commits.items()}
            blocked: dict[str, float] = {}
            for (repo, _), block in self._blocks.items():
                blocked[repo] = max(blocked.get(repo, 0.0), block.until)
            return Budget(
                api_calls_5min=api,
                downloads_5min=downloads,
                api_limit_5min=self.limits.api_calls_5min,
                downloads_limit_5min=self.limits.downloads_5min,
                commits_last_hour={repo: n for repo, n in commits.items() if n},
                commits_limit_hour=self.limits.commits_hour,
                blocked_until=blocked,
            )

    # -- waiting out a 429 together -------------------------------------------------------

    def admit(
        self, repo: str, group: Group, *, max_wait: float, sleep: Callable[[float], None], what: str
    ) -> Ticket:
        """Wait until an attempt on `repo` may be sent. While a 429 is in force, one
        thread sleeps it out (with its own `sleep`) and then probes; the others wait
        for the probe's outcome. A wait longer than `max_wait` raises `TransientError`."""
        key = (repo, group)
        with self._cond:
            while True:
                block = self._blocks.get(key)
                if block is None:
                    return Ticket(repo, group)
                wait = block.until - self._clock()
                if wait > max_wait:
                    raise TransientError(
                        f"{what}: the Hub asked to wait {wait:.0f} s more (HTTP 429); gave up"
                        f" at the retry budget of {max_wait:.0f} s"
                    )
                if block.probing or block.sleeper:
                    self._cond.wait(timeout=min(PROBE_PATIENCE, max(wait, 0.0)) or PROBE_PATIENCE)
                    continue
                if wait > 0:
                    block.sleeper = True
                    self._cond.release()
                    try:
                        sleep(wait)
                    finally:
                        self._cond.acquire()
                        block.sleeper = False
                    if self._blocks.get(key) is not block:
                        continue  # settled meanwhile by a request already in flight
                block.probing = True
                return Ticket(repo, group, probe=True)

    def settle(self, ticket: Ticket, status: int | None, retry_after: float | None) -> None:
        """The outcome of an admitted attempt: a 429 (re)starts the wait; any other HTTP
        answer lifts it; no answer at all lets another thread probe."""
        key = (ticket.repo, ticket.group)
        with self._cond:
            block = self._blocks.get(key)
            if status == 429:
                wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
                until = self._clock() + wait
                if block is None:
                    self._blocks[key] = _Block(until)
                elif ticket.probe:  # the probe says: not yet
                    block.until, block.probing = until, False
                else:  # a request sent before the block began; whoever waits keeps waiting
                    block.until = max(block.until, until)
            elif status is not None:
                self._blocks.pop(key, None)
            elif ticket.probe and block is not None:
                block.probing = False
            self._cond.notify_all()


def token_key(token: str | None) -> str:
    """A token's short fingerprint: counts are kept per token, the token itself never."""
    if not token:
        return "anonymous"
    return hashlib.sha256(token.encode()).hexdigest()[:12]


_governor = Governor()
_lock = threading.Lock()


def governor() -> Governor:
    """The process-wide governor."""
    return _governor


def reset_governor(
    limits: Limits | None = None, clock: Callable[[], float] = time.time
) -> Governor:
    """A fresh process-wide governor (for tests), keeping the configured limits by default."""
    global _governor
    with _lock:
        _governor = Governor(limits or _governor.limits, clock=clock)
        return _governor
