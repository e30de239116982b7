"""HTTP side of the OpenID provider: discovery, sign-in page, token, userinfo, JWKS.

The sign-in page asks only for a user name: the emulator trusts whoever types it,
which is what a local stand-in for "Sign in with Hugging Face" needs. Everything the
page echoes (client id, redirect URI, state, nonce, the name typed) is HTML-escaped.
"""

from __future__ import annotations

import base64
import binascii
import html
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from heldout.hub_emulator.auth import Access, is_valid_username
from heldout.hub_emulator.oidc import OAuthError, OidcProvider
from heldout.hub_emulator.responses import base_url, json_response

_HIDDEN_FIELDS = ("client_id", "redirect_uri", "state", "nonce", "scope", "response_type")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to the local Hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
label,input,button{{display:block;font-size:1rem;margin:.4rem 0}}input{{width:100%;padding:.4rem}}
.error{{color:#a00}}</style></head>
<body><h1>Sign in to the local Hub</h1>
<p>Application <code>{client}</code> asks to know who you are.</p>
{error}<form method="post" action="/oauth/authorize">
{hidden}<label for="username">Username</label>
<input id="username" name="username" value="{username}" autocomplete="username" required autofocus>
<button type="submit">Sign in</button></form>
<p><small>Local Hub emulator: any valid user name signs in, no password.</small></p>
</body></html>
"""


def _esc(value: str | None) -> str:
    return html.escape(value or "", quote=True)


def _page(
    params: dict[str, str], username: str = "", error: str = "", status: int = 200
) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{_esc(params.get(name))}">\n'
        for name in _HIDDEN_FIELDS
        if params.get(name) is not None
    )
    body = _PAGE.format(
        client=_esc(params.get("client_id")),
        error=f'<p class="error" role="alert">{_esc(error)}</p>\n' if error else "",
        hidden=hidden,
        username=_esc(username),
    )
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"}
    return HTMLResponse(body, status_code=status, headers={**headers, **_NO_STORE})


def _problem(message: str) -> Response:
    """A request that cannot be sent back to the client (unknown client, bad redirect)."""
    body = (
        f"<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p>{_esc(message)}</p>"
    )
    return HTMLResponse(body, status_code=400)


def _check_request(provider: OidcProvider, params: dict[str, str]) -> str | None:
    if not provider.known_client(params.get("client_id")):
        return "Unknown client_id."
    redirect = urlsplit(params.get("redirect_uri") or "")
    if redirect.scheme not in ("http", "https") or not redirect.netloc:
        return "redirect_uri must be an absolute http(s) URL."
    if params.get("response_type", "code") != "code":
        return "Only response_type=code is supported."
    return None


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _form(request: Request) -> dict[str, str]:
    return dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )


def oidc_routes(provider: OidcProvider, access: Access) -> list[Route]:
    async def discovery(request: Request) -> Response:
        return json_response(provider.discovery(base_url(request)))

    async def jwks(request: Request) -> Response:
        return json_response(provider.jwks())

    async def authorize_page(request: Request) -> Response:
        params = dict(request.query_params)
        problem = _check_request(provider, params)
        return _problem(problem) if problem else _page(params)

    async def authorize_submit(request: Request) -> Response:
        form = await _form(request)
        params = {name: form[name] for name in _HIDDEN_FIELDS if name in form}
        problem = _check_request(provider, params)
        if problem:
            return _problem(problem)
        username = form.get("username", "").strip()
        if not is_valid_username(username):
            error = (
                "Invalid username: use 1 to 41 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit."
            )
            return _page(params, username, error, status=400)
        code = provider.issue_code(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            user=username,
            nonce=params.get("nonce"),
            scope=params.get("scope") or "openid profile",
        )
        extra = {"code": code}
        if params.get("state") is not None:
            extra["state"] = params["state"]
        return RedirectResponse(_with_query(params["redirect_uri"], extra), status_code=302)

    async def token(request: Request) -> Response:
        form = await _form(request)
        try:
            client_id, secret = _client_credentials(request, form)
            client_id = provider.authenticate(client_id, secret)
            if form.get("grant_type") != "authorization_code":
                raise OAuthError("unsupported_grant_type", "Only authorization_code is supported")
            grant = provider.redeem(form.get("code"), client_id, form.get("redirect_uri"))
        except OAuthError as error:
            headers = dict(_NO_STORE)
            if error.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="local-hub"'
            body = {"error": error.error, "error_description": error.description}
            return json_response(body, error.status, headers)
        return json_response(provider.tokens(grant, base_url(request)), headers=_NO_STORE)

    async def userinfo(request: Request) -> Response:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        user = access.user_for_token(bearer.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return json_response({"error": "invalid_token"}, 401, headers)
        return json_response(provider.profile(user, base_url(request)))

    async def avatar(request: Request) -> Response:
        name = request.path_params["name"]
        letter = _esc(name[:1].upper() or "?")
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            '<rect width="64" height="64" fill="#ffd21e"/>'
            f'<text x="32" y="42" font-size="32" text-anchor="middle">{letter}</text></svg>'
        )
        return Response(svg, media_type="image/svg+xml")

    return [
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/oauth/jwks", jwks, methods=["GET"]),
        Route("/oauth/authorize", authorize_page, methods=["GET"]),
        Route("/oauth/authorize", authorize_submit, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/userinfo", userinfo, methods=["GET", "POST"]),
        Route("/avatars/{name}.svg", avatar, methods=["GET"]),
    ]


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic (Authorization header) or client_secret_post (form fields)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise OAuthError("invalid_client", "Malformed Basic credentials", 401) from error
        client_id, _, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id"), form.get("client_secret")
