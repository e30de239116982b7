"""Which Hub endpoint a request path names, parsed from the raw (still encoded) path.

The client percent-encodes a revision and a folder path as one segment
(`refs%2Fpr%2F1`, `queue%2FPENDING`). Routing on the decoded path would make such a
revision look like several segments, so each raw segment is split first and decoded
after. Pure: no HTTP objects, easy to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from heldout.hub_emulator.errors import MethodNotAllowed

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_WEB_PREFIXES = {"datasets": "dataset", "spaces": "space"}

# endpoint name -> methods it answers
METHODS: dict[str, tuple[str, ...]] = {
    "whoami": ("GET",),
    "create_repo": ("POST",),
    "delete_repo": ("DELETE",),
    "validate_yaml": ("POST",),
    "repo_info": ("GET",),
    "tree": ("GET",),
    "paths_info": ("POST",),
    "preupload": ("POST",),
    "commit": ("POST",),
    "commits": ("GET",),
    "refs": ("GET",),
    "repo_settings": ("PUT",),
    "space_secrets": ("GET", "POST", "DELETE"),
    "space_variables": ("GET", "POST", "DELETE"),
    "space_runtime": ("GET",),
    "space_restart": ("POST",),
    "resolve": ("GET", "HEAD"),
    "xet_write_token": ("GET",),
    "xet_read_token": ("GET",),
    "lfs_batch": ("POST",),
    "lfs_upload": ("PUT",),
    "lfs_verify": ("POST",),
    "unsupported": ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"),
}

_REPO_ACTIONS = {
    "paths-info": "paths_info",
    "preupload": "preupload",
    "commit": "commit",
    "commits": "commits",
}
_SPACE_ACTIONS = {
    "secrets": "space_secrets",
    "variables": "space_variables",
    "runtime": "space_runtime",
    "restart": "space_restart",
}


@dataclass(frozen=True)
class HubRoute:
    """A request resolved to an endpoint, with the repo, revision and path it names."""

    endpoint: str
    repo_type: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    path: str = ""


def raw_segments(raw_path: bytes | str) -> list[str]:
    text = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else raw_path
    return [unquote(segment) for segment in text.strip("/").split("/")]


def match(method: str, raw_path: bytes | str) -> HubRoute | None:
    """The Hub route for this path, None if it is no Hub path; raises on a wrong method."""
    route = _match(raw_segments(raw_path))
    if route is not None and method not in METHODS[route.endpoint]:
        raise MethodNotAllowed(f"Method {method} not allowed for {route.endpoint}")
    return route


def _match(segs: list[str]) -> HubRoute | None:
    if segs and segs[0] == "api":
        return _match_api(segs[1:])
    lfs = _match_lfs(segs)
    if lfs is not None:
        return lfs
    if len(segs) >= 5 and segs[0] in _WEB_PREFIXES and segs[3] == "resolve":
        return HubRoute(
            "resolve", _WEB_PREFIXES[segs[0]], f"{segs[1]}/{segs[2]}", segs[4], "/".join(segs[5:])
        )
    if len(segs) >= 4 and segs[2] == "resolve":
        return HubRoute("resolve", "model", f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]))
    return None


def _match_lfs(segs: list[str]) -> HubRoute | None:
    """`{type prefix}{ns}/{name}.git/info/lfs/objects/{batch | verify | <oid>}`, the git
    LFS API (for uploads when Xet is off); the last segment is the route's `path`."""
    repo_type = "model"
    if segs and segs[0] in _WEB_PREFIXES:
        repo_type, segs = _WEB_PREFIXES[segs[0]], segs[1:]
    if len(segs) != 6 or not segs[1].endswith(".git") or segs[2:5] != ["info", "lfs", "objects"]:
        return None
    repo_id = f"{segs[0]}/{segs[1][: -len('.git')]}"
    endpoint = {"batch": "lfs_batch", "verify": "lfs_verify"}.get(segs[5], "lfs_upload")
    return HubRoute(endpoint, repo_type, repo_id, None, segs[5])


def _match_api(segs: list[str]) -> HubRoute:
    fixed = {
        ("whoami-v2",): "whoami",
        ("repos", "create"): "create_repo",
        ("repos", "delete"): "delete_repo",
        ("validate-yaml",): "validate_yaml",
    }
    if tuple(segs) in fixed:
        return HubRoute(fixed[tuple(segs)])
    if len(segs) < 3 or segs[0] not in _TYPES:
        return HubRoute("unsupported")
    repo_type, repo_id, rest = _TYPES[segs[0]], f"{segs[1]}/{segs[2]}", segs[3:]
    if not rest:
        return HubRoute("repo_info", repo_type, repo_id)
    action = rest[0]
    if action == "revision" and len(rest) >= 2:
        return HubRoute("repo_info", repo_type, repo_id, "/".join(rest[1:]))
    if action == "tree" and len(rest) >= 2:
        return HubRoute("tree", repo_type, repo_id, rest[1], "/".join(rest[2:]).strip("/"))
    if action in _REPO_ACTIONS and len(rest) == 2:
        return HubRoute(_REPO_ACTIONS[action], repo_type, repo_id, rest[1])
    if action in ("xet-write-token", "xet-read-token") and len(rest) >= 2:
        endpoint = "xet_write_token" if action == "xet-write-token" else "xet_read_token"
        return HubRoute(endpoint, repo_type, repo_id, "/".join(rest[1:]))
    if rest == ["refs"]:
        return HubRoute("refs", repo_type, repo_id)
    if rest == ["settings"]:
        return HubRoute("repo_settings", repo_type, repo_id)
    if repo_type == "space" and len(rest) == 1 and action in _SPACE_ACTIONS:
        return HubRoute(_SPACE_ACTIONS[action], repo_type, repo_id)
    return HubRoute("unsupported", repo_type, repo_id)


def encode_path(path: str) -> str:
    """A repo path as it appears in a URL (slashes kept)."""
    return quote(path, safe="/")
