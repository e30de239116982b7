"""Hub API routes about files: preupload, commit, tree, paths-info and resolve (download)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heldout.hub_emulator.blobs import lfs_pointer
from heldout.hub_emulator.errors import (
    BadRequest,
    EntryNotFound,
    HubError,
    InjectedFault,
    RangeNotSatisfiable,
)
from heldout.hub_emulator.faults import INTERNAL_ERROR
from heldout.hub_emulator.repos import Commit, Repo, iso
from heldout.hub_emulator.responses import base_url, bool_param, json_response, next_link
from heldout.hub_emulator.services import Call
from heldout.hub_emulator.staging import DeleteFile, DeleteFolder, Operation, PutBlob, PutFile
from heldout.hub_emulator.tree import DIR, FileEntry, Node
from heldout.hub_emulator.upload_modes import lfs_patterns, upload_mode

EXPANDED_PAGE = 50  # the Hub's page size when `expand=true`
SAFE_SCAN = {
    "status": "safe",
    "avScan": {"virusFound": False, "virusNames": None},
    "pickleImportScan": None,
}


# ------------------------------------------------------------------ commits
async def preupload(call: Call) -> Response:
    """Each file's upload mode, as the Hub picks it (see `upload_modes`), and its `oid` at
    the revision if it exists: the git blob id, or the sha256 for an LFS file.

    Like the Hub, this lets the client drop an add whose content is already at the head.
    """
    repo = call.repo_for_write()
    files = (await call.json_body()).get("files")
    if not isinstance(files, list):
        raise BadRequest("'files' must be a list")

    def read() -> list[dict[str, Any]]:
        commit = repo.resolve(call.route.revision)
        attributes = repo.tree.file(".gitattributes", commit.seq)
        patterns = lfs_patterns(call.state.read(attributes)) if attributes else []
        answer = []
        for item in files:
            path = item.get("path") if isinstance(item, dict) else None
            if not isinstance(path, str):
                raise BadRequest("each file needs a string 'path'")
            size, sample = item.get("size"), item.get("sample") or ""
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise BadRequest(f"{path[:100]}: 'size' must be a non-negative integer")
            try:
                raw = base64.b64decode(str(sample), validate=True)
            except (binascii.Error, ValueError) as error:
                raise BadRequest(f"{path[:100]}: 'sample' must be base64") from error
            mode = upload_mode(path, raw, size, patterns)
            info: dict[str, Any] = {"path": path, "uploadMode": mode, "shouldIgnore": False}
            entry = repo.tree.file(path, commit.seq)
            if entry is not None:
                info["oid"] = entry.sha256 if entry.lfs else entry.oid
            answer.append(info)
        return answer

    return json_response({"files": await run_in_threadpool(call.state.locked, read)})


def parse_commit(body: bytes) -> tuple[dict[str, Any], list[Operation]]:
    """The header and operations of an ndjson commit payload, as `huggingface_hub` sends it."""
    header: dict[str, Any] | None = None
    operations: list[Operation] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = dict(value)
            elif key == "file":
                content = value["content"]
                if value.get("encoding") == "base64":
                    data = base64.b64decode(content, validate=True)
                else:
                    data = content.encode()
                operations.append(PutFile(value["path"], data))
            elif key == "lfsFile":
                operations.append(PutBlob(value["path"], str(value["oid"])))
            elif key == "deletedFile":
                operations.append(DeleteFile(value["path"]))
            elif key == "deletedFolder":
                operations.append(DeleteFolder(value["path"]))
            else:
                raise BadRequest(f"line {number}: unknown key {key!r}")
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise BadRequest(
                f"line {number} of the commit payload is malformed: {error}"
            ) from error
    if header is None or not str(header.get("summary") or "").strip():
        raise BadRequest("The commit needs a header line with a non-empty summary")
    return header, operations


async def commit(call: Call) -> Response:
    repo = call.repo_for_write()
    if bool_param(call.request, "create_pr"):
        raise BadRequest("Pull requests are not supported by the local Hub emulator")
    header, operations = parse_commit(await call.request.body())
    slot = call.services.quota.reserve(repo.key)
    try:
        made: Commit = await run_in_threadpool(
            lambda: call.state.commit(
                repo,
                operations,
                title=str(header["summary"]),
                message=str(header.get("description") or ""),
                author=call.caller.name or "",
                parent=header.get("parentCommit"),
                branch=call.route.revision or "main",
            )
        )
    except HubError:
        call.services.quota.release(repo.key, slot)
        raise
    if call.services.faults.lose_reply():
        raise InjectedFault(500, INTERNAL_ERROR)
    url = f"{base_url(call.request)}/{repo.path_prefix()}/commit/{made.oid}"
    return json_response(
        {
            "success": True,
            "commitOid": made.oid,
            "commitUrl": url,
            "hookOutput": "",
            "pullRequestUrl": None,
        }
    )


# ------------------------------------------------------------------ listing
def _entry(repo: Repo, commit: Commit, path: str, node: Node, expand: bool) -> dict[str, Any]:
    if isinstance(node, FileEntry):
        data: dict[str, Any] = {"type": "file", "oid": node.oid, "size": node.size}
        if node.lfs:
            pointer = lfs_pointer(node.sha256, node.size)
            data["lfs"] = {"oid": node.sha256, "size": node.size, "pointerSize": len(pointer)}
        if node.xet_hash:
            data["xetHash"] = node.xet_hash
        data["path"] = path
    else:
        tree_id = hashlib.sha1(
            f"tree\n{repo.id}\n{path}\n{commit.oid}".encode(), usedforsecurity=False
        )
        data = {"type": "directory", "oid": tree_id.hexdigest(), "size": 0, "path": path}
    if expand:
        seq = repo.tree.last_change(path, commit.seq)
        if seq is not None:
            last = repo.commits[seq]
            data["lastCommit"] = {"id": last.oid, "title": last.title, "date": iso(last.date)}
        if isinstance(node, FileEntry):
            data["securityFileStatus"] = SAFE_SCAN
    return data


async def tree(call: Call) -> Response:
    """One page of a folder's listing; `cursor` is the last path of the previous page."""
    repo = call.repo_for_read()
    recursive = bool_param(call.request, "recursive")
    expand = bool_param(call.request, "expand")
    limit = call.services.settings.page_size
    if expand:
        limit = min(limit, EXPANDED_PAGE)
    cursor = _decode_cursor(call.request.query_params.get("cursor"))
    folder = call.route.path

    def read() -> tuple[list[dict[str, Any]], str | None]:
        commit = repo.resolve(call.route.revision)
        if folder and repo.tree.node(folder, commit.seq) != DIR:
            raise EntryNotFound(f"Entry not found: no folder {folder!r} at this revision")
        walk = repo.tree.walk(folder, commit.seq, recursive=recursive, after=cursor)
        page = list(islice(walk, limit + 1))
        more = len(page) > limit
        page = page[:limit]
        entries = [_entry(repo, commit, path, node, expand) for path, node in page]
        return entries, page[-1][0] if more else None

    entries, last = await run_in_threadpool(call.state.locked, read)
    headers = {}
    if last is not None:
        token = base64.urlsafe_b64encode(last.encode()).decode()
        headers["Link"] = next_link(
            call.request, recursive=str(recursive).lower(), expand=str(expand).lower(), cursor=token
        )
    return json_response(entries, headers=headers)


def _decode_cursor(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return base64.urlsafe_b64decode(raw.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise BadRequest("Invalid cursor") from error


async def paths_info(call: Call) -> Response:
    """Info for each path that exists; missing paths are left out, as on the Hub."""
    repo = call.repo_for_read()
    body = await call.request.body()
    if call.request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(body or b"{}")
        paths, expand = list(data.get("paths") or []), bool(data.get("expand"))
    else:
        fields = parse_qsl(body.decode(), keep_blank_values=True)
        paths = [value for key, value in fields if key in ("paths", "paths[]")]
        expand = any(key == "expand" and value.lower() == "true" for key, value in fields)

    def read() -> list[dict[str, Any]]:
        commit = repo.resolve(call.route.revision)
        answer, seen = [], set()
        for raw in paths:
            path = str(raw).strip("/")
            if not path or path in seen:
                continue
            seen.add(path)
            node = repo.tree.node(path, commit.seq)
            if node is not None:
                answer.append(_entry(repo, commit, path, node, expand))
        return answer

    return json_response(await run_in_threadpool(call.state.locked, read))


# ----------------------------------------------------------------- download
async def resolve(call: Call) -> Response:
    """A file's bytes, with the headers `hf_hub_download` relies on; `Range` gives 206."""
    repo = call.repo_for_read()

    def read() -> tuple[Commit, FileEntry]:
        commit = repo.resolve(call.route.revision)
        entry = repo.tree.file(call.route.path, commit.seq)
        if entry is None:
            # The commit id lets the client remember that the file is missing there.
            raise EntryNotFound("Entry not found", headers={"X-Repo-Commit": commit.oid})
        return commit, entry

    commit, entry = await run_in_threadpool(call.state.locked, read)
    headers = {
        "X-Repo-Commit": commit.oid,
        "ETag": f'"{entry.sha256 if entry.lfs else entry.oid}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
    }
    if entry.lfs:
        headers.update(lfs_headers(call, repo, commit, entry))
    if call.request.method == "HEAD":
        headers["Content-Length"] = str(entry.size)
        return Response(b"", headers=headers)
    content = await run_in_threadpool(call.state.read, entry)
    span = _parse_range(call.request.headers.get("range"), entry.size)
    if span is None:
        return Response(content, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
    return Response(content[start : end + 1], status_code=206, headers=headers)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for (inclusive), None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # unsupported forms get the whole file, which HTTP allows
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(0, size - length), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        raise RangeNotSatisfiable(
            f"Range {header} is outside the file", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


def lfs_headers(call: Call, repo: Repo, commit: Commit, entry: FileEntry) -> dict[str, str]:
    """What the Hub adds for a file stored outside git: the content's sha256 and size
    (`X-Linked-*`), and for Xet content its hash and where to get a read token."""
    headers = {"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)}
    if entry.xet_hash:
        token_url = (
            f"{base_url(call.request)}/api/{repo.type}s/{repo.id}/xet-read-token/{commit.oid}"
        )
        headers["X-Xet-Hash"] = entry.xet_hash
        headers["Link"] = f'<{token_url}>; rel="xet-auth"'
    return headers
