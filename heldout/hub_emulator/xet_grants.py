"""Xorb upload grants, the way `hf_xet` 1.8 uploads xorbs first.

1. `POST /v1/xorb-grants/{prefix}/{hash}` (write token) with the xorb's `length` (and a
   CRC-64 checksum, not checked here: the xorb hash is checked instead): 200 if the
   xorb is stored already, else 201 and a grant `{id, method, url, headers}`;
2. `PUT` of the serialized xorb to the grant's URL (signed; no CAS token); a second
   upload to the same grant answers 412;
3. `POST /v1/xorb-commits/{prefix}/{hash}/grant/{id}`: 404 if nothing was uploaded,
   else the xorb is checked and stored like a direct `POST /v1/xorbs` upload.

Not in the public Xet specification: it follows xet-core's description of its client.
A client that gets 404 from the grant route falls back to `POST /v1/xorbs`.
Grants live in memory, expire after an hour, and at most `MAX_GRANTS` are open.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from heldout.hub_emulator.errors import BadRequest, Forbidden, HubError, NotFound, RateLimited
from heldout.hub_emulator.responses import base_url, bounded_body, json_response
from heldout.hub_emulator.services import Services
from heldout.hub_emulator.xet_format import MAX_XORB

GRANT_LIFETIME = 3600
MAX_GRANTS = 1000


class PreconditionFailed(HubError):
    status = 412


@dataclass
class Grant:
    xorb: str
    length: int
    expires: float
    data: bytes | None = None


class Grants:
    def __init__(self, services: Services, prefix: str) -> None:
        self.services = services
        self.prefix = prefix
        self._open: dict[str, Grant] = {}
        self._lock = threading.Lock()

    async def request(self, request: Request, xorb: str) -> Response:
        if xorb in self.services.state.cas.xorbs:
            return json_response({}, 200)
        try:
            length = int((await request.json()).get("length"))
        except (ValueError, TypeError, AttributeError) as error:
            raise BadRequest("A grant request needs the xorb's 'length'") from error
        if not 0 < length <= MAX_XORB:
            raise BadRequest(f"A xorb is 1 to {MAX_XORB} bytes long")
        grant_id = secrets.token_hex(16)
        with self._lock:
            now = time.time()
            for old in [key for key, grant in self._open.items() if grant.expires < now]:
                del self._open[old]
            if len(self._open) >= MAX_GRANTS:
                raise RateLimited("Too many open xorb upload grants", retry_after=5)
            self._open[grant_id] = Grant(xorb, length, now + GRANT_LIFETIME)
        signature = self._sign(grant_id)
        url = f"{base_url(request)}{self.prefix}/grant-uploads/{grant_id}?sig={signature}"
        body = {"id": grant_id, "method": "PUT", "url": url, "headers": {}}
        return json_response(body, 201)

    async def upload(self, request: Request) -> Response:
        grant_id = request.path_params["grant_id"]
        if not hmac.compare_digest(request.query_params.get("sig", ""), self._sign(grant_id)):
            raise Forbidden("This upload URL is not signed")
        grant = self._open.get(grant_id)
        if grant is None or grant.expires < time.time():
            raise Forbidden("This upload grant is unknown or has expired")
        if grant.data is not None:
            raise PreconditionFailed("This grant's xorb was uploaded already")
        data = await bounded_body(request, grant.length)
        if len(data) != grant.length:
            raise BadRequest(f"The grant is for {grant.length} bytes, not {len(data)}")
        grant.data = data
        return Response(b"", 200)

    async def commit(self, request: Request, xorb: str) -> Response:
        grant_id = request.path_params["grant_id"]
        grant = self._open.get(grant_id)
        if grant is None or grant.xorb != xorb or grant.data is None:
            raise NotFound("No uploaded data for this grant")
        inserted = await run_in_threadpool(self.services.state.put_xorb, xorb, grant.data)
        with self._lock:
            self._open.pop(grant_id, None)
        return json_response({"was_inserted": inserted})

    def _sign(self, grant_id: str) -> str:
        return self.services.xet_tokens.sign(f"grant:{grant_id}", 0)
