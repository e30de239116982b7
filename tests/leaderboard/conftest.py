"""One leaderboard for the whole folder: its own emulator (OpenID provider), app and worker.

Starting gradio costs seconds, so the app is shared; tests keep out of each other's way
by signing in as different users. The worker starts only when a test asks for it, so a
test can watch a job wait in PENDING first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lb_support import CLIENT_SECRET, Api, App, Setup, WorkerProcess, write_setup


@pytest.fixture(scope="session")
def oidc() -> Iterator[str]:
    """The Hub emulator as OpenID provider, on a free port."""
    from heldout.hub_emulator import EmulatorServer, EmulatorSettings

    server = EmulatorServer(
        EmulatorSettings(oauth_clients={"heldout-local": CLIENT_SECRET}), port=0
    )
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return write_setup(tmp_path_factory.mktemp("leaderboard"))


@pytest.fixture(scope="session")
def app(setup: Setup, oidc: str) -> Iterator[App]:
    process = App(setup, oidc)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


class LazyWorker:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.process: WorkerProcess | None = None

    def start(self) -> None:
        if self.process is None:
            self.process = WorkerProcess(self.setup)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture(scope="session")
def worker(setup: Setup) -> Iterator[LazyWorker]:
    lazy = LazyWorker(setup)
    try:
        yield lazy
    finally:
        lazy.stop()


@pytest.fixture()
def api(app: App) -> Iterator[Api]:
    client = Api(app.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots for people to look at; gitignored."""
    folder = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
