"""Short-lived Xet CAS tokens, and the key that signs xorb fetch URLs.

Kept in memory only: after a restart a client's token is refused with 401, and the
client asks the Hub's token route for a new one, as it would when a token expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from heldout.hub_emulator.errors import Forbidden, Unauthorized

TOKEN_LIFETIME = 3600
RepoKey = tuple[str, str]


@dataclass
class XetTokens:
    """CAS tokens handed out by the token routes (in memory: after a restart, clients
    get a 401 and ask for a new one), and the key that signs xorb fetch URLs.

    A token is scoped to the repo it was issued for, as the spec says: its files are
    the only ones it can read (see `CasIndex.owners`)."""

    _tokens: dict[str, tuple[bool, float, RepoKey]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def issue(self, write: bool, repo: RepoKey) -> tuple[str, int]:
        expires = int(time.time()) + TOKEN_LIFETIME
        token = f"xet_local_{secrets.token_hex(20)}"
        with self._lock:
            now = time.time()
            for old in [key for key, found in self._tokens.items() if found[1] < now]:
                del self._tokens[old]
            self._tokens[token] = (write, expires, repo)
        return token, expires

    def check(self, authorization: str | None, *, write: bool) -> RepoKey:
        """The repo a valid token is for; 401 for no, an unknown or an expired token."""
        scheme, _, token = (authorization or "").partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.time():
            raise Unauthorized("Missing, unknown or expired Xet token")
        if write and not found[0]:
            raise Forbidden("This Xet token only allows reading")
        return found[2]

    def sign(self, xorb: str, expires: int) -> str:
        message = f"{xorb}:{expires}".encode()
        return hmac.new(self.signing_key, message, hashlib.sha256).hexdigest()
