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


@pytest.fixture(autouse=True)
def fresh_governor() -> Iterator[object]:
    """Each store test starts with a governor that has seen nothing."""
    from heldout.queue.governor import reset_governor

    yield reset_governor()
    reset_governor()


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
def local_faults() -> object:
    """The live fault settings of the `local_store` (off until a test turns them on)."""
    from heldout.queue.store_faults import StoreFaults

    return StoreFaults()


@pytest.fixture()
def local_store(tmp_path: Path, local_faults: object, sleeps: RecordingSleep) -> Store:
    from heldout.queue.local_store import LocalStore

    return LocalStore(tmp_path / "store", faults=local_faults, sleep=sleeps)


@pytest.fixture()
def hub_without_paths_info_store(hub_factory: Callable[..., Store], faults: object) -> Store:
    """A Hub-compatible server that lacks `paths-info` (issue 13): slower, not broken."""
    faults.paths_info = False  # type: ignore[attr-defined]
    return hub_factory()


@pytest.fixture(params=["local", "hub", "hub_without_paths_info"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """The store under test, one per backend."""
    yield request.getfixturevalue(f"{backend}_store")


@pytest.fixture()
def chaos(backend: str, request: pytest.FixtureRequest) -> Callable[..., None]:
    """Turn on injected faults and lost commit replies for the `store` under test.

    On the Hub they are the emulator's live settings; on a LocalStore, its `StoreFaults`.
    A fault fails a request before anything happens; a lost reply applies the commit,
    then fails the call as if its answer never arrived. Both are undone afterwards.
    """
    target = request.getfixturevalue("local_faults" if backend == "local" else "faults")
    sleeps = request.getfixturevalue("sleeps")

    def turn_on(fault_rate: float = 0.0, lost_reply_rate: float = 0.0) -> None:
        target.fault_rate = fault_rate
        target.lost_reply_rate = lost_reply_rate
        sleeps.nap = 0.05 if fault_rate or lost_reply_rate else 0.0  # a real back-off's window

    return turn_on


@pytest.fixture()
def other_writer(backend: str, store: Store, request: pytest.FixtureRequest) -> Store:
    """A second, fault-free handle on the same repo or folder as `store`."""
    if backend != "local":
        from heldout.queue.hub_store import HubStore

        emulator = request.getfixturevalue("emulator")
        return HubStore(store.repo_id, token=TOKEN, endpoint=emulator.url)  # type: ignore[attr-defined]
    from heldout.queue.local_store import LocalStore

    return LocalStore(store.root)  # type: ignore[attr-defined]
