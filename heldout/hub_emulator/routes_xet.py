"""Xet: the Hub's token routes and a CAS service, served by the emulator itself.

- `GET /api/{type}s/{repo}/xet-{write|read}-token/{rev}`: a short-lived CAS token for
  a caller who may write (or read) the repo, as JSON (`accessToken`, `exp`, `casUrl`)
  and as the `X-Xet-*` headers `huggingface_hub` reads. A token reads only the files
  its repo uploaded or holds; xorbs (shared content) are not scoped.
- The CAS, under `{emulator}/_xet`: xorb upload and existence check, shard upload (v1,
  and v2 with its ndjson progress stream), reconstructions (v1, v2, batch) honouring
  `Range`, file existence, and the chunk dedupe query (always 404: no global dedupe).
- Xorb uploads through grants (see `xet_grants`), as `hf_xet` tries first.
- Xorb bytes are fetched from `/_xet/fetch/{xorb}` URLs that the reconstruction answer
  signs (HMAC, with an expiry; the whole xorb, not only the ranges listed, as the
  Hub's signed ranges would), with `Range` (one range, or several answered as
  `multipart/byteranges`).

Every CAS request is counted under a `cas_*` name; faults are not injected here.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heldout.hub_emulator.cas import Plan, XetFile, merged, runs_by_xorb
from heldout.hub_emulator.errors import (
    BadRequest,
    Forbidden,
    HubError,
    NotFound,
    RangeNotSatisfiable,
)
from heldout.hub_emulator.responses import base_url, bounded_body, error_response, json_response
from heldout.hub_emulator.services import Call, Services
from heldout.hub_emulator.xet_format import MAX_XORB, XetFormatError, hash_raw
from heldout.hub_emulator.xet_grants import Grants

FETCH_LIFETIME = 3600
MAX_BATCH = 1000  # file ids in one batch reconstruction
MAX_SHARD = 64 * 1024 * 1024
CAS_PREFIX = "/_xet"


# ----------------------------------------------------------------- Hub routes
async def xet_token(call: Call) -> Response:
    write = call.route.endpoint == "xet_write_token"
    repo = call.repo_for_write() if write else call.repo_for_read()
    revision = call.route.revision
    if not (write and revision == "None"):  # "None": a write token for a new pull request
        await run_in_threadpool(call.state.locked, lambda: repo.resolve(revision))
    token, expires = call.services.xet_tokens.issue(write, repo.key)
    cas_url = f"{base_url(call.request)}{CAS_PREFIX}"
    headers = {
        "X-Xet-Cas-Url": cas_url,
        "X-Xet-Access-Token": token,
        "X-Xet-Token-Expiration": str(expires),
    }
    return json_response({"accessToken": token, "exp": expires, "casUrl": cas_url}, headers=headers)


HANDLERS = {"xet_write_token": xet_token, "xet_read_token": xet_token}


# ----------------------------------------------------------------- CAS routes
def cas_routes(services: Services) -> list[Route]:
    tokens = services.xet_tokens
    state = services.state

    def guarded(name: str, *, write: bool = False, auth: bool = True):
        def wrap(handler):
            async def endpoint(request: Request) -> Response:
                services.counters.add(name)
                try:
                    if auth:
                        authorization = request.headers.get("authorization")
                        request.state.xet_repo = tokens.check(authorization, write=write)
                    return await handler(request)
                except XetFormatError as error:
                    return error_response(BadRequest(str(error)), head=request.method == "HEAD")
                except HubError as error:
                    return error_response(error, head=request.method == "HEAD")

            return endpoint

        return wrap

    def hash_param(request: Request, name: str) -> str:
        text = request.path_params[name]
        hash_raw(text)  # raises XetFormatError (400) for anything but 64 hex digits
        return text.lower()

    @guarded("cas_xorb_upload", write=True)
    async def post_xorb(request: Request) -> Response:
        if request.path_params["prefix"] != "default":
            raise BadRequest("The only xorb prefix is 'default'")
        xorb = hash_param(request, "hash")
        data = await bounded_body(request, MAX_XORB)
        inserted = await run_in_threadpool(state.put_xorb, xorb, data)
        return json_response({"was_inserted": inserted})

    grants = Grants(services, CAS_PREFIX)

    @guarded("cas_xorb_grant", write=True)
    async def xorb_grant(request: Request) -> Response:
        if request.path_params["prefix"] != "default":
            raise BadRequest("The only xorb prefix is 'default'")
        return await grants.request(request, hash_param(request, "hash"))

    @guarded("cas_xorb_upload", auth=False)
    async def grant_upload(request: Request) -> Response:
        return await grants.upload(request)

    @guarded("cas_xorb_commit", write=True)
    async def xorb_commit(request: Request) -> Response:
        return await grants.commit(request, hash_param(request, "hash"))

    @guarded("cas_xorb_head")
    async def head_xorb(request: Request) -> Response:
        stored = state.cas.xorbs.get(hash_param(request, "hash"))
        if stored is None:
            raise NotFound("No such xorb")
        return Response(b"", headers={"Content-Length": str(stored.size)})

    @guarded("cas_shard_upload", write=True)
    async def post_shard(request: Request) -> Response:
        data = await bounded_body(request, MAX_SHARD)
        inserted = await run_in_threadpool(state.put_shard, data, request.state.xet_repo)
        return json_response({"result": 1 if inserted else 0})

    @guarded("cas_shard_upload", write=True)
    async def post_shard_v2(request: Request) -> Response:
        """The v2 answer is a stream of ndjson events; failure is its last event, not a status."""
        body = await bounded_body(request, MAX_SHARD)
        events: list[dict] = [{"type": "validating", "verified": 0, "total": 1}]
        try:
            inserted = await run_in_threadpool(state.put_shard, body, request.state.xet_repo)
        except XetFormatError as error:
            events.append({"type": "error", "message": str(error), "retryable": False})
        else:
            events.append({"type": "validating", "verified": 1, "total": 1})
            events.append({"type": "committing", "stage": "uploading"})
            events.append({"type": "committing", "stage": "syncing"})
            events.append({"type": "result", "result": 1 if inserted else 0})
        text = "".join(json.dumps(event) + "\n" for event in events)
        return Response(
            text,
            media_type="application/x-ndjson",
            headers={"Cache-Control": "no-cache"},
        )

    def readable(request: Request, file_id: str) -> XetFile:
        """A file the token's repo holds (or uploaded); any other is not found."""
        file = state.cas.files.get(file_id)
        if file is None or request.state.xet_repo not in state.cas.owners.get(file_id, ()):
            raise NotFound(f"No Xet file {file_id} in this repo")
        return file

    def plan_for(request: Request, file_id: str) -> tuple[Plan, int]:
        file = readable(request, file_id)
        span = parse_single_range(request.headers.get("range"), file.size)
        first, last = span if span is not None else (0, file.size - 1)
        return state.cas.plan(file_id, first, last), file.size

    def fetch_url(request: Request, xorb: str) -> str:
        expires = int(time.time()) + FETCH_LIFETIME
        signature = tokens.sign(xorb, expires)
        return f"{base_url(request)}{CAS_PREFIX}/fetch/{xorb}?expires={expires}&sig={signature}"

    def terms_json(plan: Plan) -> list[dict]:
        return [
            {"hash": t.xorb, "unpacked_length": t.size, "range": {"start": t.start, "end": t.end}}
            for t in plan.terms
        ]

    def v1_answer(request: Request, plan: Plan) -> dict:
        fetch: dict[str, list[dict]] = {}
        for xorb, runs in runs_by_xorb(plan.terms).items():
            url = fetch_url(request, xorb)
            fetch[xorb] = [
                {"range": {"start": s, "end": e}, "url": url, "url_range": {"start": a, "end": b}}
                for s, e, a, b in runs
            ]
        return {
            "offset_into_first_range": plan.offset_into_first_range,
            "terms": terms_json(plan),
            "fetch_info": fetch,
        }

    @guarded("cas_reconstruction")
    async def reconstruction_v1(request: Request) -> Response:
        plan, _ = plan_for(request, hash_param(request, "file_id"))
        return json_response(v1_answer(request, plan))

    @guarded("cas_reconstruction")
    async def reconstruction_v2(request: Request) -> Response:
        plan, _ = plan_for(request, hash_param(request, "file_id"))
        xorbs = {}
        for xorb, runs in runs_by_xorb(plan.terms).items():
            ranges = [
                {"chunks": {"start": s, "end": e}, "bytes": {"start": a, "end": b}}
                for s, e, a, b in merged(runs)
            ]
            xorbs[xorb] = [{"url": fetch_url(request, xorb), "ranges": ranges}]
        return json_response(
            {
                "offset_into_first_range": plan.offset_into_first_range,
                "terms": terms_json(plan),
                "xorbs": xorbs,
            }
        )

    @guarded("cas_reconstruction")
    async def batch_reconstruction(request: Request) -> Response:
        files: dict[str, list[dict]] = {}
        fetch: dict[str, dict[tuple[int, int], dict]] = {}
        for file_id in dict.fromkeys(request.query_params.getlist("file_id")[:MAX_BATCH]):
            hash_raw(file_id)
            file = readable(request, file_id)
            answer = v1_answer(request, state.cas.plan(file_id, 0, file.size - 1))
            files[file_id] = answer["terms"]
            for xorb, infos in answer["fetch_info"].items():
                known = fetch.setdefault(xorb, {})
                for info in infos:
                    known.setdefault((info["range"]["start"], info["range"]["end"]), info)
        body = {"files": files, "fetch_info": {x: list(i.values()) for x, i in fetch.items()}}
        return json_response(body)

    @guarded("cas_file_head")
    async def head_file(request: Request) -> Response:
        file = readable(request, hash_param(request, "file_id"))
        return Response(b"", headers={"Content-Length": str(file.size)})

    @guarded("cas_dedupe_query")
    async def chunk_dedupe(request: Request) -> Response:
        hash_param(request, "hash")
        raise NotFound("Chunk not tracked by global deduplication")

    @guarded("cas_xorb_fetch", auth=False)
    async def fetch(request: Request) -> Response:
        xorb = hash_param(request, "hash")
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            expires = 0
        signature = request.query_params.get("sig", "")
        good = hmac.compare_digest(signature, tokens.sign(xorb, expires))
        if not good or expires < time.time():
            raise Forbidden("This fetch URL is not signed, or has expired")
        if xorb not in state.cas.xorbs:
            raise NotFound("No such xorb")
        data = await run_in_threadpool(state.blobs.get, f"xorb:{xorb}")
        return ranged_response(data, request.headers.get("range"))

    base = CAS_PREFIX
    return [
        Route(f"{base}/v1/xorbs/{{prefix}}/{{hash}}", post_xorb, methods=["POST"]),
        Route(f"{base}/v1/xorbs/{{prefix}}/{{hash}}", head_xorb, methods=["HEAD"]),
        Route(f"{base}/v1/xorb-grants/{{prefix}}/{{hash}}", xorb_grant, methods=["POST"]),
        Route(f"{base}/grant-uploads/{{grant_id}}", grant_upload, methods=["PUT"]),
        Route(
            f"{base}/v1/xorb-commits/{{prefix}}/{{hash}}/grant/{{grant_id}}",
            xorb_commit,
            methods=["POST"],
        ),
        Route(f"{base}/v1/shards", post_shard, methods=["POST"]),
        Route(f"{base}/v2/shards", post_shard_v2, methods=["POST"]),
        Route(f"{base}/v1/reconstructions", batch_reconstruction, methods=["GET"]),
        Route(f"{base}/v1/reconstructions/{{file_id}}", reconstruction_v1, methods=["GET"]),
        Route(f"{base}/v2/reconstructions/{{file_id}}", reconstruction_v2, methods=["GET"]),
        Route(f"{base}/v1/files/{{file_id}}", head_file, methods=["HEAD"]),
        Route(f"{base}/v1/chunks/{{prefix}}/{{hash}}", chunk_dedupe, methods=["GET"]),
        Route(f"{base}/fetch/{{hash}}", fetch, methods=["GET"]),
    ]


# --------------------------------------------------------------------- ranges
def parse_single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b` / `a-` / `-n` range, clipped to the file; 416 if it starts past it."""
    if not header:
        return None
    spans = parse_ranges(header, size)
    if len(spans) != 1:
        raise BadRequest("Only one byte range may be asked for")
    return spans[0]


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise BadRequest(f"Unsupported Range header {header[:100]!r}")
    spans = []
    for part in spec.split(",")[:1000]:
        first, dash, last = part.strip().partition("-")
        try:
            if not dash:
                raise ValueError
            if first == "":
                start, end = max(0, size - int(last)), size - 1
            else:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
        except ValueError as error:
            raise BadRequest(f"Malformed Range header {header[:100]!r}") from error
        if start >= size or start > end:
            raise RangeNotSatisfiable(
                f"Range {part.strip()} is outside the object",
                headers={"Content-Range": f"bytes */{size}"},
            )
        spans.append((start, end))
    return spans


def ranged_response(data: bytes, header: str | None) -> Response:
    """`data`, or the ranges asked for: one as a plain 206, several as multipart/byteranges."""
    size = len(data)
    if not header:
        return Response(data, media_type="application/octet-stream")
    spans = parse_ranges(header, size)
    if len(spans) == 1:
        start, end = spans[0]
        headers = {"Content-Range": f"bytes {start}-{end}/{size}"}
        return Response(
            data[start : end + 1], 206, headers=headers, media_type="application/octet-stream"
        )
    boundary = secrets.token_hex(12)
    parts = []
    for start, end in spans:
        parts.append(
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n".encode()
        )
        parts.append(data[start : end + 1])
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return Response(b"".join(parts), 206, media_type=f"multipart/byteranges; boundary={boundary}")
