"""Routing by raw path: encoded revisions and folders stay one segment."""

from __future__ import annotations

import pytest

from heldout.hub_emulator.errors import MethodNotAllowed
from heldout.hub_emulator.hub_paths import HubRoute, match


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/datasets/a/b", HubRoute("repo_info", "dataset", "a/b")),
        (
            "GET",
            "/api/models/a/b/revision/refs%2Fpr%2F1",
            HubRoute("repo_info", "model", "a/b", "refs/pr/1"),
        ),
        (
            "GET",
            "/api/datasets/a/b/tree/main/queue%2FPENDING",
            HubRoute("tree", "dataset", "a/b", "main", "queue/PENDING"),
        ),
        ("GET", "/api/spaces/a/b/tree/main", HubRoute("tree", "space", "a/b", "main", "")),
        ("POST", "/api/datasets/a/b/commit/main", HubRoute("commit", "dataset", "a/b", "main")),
        (
            "HEAD",
            "/datasets/a/b/resolve/main/x/y%20z.txt",
            HubRoute("resolve", "dataset", "a/b", "main", "x/y z.txt"),
        ),
        ("GET", "/a/b/resolve/0123abc/f", HubRoute("resolve", "model", "a/b", "0123abc", "f")),
        ("POST", "/api/spaces/a/b/secrets", HubRoute("space_secrets", "space", "a/b")),
        ("GET", "/api/datasets/a/b/parquet", HubRoute("unsupported", "dataset", "a/b")),
        ("GET", "/api/whoami-v2", HubRoute("whoami")),
    ],
)
def test_routes(method: str, path: str, expected: HubRoute) -> None:
    assert match(method, path.encode()) == expected


def test_a_path_that_is_no_hub_route() -> None:
    assert match("GET", b"/favicon.ico") is None


def test_a_wrong_method_is_refused() -> None:
    with pytest.raises(MethodNotAllowed):
        match("DELETE", b"/api/datasets/a/b/commit/main")
