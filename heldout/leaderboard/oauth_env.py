"""Sign-in configuration, which gradio reads from the environment when it is imported.

gradio's real OAuth flow (authlib against an OpenID provider) only runs "on a Space":
`gradio.utils.get_space()` must see `SYSTEM=spaces` and a `SPACE_ID`, and
`gradio.oauth` copies `OAUTH_CLIENT_ID`, `OAUTH_CLIENT_SECRET`, `OAUTH_SCOPES` and
`OPENID_PROVIDER_URL` into module constants at import time. Off a Space, gradio
instead installs mocked routes that call `whoami()` on huggingface.co at startup.

So locally, and in tests, `configure_local_oauth` writes the same variables a Space
gets, pointing at the Hub emulator's provider, before gradio is imported. What Space
mode changes besides sign-in was checked in gradio 6.31's source:

- `Blocks.launch()` would start a hot-reload watcher that needs the `spaces`
  package; `heldout.leaderboard.server` serves through uvicorn itself instead, so no
  launch(), no reloader, no share tunnel.
- `Blocks.api_open` becomes False (queued events cannot skip the queue): wanted.
- The redirect URI uses `SPACE_HOST` when set; it is removed here so the callback
  comes back to the local server.
- The version check and analytics call out to the internet; they are turned off.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

DEFAULT_SCOPES = "openid profile"
DEFAULT_SPACE_ID = "local/heldout-leaderboard"
_OAUTH_VARS = ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL")


class OAuthSetupError(RuntimeError):
    """Sign-in cannot be configured: gradio was imported too early, or a value is missing."""


def quiet_environment() -> None:
    """Switch off everything in gradio and huggingface_hub that phones home."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("GRADIO_SSR_MODE", "False")


def configure_local_oauth(
    provider_url: str,
    client_id: str,
    client_secret: str,
    *,
    scopes: str = DEFAULT_SCOPES,
    space_id: str = DEFAULT_SPACE_ID,
) -> None:
    """Make gradio run its real OAuth flow against `provider_url`.

    Must run before `gradio` is imported; raises `OAuthSetupError` otherwise, since a
    late call would silently leave gradio with the old values.
    """
    parts = urlsplit(provider_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OAuthSetupError(f"the OpenID provider must be an http(s) URL, not {provider_url!r}")
    if not client_id or not client_secret:
        raise OAuthSetupError("an OAuth client id and secret are both required")
    provider_url = provider_url.rstrip("/")
    wanted = {
        "OAUTH_CLIENT_ID": client_id,
        "OAUTH_CLIENT_SECRET": client_secret,
        "OAUTH_SCOPES": scopes,
        "OPENID_PROVIDER_URL": provider_url,
    }
    _refuse_if_imported(wanted)
    quiet_environment()
    os.environ.update(wanted)
    os.environ["SYSTEM"] = "spaces"
    os.environ["SPACE_ID"] = space_id
    os.environ.pop("SPACE_HOST", None)


def on_a_space() -> bool:
    """True when the environment already carries a Space's OAuth settings."""
    return (
        os.environ.get("SYSTEM") == "spaces"
        and bool(os.environ.get("SPACE_ID"))
        and all(os.environ.get(name) for name in _OAUTH_VARS)
    )


def _refuse_if_imported(wanted: dict[str, str]) -> None:
    module = sys.modules.get("gradio.oauth")
    if module is None:
        return
    if any(getattr(module, name, None) != value for name, value in wanted.items()):
        raise OAuthSetupError(
            "gradio was imported before the sign-in settings were made; "
            "call configure_local_oauth() first (in a fresh process)"
        )
