"""Helpers for the emulator's own tests: clients, unique repo names, extra servers."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from emulator_helpers import ALICE, BOB
from huggingface_hub import HfApi

from heldout.hub_emulator import EmulatorServer, EmulatorSettings

_names = itertools.count()


@pytest.fixture()
def name() -> Callable[[str], str]:
    """Unique repo names, so tests can share one emulator without seeing each other."""
    run = uuid.uuid4().hex[:8]
    return lambda prefix="repo": f"{prefix}-{run}-{next(_names)}"


@pytest.fixture()
def alice(emulator: EmulatorServer) -> HfApi:
    return HfApi(endpoint=emulator.url, token=ALICE)


@pytest.fixture()
def bob(emulator: EmulatorServer) -> HfApi:
    return HfApi(endpoint=emulator.url, token=BOB)


@pytest.fixture()
def dataset(alice: HfApi, name: Callable[[str], str]) -> str:
    """A fresh public dataset repo owned by alice."""
    repo_id = f"alice/{name('ds')}"
    alice.create_repo(repo_id, repo_type="dataset")
    return repo_id


@pytest.fixture()
def make_server() -> Iterator[Callable[..., EmulatorServer]]:
    """Start extra emulators (own settings, own port); all are stopped after the test."""
    started: list[EmulatorServer] = []

    def make(**options: object) -> EmulatorServer:
        server = EmulatorServer(EmulatorSettings(**options)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture()
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """Raw HTTP to the shared emulator (one client: a new one per request costs ~50 ms)."""
    with httpx.Client(base_url=emulator.url) as client:
        yield client
