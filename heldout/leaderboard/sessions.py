"""Sign-in sessions the server can end, and the gate in front of gradio's upload route.

gradio keeps the OAuth sign-in in a signed cookie (Starlette's `SessionMiddleware`) and
nothing on the server: its `/logout` only drops the data from the cookie it sends back,
so a copy of the cookie taken before logout stays valid. `SessionGuard` runs just
inside gradio's `SessionMiddleware` and gives every signed-in session an id that the
server must know (`Sessions`). Logout forgets the id; a cookie whose id is unknown
(replayed after logout, or from before a restart) is treated as signed out.

The same guard hands `POST /gradio_api/upload` to `UploadGate`, which knows who is
signed in: gradio itself lets anyone upload.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from heldout.leaderboard.uploads import UploadGate

SID = "heldout_session"
MAX_AGE = 14 * 24 * 3600  # Starlette's default cookie lifetime
MAX_SESSIONS = 100_000


class Sessions:
    """The live sign-in sessions, in memory. A restart signs everyone out."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._live: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, user: str, expires_at: float | None = None) -> str:
        now = self.clock()
        deadline = min(expires_at or now + MAX_AGE, now + MAX_AGE)
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._live[sid] = (user, deadline)
            while len(self._live) > MAX_SESSIONS:  # the oldest sign-in must sign in again
                self._live.popitem(last=False)
        return sid

    def live(self, sid: Any) -> bool:
        if not isinstance(sid, str):
            return False
        with self._lock:
            found = self._live.get(sid)
            if found is None:
                return False
            if found[1] < self.clock():
                del self._live[sid]
                return False
            return True

    def close(self, sid: Any) -> None:
        if isinstance(sid, str):
            with self._lock:
                self._live.pop(sid, None)


def signed_in_user(session: dict[str, Any]) -> str | None:
    """The Hub user name of a session, as gradio's `OAuthProfile` would read it."""
    info = session.get("oauth_info")
    if not isinstance(info, dict):
        return None
    name = (info.get("userinfo") or {}).get("preferred_username")
    expires_at = info.get("expires_at")
    if isinstance(expires_at, (int, float)) and expires_at < time.time():
        return None
    return name if isinstance(name, str) and name else None


class SessionGuard:
    """Pure ASGI middleware, installed inside gradio's `SessionMiddleware`."""

    def __init__(self, app: Any, sessions: Sessions, uploads: UploadGate) -> None:
        self.app, self.sessions, self.uploads = app, sessions, uploads

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope["session"]  # KeyError: not inside SessionMiddleware, a wiring bug
        if "oauth_info" in session and not self.sessions.live(session.get(SID)):
            session.pop("oauth_info", None)  # logged out, or forgotten: signed out now
            session.pop(SID, None)
        path = scope["path"]
        if path.endswith("/logout"):
            self.sessions.close(session.pop(SID, None))
        if path.endswith("/gradio_api/upload") and scope["method"] == "POST":
            await self.uploads(scope, receive, send, self.app, signed_in_user(session))
            return

        async def send_with_session(message: Any) -> None:
            # A sign-in that just completed (gradio's /login/callback) gets its id here,
            # before SessionMiddleware writes the cookie.
            if message["type"] == "http.response.start" and SID not in session:
                user = signed_in_user(session)
                if user is not None:
                    expires = session["oauth_info"].get("expires_at")
                    expires = expires if isinstance(expires, (int, float)) else None
                    session[SID] = self.sessions.open(user, expires)
            await send(message)

        await self.app(scope, receive, send_with_session)


def install(gradio_app: Any, sessions: Sessions, uploads: UploadGate) -> None:
    """Put `SessionGuard` just inside the session middleware gradio added for OAuth.

    Checked against gradio 6.31 (`oauth.attach_oauth` adds Starlette's
    SessionMiddleware to its own app); fails loudly if gradio changes that."""
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    stack = gradio_app.user_middleware
    where = [n for n, m in enumerate(stack) if m.cls is SessionMiddleware]
    if len(where) != 1 or gradio_app.middleware_stack is not None:
        raise RuntimeError("gradio's session middleware was not found; cannot guard sessions")
    stack.insert(where[0] + 1, Middleware(SessionGuard, sessions=sessions, uploads=uploads))
