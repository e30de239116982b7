"""Fixtures for the worker tests: `make_bench` gives a fresh benchmark on either backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from worker_helpers import HERE, Bench, write_bench


@pytest.fixture()
def make_bench(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """`make_bench(backend, **sections)` -> a fresh `Bench`; the scorer log is switched on."""
    made = 0

    def make(backend: str = "local", **sections: dict[str, Any]) -> Bench:
        nonlocal made
        made += 1
        emulator = request.getfixturevalue("emulator") if backend == "hub" else None
        bench = write_bench(tmp_path / f"bench{made}", backend, emulator, **sections)
        monkeypatch.setenv("HELDOUT_TEST_SCORER_LOG", str(bench.scorer_log))
        return bench

    monkeypatch.syspath_prepend(str(HERE))
    return make
