"""A Hub webhook wakes an idle worker at once; a call without the right secret is refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from worker_helpers import wait_for

from heldout.evaluator.webhook import WebhookServer, webhook_secret
from heldout.evaluator.worker import Worker
from heldout.queue.status import JobStatus

SECRET = "s3cret-for-tests"


def payload(repo: str, new_sha: str = "b" * 40, repo_type: str = "dataset") -> dict:
    """The shape of a Hub webhook (huggingface_hub's WebhookPayload, version 3)."""
    return {
        "event": {"action": "update", "scope": "repo.content"},
        "repo": {
            "type": repo_type,
            "name": repo,
            "id": "6530000000000000000000aa",
            "private": True,
            "headSha": new_sha,
            "owner": {"id": "6530000000000000000000bb"},
            "url": {"web": f"https://huggingface.co/datasets/{repo}", "api": "https://x/api"},
        },
        "updatedRefs": [{"ref": "refs/heads/main", "oldSha": "a" * 40, "newSha": new_sha}],
        "webhook": {"id": "6530000000000000000000cc", "version": 3},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[WebhookServer, list[str | None]]]:
    """One server for the module: gradio takes seconds to start."""
    calls: list[str | None] = []

    def on_change(sha: str | None) -> None:
        calls.append(sha)
        for wake in WAKE:
            wake()

    hook = WebhookServer(SECRET, "org/queue", on_change, host="127.0.0.1", port=free_port())
    hook.start()
    yield hook, calls
    hook.stop()


WAKE: list = []  # workers the module's server wakes


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"X-Webhook-Secret": "wrong"}, 403), ({"X-Webhook-Secret": SECRET}, 200)],
)
def test_the_secret_is_checked(server, headers: dict, status: int) -> None:
    hook, calls = server
    before = len(calls)
    reply = httpx.post(hook.url, json=payload("org/queue", "c" * 40), headers=headers, timeout=10)
    assert reply.status_code == status
    assert len(calls) == before + (status == 200)
    if status == 200:
        assert reply.json() == {"woken": True} and calls[-1] == "c" * 40


def test_a_change_to_another_repo_wakes_nobody(server) -> None:
    hook, calls = server
    before = len(calls)
    for body in (payload("org/results"), payload("org/queue", repo_type="model")):
        reply = httpx.post(hook.url, json=body, headers={"X-Webhook-Secret": SECRET}, timeout=10)
        assert reply.status_code == 200 and reply.json()["woken"] is False
    assert len(calls) == before


def test_the_secret_comes_from_the_named_environment_variable(make_bench, monkeypatch) -> None:
    bench = make_bench(evaluator={"webhook_secret_env": "HELDOUT_HOOK"})
    monkeypatch.delenv("HELDOUT_HOOK", raising=False)
    assert webhook_secret(bench.config) is None  # named but unset: no server
    monkeypatch.setenv("HELDOUT_HOOK", SECRET)
    assert webhook_secret(bench.config) == SECRET
    assert webhook_secret(make_bench().config) is None  # not named: no server
    with pytest.raises(ValueError):
        WebhookServer("", None, lambda sha: None)


def test_a_webhook_wakes_a_worker_polling_once_a_minute(make_bench, server) -> None:
    hook, _ = server
    bench = make_bench(evaluator={"poll_seconds": 60.0})
    worker = Worker(bench.queue(), bench.config, worker_id="hooked")
    thread = threading.Thread(target=worker.run)
    thread.start()
    WAKE.append(worker.wake)
    try:
        wait_for(lambda: worker.stats["polls"] >= 1)  # started, and now asleep for a minute
        (job,) = bench.submit(1)
        started = time.monotonic()
        reply = httpx.post(
            hook.url, json=payload("org/queue"), headers={"X-Webhook-Secret": SECRET}, timeout=10
        )
        assert reply.status_code == 200
        q = bench.queue()
        wait_for(lambda: q.get(job).status is JobStatus.FINISHED, timeout=15)
        assert time.monotonic() - started < 15  # not the 60 s poll
    finally:
        WAKE.clear()
        worker.request_stop()
        thread.join(timeout=15)
    assert not thread.is_alive()
