"""A benchmark folder written by `heldout init`, shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from heldout.scaffold import BenchmarkFolder, init_benchmark


@pytest.fixture()
def bench(tmp_path: Path) -> BenchmarkFolder:
    return init_benchmark(tmp_path / "bench", reviewers=("rita",), n_items=200)
