"""The git LFS batch API with the basic transfer, which `huggingface_hub` uses for
files `preupload` marks "lfs" when Xet is off (`HF_HUB_DISABLE_XET=1`).

- `POST {repo}.git/info/lfs/objects/batch` (`operation: upload`): for each object not
  stored yet, an `upload` action (a signed URL, so the PUT needs no token) and a
  `verify` action; an object already stored gets no actions, and the client skips it.
- `PUT {repo}.git/info/lfs/objects/{oid}?expires=…&sig=…`: the content, checked
  against its sha256 and size before it is kept.
- `POST {repo}.git/info/lfs/objects/verify`: 404 unless the object is stored with
  that size.

The commit then names the content by sha256 in an `lfsFile` line. Multipart transfer
is not offered: the client falls back to basic when the server picks it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heldout.hub_emulator.errors import BadRequest, EntryNotFound, Forbidden
from heldout.hub_emulator.repos import URL_PREFIXES
from heldout.hub_emulator.responses import base_url, bounded_body, json_response
from heldout.hub_emulator.services import Call

SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_LIFETIME = 3600
MAX_OBJECTS = 1000
MAX_OBJECT_SIZE = 2 * 1024**3  # the emulator keeps objects in memory while it checks them
LFS_JSON = "application/vnd.git-lfs+json"


def _objects_url(call: Call) -> str:
    prefix = URL_PREFIXES[call.route.repo_type or "model"]
    return f"{base_url(call.request)}/{prefix}{call.route.repo_id}.git/info/lfs/objects"


def _signature(call: Call, oid: str, size: int, expires: int) -> str:
    message = f"{call.route.repo_type}/{call.route.repo_id}/{oid}/{size}/{expires}".encode()
    key = call.services.xet_tokens.signing_key
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def batch(call: Call) -> Response:
    call.repo_for_write()
    body = await call.json_body()
    if body.get("operation") != "upload":
        raise BadRequest("The local Hub's LFS batch API only takes uploads")
    objects = body.get("objects")
    if not isinstance(objects, list) or len(objects) > MAX_OBJECTS:
        raise BadRequest(f"'objects' must be a list of at most {MAX_OBJECTS}")
    url = _objects_url(call)
    answer = []
    for item in objects:
        oid = item.get("oid") if isinstance(item, dict) else None
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(oid, str) or not SHA256.match(oid):
            raise BadRequest("each object needs a sha256 'oid'")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_OBJECT_SIZE:
            raise BadRequest(f"object {oid}: 'size' must be an integer from 0 to {MAX_OBJECT_SIZE}")
        entry: dict = {"oid": oid, "size": size, "authenticated": True}
        if oid not in call.state.blobs:
            expires = int(time.time()) + UPLOAD_LIFETIME
            signature = _signature(call, oid, size, expires)
            upload = f"{url}/{oid}?size={size}&expires={expires}&sig={quote(signature)}"
            entry["actions"] = {
                "upload": {"href": upload, "expires_at": _iso(expires)},
                "verify": {"href": f"{url}/verify", "expires_at": _iso(expires)},
            }
        answer.append(entry)
    return json_response(
        {"transfer": "basic", "objects": answer}, headers={"Content-Type": LFS_JSON}
    )


async def upload(call: Call) -> Response:
    """The PUT of one object's bytes, authorised by the signed URL the batch answer gave."""
    oid = call.route.path
    query = call.request.query_params
    try:
        size, expires = int(query.get("size", "")), int(query.get("expires", ""))
    except ValueError as error:
        raise Forbidden("This upload URL is not signed") from error
    good = hmac.compare_digest(query.get("sig", ""), _signature(call, oid, size, expires))
    if not SHA256.match(oid) or not good or expires < time.time():
        raise Forbidden("This upload URL is not signed, or has expired")
    data = await bounded_body(call.request, size)
    if len(data) != size or hashlib.sha256(data).hexdigest() != oid:
        raise BadRequest("The uploaded bytes do not match the object's sha256 and size")
    await run_in_threadpool(call.state.put_lfs_object, oid, data)
    return Response(b"", status_code=200)


async def verify(call: Call) -> Response:
    call.repo_for_write()
    body = await call.json_body()
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or oid not in call.state.blobs:
        raise EntryNotFound(f"LFS object {str(oid)[:64]} was never uploaded")
    if call.state.blobs.size(oid) != size:
        raise BadRequest(f"LFS object {oid} has another size")
    return json_response({"message": "Object verified"})


def _iso(timestamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


HANDLERS = {"lfs_batch": batch, "lfs_upload": upload, "lfs_verify": verify}
