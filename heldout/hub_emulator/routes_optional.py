"""Hub endpoints a Hub-compatible server may lack, each switchable off in the settings.

With `paths_info` off, `POST .../paths-info/{rev}` is answered as any route the server
does not know (a plain 404 without `X-Error-Code`), so clients' fallbacks can be tested.
"""

from __future__ import annotations

from starlette.responses import Response

from heldout.hub_emulator import routes_files
from heldout.hub_emulator.errors import NotFound
from heldout.hub_emulator.services import Call


async def paths_info(call: Call) -> Response:
    if not call.services.settings.paths_info:
        raise NotFound(f"{call.request.url.path} is not emulated by the local Hub")
    return await routes_files.paths_info(call)
