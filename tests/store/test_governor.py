"""The process-wide rate governor: counting, one wait per 429 for all threads, one probe."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from store_helpers import TOKEN, increment, write

from heldout.errors import TransientError
from heldout.queue.governor import Budget, Governor, Limits, governor, reset_governor
from heldout.queue.hub_store import HubStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_counts_slide_out_of_their_windows_per_token() -> None:
    clock = Clock()
    gov = Governor(clock=clock)
    for _ in range(3):
        gov.count("api", "hf_a")
    gov.count("download", "hf_a")
    gov.count("api", "hf_b")
    gov.count("commit", "hf_a", "o/q")
    assert gov.snapshot("hf_a").api_calls_5min == 3
    assert gov.snapshot("hf_b").api_calls_5min == 1
    assert gov.snapshot().api_calls_5min == 3  # the busiest token
    assert gov.snapshot().commits_last_hour == {"o/q": 1}
    clock.now += 301
    assert gov.snapshot("hf_a").api_calls_5min == 0
    assert gov.snapshot().commits_last_hour == {"o/q": 1}
    clock.now += 3600
    assert gov.snapshot().commits_last_hour == {}
    assert "hf_a" not in repr(vars(gov))


def test_the_budget_describes_itself_in_one_line() -> None:
    budget = Budget(132, 40, 1000, 5000, {"owner/q": 17}, 128, {"owner/q": 1120.0})
    assert budget.describe(now=1000.0) == (
        "API 132/1000 per 5 min, downloads 40/5000, commits owner/q 17/128 per hour;"
        " owner/q held by the Hub (429) for 120 s more"
    )
    with pytest.raises(ValueError):
        Budget(-1, 0, 1000, 5000, {}, 128, {})
    with pytest.raises(ValueError, match="positive"):
        Limits(api_calls_5min=0)


def test_a_429_is_waited_out_by_one_thread_and_probed_once() -> None:
    """Eight threads meet a 429: one sleeps, one probe goes out, the rest wait for it."""
    clock = Clock()
    gov = Governor(clock=clock)
    sleeping = threading.Semaphore(0)
    sent: list[bool] = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    gov.settle(gov.admit("o/q", "commit", max_wait=60, sleep=sleep, what="x"), 429, 30)

    def attempt(_: int) -> None:
        ticket = gov.admit("o/q", "commit", max_wait=60, sleep=sleep, what="commit")
        sent.append(ticket.probe)
        sleeping.release()
        gov.settle(ticket, 200, None)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(attempt, range(8)))
    assert slept == [30.0]
    assert sent.count(True) == 1  # one probe; the others went after it succeeded
    assert gov.snapshot().blocked_until == {}


def test_a_wait_past_the_callers_budget_fails_at_once_without_a_request() -> None:
    gov = Governor(clock=Clock())
    gov.settle(gov.admit("o/q", "commit", max_wait=60, sleep=print, what="x"), 429, 3600)
    with pytest.raises(TransientError, match="wait 3600 s more.*retry budget of 60 s"):
        gov.admit("o/q", "commit", max_wait=60, sleep=print, what="commit to o/q")
    reads = gov.admit("o/q", "read", max_wait=60, sleep=print, what="read")  # reads go on
    assert not reads.probe
    assert set(gov.snapshot().blocked_until) == {"o/q"}


def test_every_hub_request_of_the_process_is_counted(hub_store: HubStore, emulator) -> None:
    head = write(hub_store, {"a.json": b"1"})
    reset_governor()
    emulator.reset_counters()
    hub_store.head()
    hub_store.list()
    hub_store.read("a.json", head)  # cached: no request
    write(hub_store, {"b.json": b"2"})
    hub_store.read("b.json", head="x") if False else hub_store.read("a.json", hub_store.head())
    seen = emulator.counters()
    budget = governor().snapshot(TOKEN)
    assert budget.downloads_5min == seen.get("resolve", 0)
    assert budget.api_calls_5min == sum(n for k, n in seen.items() if k != "resolve")
    assert budget.commits_last_hour == {hub_store.repo_id: 1}
    assert budget.api_limit_5min == 1000 and budget.commits_limit_hour == 128


def test_a_spent_commit_quota_gets_one_probe_per_retry_after_and_then_counts_once(
    hub_factory: Callable[..., HubStore], faults, emulator
) -> None:
    """Issue 10: four threads, a commit quota that runs out and comes back.

    While it is out, the process waits one `Retry-After` at a time (never two threads
    at once) and sends one probe after each; when it is back, every increment lands
    exactly once."""
    waits: list[float] = []
    sleeping = 0
    most_at_once = 0
    during: dict[str, int] = {}
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        nonlocal sleeping, most_at_once
        with lock:
            sleeping += 1
            most_at_once = max(most_at_once, sleeping)
            waits.append(seconds)
        time.sleep(0.2)  # long enough for every other thread to reach the governor
        with lock:
            sleeping -= 1
            if len(waits) == 3 and faults.commit_quota_per_hour is not None:
                during.update(emulator.counters())
                faults.commit_quota_per_hour = None  # the hour has gone by

    store = hub_factory(sleep=sleep, retry_seconds=100_000)
    write(store, {"counter": b"0"})
    faults.commit_quota_per_hour = 1  # spent by the write above
    emulator.reset_counters()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: increment(store, times=3), range(4)))
    assert store.read("counter") == b"12"
    assert most_at_once == 1
    assert len(waits) >= 3 and all(1000 < w <= 3600 for w in waits[:3])
    # first wave: at most one commit per thread was already on its way; then one per wait
    assert during.get("commit", 0) <= 4 + 2
    assert during.get("preupload", 0) <= 4 + 2
