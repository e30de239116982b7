"""An OpenID Connect provider like huggingface.co's: codes, tokens and signed id_tokens.

gradio's login (authlib) on a Space needs exactly this: a discovery document, an
authorization code that remembers the nonce, a token endpoint that checks the client
secret, and an RS256 id_token whose signature verifies against the published JWKS.
The access token it hands out is a real emulator token, so `whoami-v2` and Hub writes
work with it as they do with a Hub OAuth token.

No HTTP here; `oidc_routes.py` serves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from heldout.hub_emulator.journal import write_atomic
from heldout.hub_emulator.responses import avatar_url, fake_id
from heldout.hub_emulator.settings import EmulatorSettings
from heldout.hub_emulator.state import HubState

CODE_SECONDS = 120
ACCESS_TOKEN_SECONDS = 8 * 3600
ID_TOKEN_SECONDS = 3600
SCOPES = [
    "openid",
    "profile",
    "email",
    "read-repos",
    "write-repos",
    "manage-repos",
    "inference-api",
]
KEY_FILE = "oidc-key.json"


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the code, `status` the HTTP status to answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Grant:
    """What an authorization code stands for, until it is redeemed once."""

    client_id: str
    redirect_uri: str
    user: str
    nonce: str | None
    scope: str
    expires: float


def load_or_create_key(data_dir: Path | None) -> RSAKey:
    """The signing key; kept in `data_dir` so id_tokens stay verifiable across restarts."""
    path = data_dir / KEY_FILE if data_dir is not None else None
    if path is not None and path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    key = RSAKey.generate_key(2048, auto_kid=True)
    if path is not None:
        write_atomic(path, json.dumps(key.as_dict(private=True)).encode())
        os.chmod(path, 0o600)
    return key


class OidcProvider:
    def __init__(self, settings: EmulatorSettings, state: HubState) -> None:
        self._settings = settings
        self._state = state
        self._key = load_or_create_key(settings.data_dir)
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ documents
    def discovery(self, issuer: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "userinfo_endpoint": f"{issuer}/oauth/userinfo",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": SCOPES,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": [
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "sub",
                "name",
                "preferred_username",
                "profile",
                "picture",
            ],  # fmt: skip
        }

    def jwks(self) -> dict[str, Any]:
        public = self._key.as_dict(private=False)
        return {"keys": [{**public, "use": "sig", "alg": "RS256"}]}

    def profile(self, user: str, issuer: str) -> dict[str, Any]:
        """The user's standard claims, for the id_token and for userinfo."""
        return {
            "sub": fake_id("user", user),
            "name": user,
            "preferred_username": user,
            "profile": f"{issuer}/{user}",
            "picture": avatar_url(issuer, user),
        }

    # --------------------------------------------------------------- clients
    def known_client(self, client_id: str | None) -> bool:
        return bool(client_id) and client_id in self._settings.oauth_clients

    def authenticate(self, client_id: str | None, secret: str | None) -> str:
        """The client id if the secret is right; constant-time so it leaks nothing."""
        expected = self._settings.oauth_clients.get(client_id or "")
        if (
            expected is None
            or secret is None
            or not hmac.compare_digest(expected.encode(), secret.encode())
        ):
            raise OAuthError("invalid_client", "Client authentication failed", 401)
        assert client_id is not None
        return client_id

    # ----------------------------------------------------------------- codes
    def issue_code(
        self, *, client_id: str, redirect_uri: str, user: str, nonce: str | None, scope: str
    ) -> str:
        code = secrets.token_urlsafe(32)
        grant = Grant(client_id, redirect_uri, user, nonce, scope, time.time() + CODE_SECONDS)
        with self._lock:
            now = time.time()
            for stale in [c for c, g in self._grants.items() if g.expires < now]:
                del self._grants[stale]
            self._grants[code] = grant
        return code

    def redeem(self, code: str | None, client_id: str, redirect_uri: str | None) -> Grant:
        """The grant behind `code`, which can never be used again, even if a check fails."""
        with self._lock:
            grant = self._grants.pop(code or "", None)
        if grant is None or grant.expires < time.time():
            raise OAuthError("invalid_grant", "The code is invalid, expired or already used")
        if grant.client_id != client_id:
            raise OAuthError("invalid_grant", "The code was issued to another client")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        return grant

    def tokens(self, grant: Grant, issuer: str) -> dict[str, Any]:
        """The token response: a fresh access token for the user and a signed id_token."""
        access_token = self._state.issue_token(grant.user, ACCESS_TOKEN_SECONDS)
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": grant.client_id,
            "iat": now,
            "auth_time": now,
            "exp": now + ID_TOKEN_SECONDS,
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
            **self.profile(grant.user, issuer),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode(
            {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}, claims, self._key
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": grant.scope,
            "id_token": id_token,
        }
