"""Competition tests: each builds its own queue and results repos on the shared emulator,
with a clock the test sets (phases are never tested by sleeping).

The app tests share one leaderboard process whose queue and results live on a Hub
emulator of their own (which is also its OpenID provider), so the results repo and its
history are read back with the real huggingface_hub client.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))  # lb_support

from app_support import Arena, start_arena  # noqa: E402


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    with start_arena(tmp_path_factory.mktemp("arena")) as running:
        yield running


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots for people to look at; gitignored."""
    folder = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
