"""Fixtures for the storage conformance suite: one `store` per backend.

`store` is parametrised over a fresh `LocalStore` in `tmp_path` and a fresh private
repo on the shared Hub emulator, created with the real client. HubStore tests get a
recording `sleep`, so back-off is observed rather than waited for.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_helpers import TOKEN, RecordingSleep, unique_repo

from heldout.queue.store import Store


@pytest.fixture()
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture()
def fast_client_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """huggingface_hub retries preupload and listings itself with real sleeps; skip them."""
    from huggingface_hub.utils import _http

    waited: list[float] = []
    fake_time = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
    )
    fake_time.sleep = waited.append
    monkeypatch.setattr(_http, "time", fake_time)
    return waited


@pytest.fixture()
def hub_factory(
    emulator: object, sleeps: RecordingSleep, fast_client_backoff: list[float]
) -> Callable[..., Store]:
    """Make HubStores on fresh private repos of the shared emulator."""
    from heldout.queue.hub_store import HubStore

    def make(repo_id: str | None = None, **options: object) -> HubStore:
        options.setdefault("sleep", sleeps)
        options.setdefault("endpoint", emulator.url)  # type: ignore[attr-defined]
        return HubStore.create(repo_id or unique_repo(), token=TOKEN, **options)

    return make


@pytest.fixture()
def hub_store(hub_factory: Callable[..., Store]) -> Store:
    return hub_factory()


@pytest.fixture()
def local_store(tmp_path: Path) -> Store:
    from heldout.queue.local_store import LocalStore

    return LocalStore(tmp_path / "store")


@pytest.fixture(params=["local", "hub"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The store under test, one per backend."""
    yield request.getfixturevalue(f"{backend}_store")
