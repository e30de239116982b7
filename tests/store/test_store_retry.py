"""The retry policy alone: what is retried, how long it waits, and how it gives up."""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

from heldout.errors import Conflict, StoreError, TransientError
from heldout.queue.retry import RetryPolicy, is_transient, retry_after, retry_on_conflict


def http_error(status: int, headers: dict[str, str] | None = None) -> HfHubHTTPError:
    request = httpx2.Request("POST", "http://hub.test/api/datasets/a/b/commit/main")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    return HfHubHTTPError(f"{status} error", response=response)


def failing(*errors: BaseException, result: str = "done"):
    """A call that raises each of `errors` in turn, then returns `result`."""
    remaining = list(errors)
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if remaining:
            raise remaining.pop(0)
        return result

    call.calls = calls  # type: ignore[attr-defined]
    return call


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_transient(status: int) -> None:
    assert is_transient(http_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 422])
def test_client_errors_and_conflicts_are_not(status: int) -> None:
    assert not is_transient(http_error(status))


def test_network_errors_are_transient_even_when_wrapped() -> None:
    assert is_transient(httpx2.ReadTimeout("slow"))
    assert is_transient(httpx2.ConnectError("refused"))
    try:  # hf_hub_download wraps a failed HEAD in LocalEntryNotFoundError
        try:
            raise http_error(503)
        except HfHubHTTPError as cause:
            raise LocalEntryNotFoundError("not in cache") from cause
    except LocalEntryNotFoundError as wrapped:
        assert is_transient(wrapped)
    assert not is_transient(Conflict("lost the race"))
    assert not is_transient(TransientError("already gave up"))


def test_retries_until_success_with_bounded_jittered_waits() -> None:
    sleeps: list[float] = []
    call = failing(http_error(503), httpx2.ReadTimeout("t"), http_error(500))
    assert RetryPolicy(sleep=sleeps.append).run(call, "test call") == "done"
    assert len(sleeps) == 3
    assert all(0 <= s <= 8 for s in sleeps)


def test_retry_after_is_honoured() -> None:
    sleeps: list[float] = []
    call = failing(http_error(429, {"Retry-After": "7"}))
    RetryPolicy(sleep=sleeps.append).run(call, "test call")
    assert sleeps == [7.0]
    assert retry_after(http_error(429, {"Retry-After": "12"})) == 12.0


def test_a_retry_after_beyond_the_budget_gives_up_at_once_and_says_why() -> None:
    sleeps: list[float] = []
    call = failing(http_error(429, {"Retry-After": "3600"}))
    with pytest.raises(TransientError) as caught:
        RetryPolicy(budget=60, sleep=sleeps.append).run(call, "commit to a/b")
    assert sleeps == []
    message = str(caught.value)
    assert "commit to a/b" in message and "HTTP 429" in message
    assert "3600" in message and "60 s" in message


def test_persistent_failure_ends_within_the_budget() -> None:
    sleeps: list[float] = []

    def always_503() -> str:
        raise http_error(503)

    with pytest.raises(TransientError, match="HTTP 503"):
        RetryPolicy(budget=20, sleep=sleeps.append).run(always_503, "read x")
    assert sum(sleeps) <= 20
    assert len(sleeps) >= 3


def test_a_412_is_never_retried() -> None:
    sleeps: list[float] = []
    call = failing(http_error(412))
    with pytest.raises(HfHubHTTPError):
        RetryPolicy(sleep=sleeps.append).run(call, "commit")
    assert sleeps == [] and len(call.calls) == 1  # type: ignore[attr-defined]


def test_a_lost_race_is_retried_with_jitter_until_it_wins() -> None:
    sleeps: list[float] = []
    call = failing(Conflict("a"), Conflict("b"))
    assert retry_on_conflict(call, "move a job", sleep=sleeps.append) == "done"
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)


def test_a_repo_that_stays_busy_ends_in_a_clear_error() -> None:
    def always_conflict() -> str:
        raise Conflict("lost again")

    with pytest.raises(StoreError, match="too busy to move a job"):
        retry_on_conflict(always_conflict, "move a job", sleep=lambda s: None, attempts=5)


def test_a_spent_budget_is_never_retried_again() -> None:
    """One loop per kind of failure: a TransientError already waited out its budget."""
    for loop in (
        lambda call: retry_on_conflict(call, "x", sleep=lambda s: None),
        lambda call: RetryPolicy(sleep=lambda s: None).run(call, "x"),
    ):
        call = failing(TransientError("gave up after 60 s"))
        with pytest.raises(TransientError):
            loop(call)
        assert len(call.calls) == 1  # type: ignore[attr-defined]


def test_with_a_governor_retry_after_is_checked_against_the_budget_but_not_slept() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(budget=60, sleep=sleeps.append, retry_after_waits=False)
    assert policy.run(failing(http_error(429, {"Retry-After": "7"})), "commit") == "done"
    assert sleeps == []
    with pytest.raises(TransientError, match="3600"):
        policy.run(failing(http_error(429, {"Retry-After": "3600"})), "commit")
