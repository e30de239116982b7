"""`queue_factory`: a fresh queue on each backend (a LocalStore folder, or a fresh pair
of repos on the shared Hub emulator), so every queue test runs against both."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from queue_helpers import OWNER, TOKEN, QueueEnv, make_config


def new_env(backend: str, root: Path, emulator: Any, **sections: dict[str, Any]) -> QueueEnv:
    config = make_config(root, **sections)
    if backend == "local":
        from heldout.queue.local_store import LocalStore

        return QueueEnv(
            backend,
            LocalStore(root / "queue", durable=False),
            LocalStore(root / "results", durable=False),
            config,
            root,
        )
    from heldout.queue.hub_store import HubStore

    name = uuid.uuid4().hex[:10]
    queue_repo, results_repo = f"{OWNER}/queue-{name}", f"{OWNER}/results-{name}"
    options = {"token": TOKEN, "endpoint": emulator.url, "retry_seconds": 20.0}
    store = HubStore.create(queue_repo, private=True, **options)
    results = HubStore.create(results_repo, private=False, **options)
    return QueueEnv(backend, store, results, config, root, (queue_repo, results_repo))


@pytest.fixture(params=["local", "hub"])
def queue_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., QueueEnv]:
    """`queue_factory(review={...}, limits={...})` -> a `QueueEnv` on fresh stores."""
    backend = request.param
    emulator = request.getfixturevalue("emulator") if backend == "hub" else None
    made = 0

    def make(**sections: dict[str, Any]) -> QueueEnv:
        nonlocal made
        made += 1
        return new_env(backend, tmp_path / f"q{made}", emulator, **sections)

    return make


@pytest.fixture()
def env(queue_factory: Callable[..., QueueEnv]) -> QueueEnv:
    return queue_factory()
