"""The scoring child: what comes back from it, and the ways it can fail to answer."""

from __future__ import annotations

import os
import threading
import time

import pytest

from heldout.errors import InvalidPredictions, ScorerError
from heldout.evaluator.runner import ScorerTimeout, ScoringCancelled, run_in_child

TRUTH = {"secret": 42.0}  # set before forking: the child sees it without any pickling


def test_the_child_sees_the_parents_memory_and_returns_a_dict() -> None:
    answer = run_in_child(lambda: {"m": TRUTH["secret"], "pid": float(os.getpid())}, timeout=10)
    assert answer["m"] == 42.0
    assert answer["pid"] != os.getpid()  # it ran in another process


def test_a_raising_scorer_gives_its_traceback_for_the_log_only() -> None:
    def bad() -> dict[str, float]:
        raise KeyError("label of ex-00001 is positive")

    with pytest.raises(ScorerError) as caught:
        run_in_child(bad, timeout=10)
    assert str(caught.value) == "the scorer raised KeyError"  # no test-set content
    assert "ex-00001" in caught.value.detail and "Traceback" in caught.value.detail


def test_invalid_predictions_raised_while_scoring_reach_the_submitter() -> None:
    def refuse() -> dict[str, float]:
        raise InvalidPredictions("line 3: the prediction must be a number")

    with pytest.raises(InvalidPredictions, match="line 3: the prediction must be a number"):
        run_in_child(refuse, timeout=10)


def test_a_child_that_dies_is_an_evaluator_error() -> None:
    with pytest.raises(ScorerError, match="died \\(exit code 3\\)"):
        run_in_child(lambda: os._exit(3), timeout=10)


def test_a_hung_child_is_killed_at_the_timeout_and_says_where_it_was() -> None:
    def hang_here() -> dict[str, float]:
        time.sleep(60)
        return {}

    started = time.monotonic()
    with pytest.raises(ScorerTimeout) as caught:
        run_in_child(hang_here, timeout=0.5)
    assert time.monotonic() - started < 5
    assert "in hang_here" in caught.value.detail


def test_cancel_stops_the_child_at_once() -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ScoringCancelled):
        run_in_child(lambda: time.sleep(60) or {}, timeout=60, cancel=cancel)
    assert time.monotonic() - started < 3


def test_a_busy_hub_client_in_another_thread_cannot_hang_the_child(monkeypatch) -> None:
    """huggingface_hub closes its shared client in every forked child; if another thread
    holds the client's lock at that moment, that close blocks forever. Simulated here by a
    client whose close() never returns."""
    from huggingface_hub.utils import _http

    class BusyClient:
        def close(self) -> None:
            threading.Event().wait()  # what a lock held by a thread gone in the child does

    monkeypatch.setattr(_http, "_GLOBAL_CLIENT", BusyClient())
    assert run_in_child(lambda: {"ok": 1.0}, timeout=5) == {"ok": 1.0}
    assert isinstance(_http._GLOBAL_CLIENT, BusyClient)  # the parent's client is back


def test_a_long_lived_child_scores_job_after_job_and_is_replaced_after_a_crash() -> None:
    from heldout.evaluator.runner import ScoringChild

    def score(payload: object) -> dict[str, float]:
        if payload == "crash":
            os._exit(5)
        if payload == "hang":
            time.sleep(60)
        if payload == "raise":
            raise ValueError(f"bad; the secret is {TRUTH['secret']}")
        return {"pid": float(os.getpid()), "secret": TRUTH["secret"], "n": float(payload)}

    child = ScoringChild(score)
    try:
        first, second = (child.run(n, timeout=10) for n in (1, 2))
        assert first["pid"] == second["pid"] != os.getpid()  # one fork for both jobs
        assert (first["secret"], second["n"]) == (42.0, 2.0)
        with pytest.raises(ScorerError) as caught:
            child.run("raise", timeout=10)
        assert str(caught.value) == "the scorer raised ValueError"
        assert child.run(3, timeout=10)["pid"] == first["pid"]  # a scorer error keeps it
        with pytest.raises(ScorerError, match="died \\(exit code 5\\)"):
            child.run("crash", timeout=10)
        after_crash = child.run(4, timeout=10)["pid"]
        assert after_crash != first["pid"]  # a fresh child after the crash
        with pytest.raises(ScorerTimeout):
            child.run("hang", timeout=0.5)
        assert child.run(5, timeout=10)["pid"] not in (first["pid"], after_crash)
        assert child.forks == 3
    finally:
        child.stop()
