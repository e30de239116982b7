"""The OpenID provider end to end, with authlib's client as gradio uses it, and its refusals."""

from __future__ import annotations

import re
import secrets
from html.parser import HTMLParser

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from huggingface_hub import HfApi
from joserfc import jwt
from joserfc.jwk import KeySet

from heldout.hub_emulator import EmulatorServer

CLIENT_ID, CLIENT_SECRET = "heldout-local", "heldout-local-secret"
REDIRECT = "http://127.0.0.1:9/login/callback"


class FormReader(HTMLParser):
    """The sign-in form's fields, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.labels: list[str] = []
        self.buttons: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""  # type: ignore[index]
        self._in = tag if tag in ("label", "button") else None

    def handle_data(self, data: str) -> None:
        if self._in == "label":
            self.labels.append(data.strip())
        elif self._in == "button":
            self.buttons.append(data.strip())


def sign_in(http: httpx.Client, authorize_url: str, username: str) -> httpx.Response:
    page = http.get(authorize_url)
    assert page.status_code == 200 and "Sign in to the local Hub" in page.text
    form = FormReader()
    form.feed(page.text)
    assert "Username" in form.labels and "Sign in" in form.buttons and "username" in form.fields
    return http.post("/oauth/authorize", data={**form.fields, "username": username})


def discovery(http: httpx.Client) -> dict:
    return http.get("/.well-known/openid-configuration").json()


def test_discovery_document(emulator: EmulatorServer, http: httpx.Client) -> None:
    meta = discovery(http)
    assert meta["issuer"] == emulator.url
    assert meta["authorization_endpoint"] == f"{emulator.url}/oauth/authorize"
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )
    assert http.get("/oauth/jwks").json()["keys"][0]["kty"] == "RSA"


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_the_full_flow_with_authlib(
    emulator: EmulatorServer, http: httpx.Client, auth_method: str
) -> None:
    meta = discovery(http)
    client = OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope="openid profile", redirect_uri=REDIRECT,
        token_endpoint_auth_method=auth_method,
    )  # fmt: skip
    nonce = secrets.token_urlsafe(8)
    url, state = client.create_authorization_url(meta["authorization_endpoint"], nonce=nonce)
    redirect = sign_in(http, url, "alice")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT) and f"state={state}" in location
    token = client.fetch_token(meta["token_endpoint"], authorization_response=location)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0

    keys = KeySet.import_key_set(http.get("/oauth/jwks").json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": emulator.url},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    claims = decoded.claims
    assert claims["preferred_username"] == "alice" and claims["name"] == "alice"
    assert claims["profile"].endswith("/alice") and claims["picture"] and claims["sub"]

    access = token["access_token"]
    assert HfApi(endpoint=emulator.url, token=access).whoami()["name"] == "alice"
    info = http.get("/oauth/userinfo", headers={"authorization": f"Bearer {access}"}).json()
    assert info["preferred_username"] == "alice" and info["sub"] == claims["sub"]


def _code(http: httpx.Client, **extra: str) -> str:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "state": "s",
    }
    redirect = sign_in(http, str(httpx.URL("/oauth/authorize", params={**params, **extra})), "bob")
    match = re.search(r"[?&]code=([^&]+)", redirect.headers["location"])
    assert match
    return match.group(1)


def test_bad_client_secret_is_401_and_a_code_works_once(http: httpx.Client) -> None:
    code = _code(http)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = http.post("/oauth/token", data=form, auth=(CLIENT_ID, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    code = _code(http)
    form["code"] = code
    assert http.post("/oauth/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 200
    again = http.post("/oauth/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_redirect_uri_must_match(http: httpx.Client) -> None:
    code = _code(http)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://evil.test/cb"}
    answer = http.post("/oauth/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_unknown_clients_and_bad_redirects_get_no_form(http: httpx.Client) -> None:
    unknown = http.get("/oauth/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT})
    assert unknown.status_code == 400 and "<form" not in unknown.text
    script = http.get(
        "/oauth/authorize", params={"client_id": CLIENT_ID, "redirect_uri": "javascript:alert(1)"}
    )
    assert script.status_code == 400 and "<form" not in script.text


def test_the_sign_in_page_escapes_what_it_echoes(http: httpx.Client) -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": f"http://127.0.0.1:9/cb?x={hostile}",
        "state": hostile,
        "nonce": hostile,
        "response_type": "code",
    }
    page = http.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;" in page.text
    refused = http.post("/oauth/authorize", data={**params, "username": hostile})
    assert refused.status_code == 400 and "Invalid username" in refused.text
    assert "<script>" not in refused.text and "<img" not in refused.text


def test_userinfo_refuses_a_bad_token(http: httpx.Client) -> None:
    answer = http.get("/oauth/userinfo", headers={"authorization": "Bearer nope"})
    assert answer.status_code == 401


def test_authlib_starlette_client_as_gradio_registers_it(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    """The same authlib calls gradio makes on a Space: metadata URL, redirect, token, id_token."""
    from authlib.integrations.starlette_client import OAuth
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    oauth = OAuth()
    oauth.register(
        name="huggingface",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_kwargs={"scope": "openid profile"},
        server_metadata_url=f"{emulator.url}/.well-known/openid-configuration",
    )

    async def login(request: Request):
        return await oauth.huggingface.authorize_redirect(request, "http://testserver/callback")

    async def callback(request: Request):
        info = await oauth.huggingface.authorize_access_token(request)
        return JSONResponse({"user": info["userinfo"]["preferred_username"]})

    app = Starlette(
        routes=[Route("/login", login), Route("/callback", callback)],
        middleware=[Middleware(SessionMiddleware, secret_key="test")],
    )
    with TestClient(app) as space:
        to_hub = space.get("/login", follow_redirects=False)
        assert to_hub.status_code == 302
        back = sign_in(http, to_hub.headers["location"], "dora")
        callback_url = httpx.URL(back.headers["location"])
        answer = space.get(f"/callback?{callback_url.query.decode()}")
    assert answer.status_code == 200 and answer.json() == {"user": "dora"}
