"""Hub API routes about repos and accounts: whoami, create/delete, info, refs, commits,
settings, README metadata checks and Space secrets and variables."""

from __future__ import annotations

import time
from typing import Any

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heldout.hub_emulator.blobs import lfs_pointer
from heldout.hub_emulator.errors import BadRequest, Forbidden, Unauthorized
from heldout.hub_emulator.repos import (
    DEFAULT_BRANCH,
    REPO_TYPES,
    Commit,
    Repo,
    check_repo_name,
    iso,
)
from heldout.hub_emulator.responses import (
    avatar_url,
    base_url,
    bool_param,
    fake_id,
    json_response,
    next_link,
)
from heldout.hub_emulator.services import Call
from heldout.hub_emulator.tree import FileEntry

SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
COMMITS_PAGE = 50


async def whoami(call: Call) -> Response:
    name = call.caller.name
    if name is None:
        raise Unauthorized("Invalid username or password.")
    base = base_url(call.request)
    orgs = [
        {
            "type": "org",
            "id": fake_id("org", org),
            "name": org,
            "fullname": org,
            "roleInOrg": "write",
        }
        for org in call.services.access.orgs_of(name)
    ]
    return json_response(
        {
            "type": "user",
            "id": fake_id("user", name),
            "name": name,
            "fullname": name,
            "email": None,
            "emailVerified": False,
            "canPay": False,
            "isPro": False,
            "avatarUrl": avatar_url(base, name),
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": "local", "role": "write", "createdAt": iso(0)},
            },
        }
    )


async def create_repo(call: Call) -> Response:
    body = await call.json_body()
    if call.caller.name is None:
        raise Unauthorized("You must be authenticated to create a repository.")
    repo_type = body.get("type") or "model"
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type {repo_type!r}")
    namespace = body.get("organization") or call.caller.name
    name = body.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise BadRequest("Both 'name' and 'organization' must be strings")
    repo_id = check_repo_name(namespace, name)
    if not call.services.access.may_write_namespace(call.caller, namespace):
        raise Forbidden(
            f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"'
        )
    visibility = body.get("visibility")
    private = visibility in ("private", "protected") if visibility else bool(body.get("private"))
    sdk = body.get("sdk")
    if repo_type == "space" and sdk not in SPACE_SDKS:
        raise BadRequest(f"Invalid sdk {sdk!r}: expected one of {', '.join(SPACE_SDKS)}")
    url = f"{base_url(call.request)}/{Repo(repo_type, repo_id, private).path_prefix()}"
    repo = await run_in_threadpool(
        call.state.create_repo,
        repo_type,
        repo_id,
        private=private,
        sdk=sdk if repo_type == "space" else None,
        author=call.caller.name,
        url=url,
    )
    if repo_type == "space":
        for kind, key in (("secret", "secrets"), ("variable", "variables")):
            for item in body.get(key) or []:
                _set_space_value(call, repo, kind, item)
    return json_response({"url": url, "name": repo_id, "id": fake_id("repo", repo_type, repo_id)})


async def delete_repo(call: Call) -> Response:
    body = await call.json_body()
    repo_type = body.get("type") or "model"
    namespace = body.get("organization") or call.caller.name
    if call.caller.name is None:
        raise Unauthorized("You must be authenticated to delete a repository.")
    repo_id = f"{namespace}/{body.get('name')}"
    repo = call.state.repo(repo_type, repo_id)
    call.services.access.check_write(call.caller, repo_id, None if repo is None else repo.private)
    await run_in_threadpool(call.state.delete_repo, repo_type, repo_id)
    return json_response({})


async def repo_settings(call: Call) -> Response:
    body = await call.json_body()
    repo = call.repo_for_write()
    if "visibility" in body:
        call.state.set_private(repo, body["visibility"] in ("private", "protected"))
    elif "private" in body:
        call.state.set_private(repo, bool(body["private"]))
    return json_response({})


async def repo_info(call: Call) -> Response:
    repo = call.repo_for_read()
    expand = call.request.query_params.getlist("expand") + call.request.query_params.getlist(
        "expand[]"
    )
    blobs = bool_param(call.request, "blobs")
    base = base_url(call.request)
    data = await run_in_threadpool(
        call.state.locked, lambda: _info(repo, call.route.revision, expand, blobs, base)
    )
    return json_response(data)


def _info(repo: Repo, revision: str | None, expand: list[str], blobs: bool, base: str) -> dict:
    commit = repo.resolve(revision)
    data: dict[str, Any] = {
        "_id": fake_id("repo", repo.type, repo.id),
        "id": repo.id,
        "author": repo.id.split("/")[0],
        "sha": commit.oid,
        "lastModified": iso(commit.date),
        "createdAt": iso(repo.created),
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "tags": [],
        "downloads": 0,
        "likes": 0,
    }
    if repo.type == "model":
        data["modelId"] = repo.id
    if repo.type == "space":
        data.update(sdk=repo.sdk, runtime=_runtime(), subdomain=repo.id.replace("/", "-").lower())
    if not expand or "siblings" in expand:
        siblings = []
        for path, node in repo.tree.walk("", commit.seq, recursive=True):
            if isinstance(node, FileEntry):
                sibling: dict[str, Any] = {"rfilename": path}
                if blobs:
                    sibling.update(size=node.size, blobId=node.oid)
                    if node.lfs:
                        pointer = len(lfs_pointer(node.sha256, node.size))
                        sibling["lfs"] = {
                            "sha256": node.sha256,
                            "size": node.size,
                            "pointerSize": pointer,
                        }
                siblings.append(sibling)
        data["siblings"] = siblings
    if expand:
        data = {key: value for key, value in data.items() if key in ("_id", "id", *expand)}
    return data


async def refs(call: Call) -> Response:
    repo = call.repo_for_read()
    head = repo.head.oid
    branch = {"name": DEFAULT_BRANCH, "ref": f"refs/heads/{DEFAULT_BRANCH}", "targetCommit": head}
    return json_response({"branches": [branch], "converts": [], "tags": [], "pullRequests": []})


async def commits(call: Call) -> Response:
    """History newest first, 50 a page, following `Link: rel="next"` like the Hub."""
    repo = call.repo_for_read()
    page = int(call.request.query_params.get("p") or 0)
    if page < 0:
        raise BadRequest("Invalid page")

    def read() -> tuple[list[Commit], bool]:
        top = repo.resolve(call.route.revision).seq - page * COMMITS_PAGE
        bottom = max(-1, top - COMMITS_PAGE)
        return [repo.commits[seq] for seq in range(top, bottom, -1)], bottom >= 0

    items, more = await run_in_threadpool(call.state.locked, read)
    headers = {}
    if more:
        headers["Link"] = next_link(call.request, p=str(page + 1))
    body = [
        {
            "id": c.oid,
            "title": c.title,
            "message": c.message,
            "authors": [{"user": c.author, "avatar": avatar_url(base_url(call.request), c.author)}],
            "date": iso(c.date),
            "formatted": {"title": c.title, "message": c.message},
        }
        for c in items
    ]
    return json_response(body, headers=headers)


async def validate_yaml(call: Call) -> Response:
    """Check a README's front matter parses as a YAML mapping, as the Hub does before a commit."""
    content = (await call.json_body()).get("content") or ""
    if content.startswith("---"):
        end = content.find("\n---", 3)
        if end < 0:
            return json_response({"errors": [{"message": "Unterminated YAML front matter"}]}, 400)
        try:
            metadata = yaml.safe_load(content[3:end])
        except yaml.YAMLError as error:
            return json_response({"errors": [{"message": f"Invalid YAML: {error}"}]}, 400)
        if metadata is not None and not isinstance(metadata, dict):
            return json_response({"errors": [{"message": "YAML metadata must be a mapping"}]}, 400)
    return json_response({"errors": [], "warnings": []})


def _runtime() -> dict[str, Any]:
    """The emulator never runs a Space; it reports one that is up, so deploy scripts proceed."""
    return {
        "stage": "RUNNING",
        "hardware": {"current": "cpu-basic", "requested": "cpu-basic"},
        "storage": None,
        "gcTimeout": 172800,
        "replicas": {"current": 1, "requested": 1},
        "devMode": False,
    }


async def space_runtime(call: Call) -> Response:
    call.repo_for_read()
    return json_response(_runtime())


async def space_restart(call: Call) -> Response:
    call.repo_for_write()
    return json_response(_runtime())


def _set_space_value(call: Call, repo: Repo, kind: str, item: Any) -> None:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
        raise BadRequest(f"A {kind} needs a non-empty string 'key'")
    if len(item["key"]) > 256 or not isinstance(item.get("value", ""), str):
        raise BadRequest(f"Invalid {kind} {item['key'][:50]!r}")
    value = {
        "value": item.get("value", ""),
        "description": item.get("description"),
        "updatedAt": iso(time.time()),
    }
    call.state.set_space_value(repo, kind, item["key"], value)


async def _space_values(call: Call, kind: str) -> Response:
    method = call.request.method
    repo = (
        call.repo_for_read() if (method == "GET" and kind == "variable") else call.repo_for_write()
    )
    if method == "POST":
        _set_space_value(call, repo, kind, await call.json_body())
    elif method == "DELETE":
        key = (await call.json_body()).get("key")
        if not isinstance(key, str):
            raise BadRequest("'key' must be a string")
        call.state.set_space_value(repo, kind, key, None)
    store = repo.secrets if kind == "secret" else repo.variables
    if kind == "secret":
        listing = {
            key: {"key": key, "description": v["description"], "updatedAt": v["updatedAt"]}
            for key, v in store.items()
        }
        return json_response(listing if method == "GET" else {})
    return json_response(
        {
            key: {"value": v["value"], "description": v["description"], "updatedAt": v["updatedAt"]}
            for key, v in store.items()
        }
    )


async def space_secrets(call: Call) -> Response:
    return await _space_values(call, "secret")


async def space_variables(call: Call) -> Response:
    return await _space_values(call, "variable")
