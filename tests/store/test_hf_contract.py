"""Contracts with huggingface_hub's private or semi-private parts that heldout relies on.

Checked against huggingface_hub 2.4.0 (CHECKED_AGAINST). Each test names the hook, the
heldout module that uses it, and asserts that it still exists and still behaves as
heldout assumes. After an upgrade, a failure here points at the exact hook to re-check.
"""

from __future__ import annotations

import inspect
import os

import httpx2
import huggingface_hub
import pytest
from huggingface_hub import HfApi, set_client_factory
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import (
    _http,
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    paginate,
)
from store_helpers import TOKEN, unique_repo

CHECKED_AGAINST = "2.4.0"


def test_the_installed_version_is_the_one_these_contracts_were_checked_against() -> None:
    assert huggingface_hub.__version__ == CHECKED_AGAINST, (
        f"huggingface_hub {huggingface_hub.__version__} is installed; the hooks below were "
        f"checked against {CHECKED_AGAINST}. Re-run this file, re-read each hook's source, "
        "then update CHECKED_AGAINST."
    )


def test_client_factory_hooks_used_by_hub_client() -> None:
    """heldout.queue.hub_client: `set_client_factory` + `_http.default_client_factory`
    (private), and request event hooks on the httpx2 client they make."""
    assert list(inspect.signature(set_client_factory).parameters) == ["client_factory"]
    client = _http.default_client_factory()
    try:
        assert isinstance(client, httpx2.Client)
        assert isinstance(client.event_hooks["request"], list)
        assert isinstance(client.event_hooks["response"], list)
    finally:
        client.close()


def test_a_replaced_factory_makes_the_shared_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """hub_client installs a factory; `get_session()` must then hand out its client."""
    made: list[httpx2.Client] = []

    def factory() -> httpx2.Client:
        client = _http.default_client_factory()
        made.append(client)
        return client

    before = _http._GLOBAL_CLIENT_FACTORY
    set_client_factory(factory)
    try:
        assert get_session() is made[-1]
    finally:
        set_client_factory(before)


def test_hf_api_sends_an_explicit_timeout_none_that_hub_client_fills_in() -> None:
    """hub_client fills the timeout in a request hook because HfApi passes timeout=None,
    which would override a client default."""
    source = inspect.getsource(HfApi.repo_info)
    assert "timeout" in source


def test_fork_and_lock_hooks_used_by_the_runner() -> None:
    """heldout.evaluator.runner hides `_http._GLOBAL_CLIENT` under `_http._CLIENT_LOCK`
    while forking, because huggingface_hub closes that client in every forked child."""
    assert hasattr(_http, "_GLOBAL_CLIENT")
    assert hasattr(_http._CLIENT_LOCK, "__enter__")
    session = get_session()
    assert _http._GLOBAL_CLIENT is session
    assert "register_at_fork" in inspect.getsource(_http)


def test_client_backoff_sleeps_through_http_time() -> None:
    """tests/store/conftest.py (fast_client_backoff) swaps `_http.time` to skip the
    client's own retry sleeps in preupload and listings."""
    assert _http.time.sleep is not None
    assert "time.sleep(" in inspect.getsource(_http)  # the retry loop behind http_backoff


def test_paginate_is_lazy_so_reconciling_stops_at_the_parent(emulator) -> None:
    """heldout.queue.hub_calls.commits_since: `utils.paginate(path, params, headers)`
    fetches the next page only when iterated past the first."""
    assert list(inspect.signature(paginate).parameters)[:3] == ["path", "params", "headers"]
    api = HfApi(endpoint=emulator.url, token=TOKEN)
    repo = unique_repo()
    api.create_repo(repo, repo_type="dataset", private=True)
    for n in range(60):  # more than one page of 50
        api.upload_file(
            path_or_fileobj=b"%d" % n, path_in_repo="n", repo_id=repo, repo_type="dataset"
        )
    emulator.reset_counters()
    url = f"{emulator.url}/api/datasets/{repo}/commits/main"
    first = next(iter(paginate(url, params={}, headers=build_hf_headers(token=TOKEN))))
    assert first["id"] and "title" in first and "message" in first
    assert emulator.counters() == {"commits": 1}


def test_a_commit_description_comes_back_in_the_history(emulator) -> None:
    """hub_commit finds a landed commit by the nonce in its description."""
    api = HfApi(endpoint=emulator.url, token=TOKEN)
    repo = unique_repo()
    api.create_repo(repo, repo_type="dataset", private=True)
    api.create_commit(
        repo,
        [huggingface_hub.CommitOperationAdd("a", b"1")],
        commit_message="title",
        commit_description="heldout-commit: " + "ab" * 16,
        repo_type="dataset",
    )
    newest = api.list_repo_commits(repo, repo_type="dataset")[0]
    assert "heldout-commit: " + "ab" * 16 in newest.message


def test_raise_for_status_tells_a_missing_file_from_a_missing_endpoint(emulator) -> None:
    """hub_reads: a 404 with `X-Error-Code: EntryNotFound` is a missing file; a 404
    without a code (a server without `paths-info`) stays a plain HTTP error."""
    api = HfApi(endpoint=emulator.url, token=TOKEN)
    repo = unique_repo()
    api.create_repo(repo, repo_type="dataset", private=True)
    headers = build_hf_headers(token=TOKEN)
    missing_file = get_session().get(
        f"{emulator.url}/datasets/{repo}/resolve/main/nope", headers=headers
    )
    with pytest.raises(RemoteEntryNotFoundError):
        hf_raise_for_status(missing_file)
    missing_route = get_session().get(
        f"{emulator.url}/api/datasets/{repo}/no-such-thing/main", headers=headers
    )
    with pytest.raises(HfHubHTTPError) as caught:
        hf_raise_for_status(missing_route)
    assert caught.value.response.status_code == 404
    assert caught.value.response.headers.get("X-Error-Code") is None


def test_repo_file_fields_used_by_hub_reads() -> None:
    fields = (
        {f for f in RepoFile.__dataclass_fields__}
        if hasattr(RepoFile, "__dataclass_fields__")
        else set()
    )
    source = inspect.getsource(RepoFile)
    for name in ("path", "blob_id", "size"):
        assert name in fields or f"self.{name}" in source


def test_hf_hub_offline_is_not_set_here() -> None:
    """The store's reads go to the server; offline mode would turn them into cache misses."""
    assert os.environ.get("HF_HUB_OFFLINE") in (None, "", "0")


def test_heldouts_hooks_are_on_the_shared_session_and_count_requests(emulator) -> None:
    """hub_client's factory reaches every HfApi request: the governor sees it."""
    from heldout.queue.governor import governor, reset_governor
    from heldout.queue.hub_client import ensure_client

    ensure_client()
    hooks = [hook.__name__ for hook in get_session().event_hooks["request"]]
    assert "counted" in hooks and "bound" in hooks
    reset_governor()
    HfApi(endpoint=emulator.url, token=TOKEN).whoami()
    assert governor().snapshot(TOKEN).api_calls_5min == 1


def test_an_error_raised_in_a_response_hook_is_not_retried_by_http_backoff(emulator) -> None:
    """hub_client raises `HubBusy` from a response hook for heldout's requests, so that
    `http_backoff` (which retries only its `retry_on_exceptions` and status codes on
    responses it sees) gives the error straight back."""
    from heldout.queue.hub_client import STORE_HEADER, HubBusy, ensure_client

    ensure_client()
    source = inspect.getsource(_http)
    assert "_DEFAULT_RETRY_ON_EXCEPTIONS" in source
    url = f"{emulator.url}/api/datasets/nobody/none/commits/main"
    settings = emulator.settings
    settings.fault_rate = 1.0
    try:
        emulator.reset_counters()
        with pytest.raises(HubBusy) as caught:
            _http.http_backoff("GET", url, headers={STORE_HEADER: "1"})
        assert caught.value.response.status_code in (429, 500, 503)
        assert sum(emulator.counters().values()) == 1
    finally:
        settings.fault_rate = 0.0
