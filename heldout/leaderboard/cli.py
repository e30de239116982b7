"""`heldout leaderboard`: serve the Gradio leaderboard.

gradio reads the sign-in settings when it is imported, so this module imports
nothing of gradio at the top: `run` first sets the environment (`oauth_env`), then
imports the app.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from heldout.config import Config, load_config
from heldout.errors import ConfigError

if TYPE_CHECKING:  # gradio is imported only once the sign-in settings are made
    import gradio as gr

    from heldout.queue.jobs import JobQueue
from heldout.leaderboard.oauth_env import (
    OAuthSetupError,
    configure_local_oauth,
    on_a_space,
    quiet_environment,
)

SECRET_ENV = "HELDOUT_OAUTH_CLIENT_SECRET"
EMULATOR_SECRET = "heldout-local-secret"
PUBLIC_SECRETS = (EMULATOR_SECRET,)
"""Client secrets anyone can read in heldout's source: a board refuses them everywhere
(a reverse proxy makes a loopback address public). `heldout demo` makes a random one."""
NO_SECRET = (
    f"sign-in needs the OAuth client secret registered at the provider: pass "
    f"--oauth-client-secret or set ${SECRET_ENV} (`heldout emulator` prints its secret)"
)
NO_PROVIDER = (
    "sign-in needs an OpenID provider: pass --oauth-provider URL (for example the URL of "
    "`heldout emulator`), or run on a Space with `hf_oauth: true`"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The leaderboard's own options; `-c/--config` is added by the caller."""
    parser.add_argument(
        "--port", type=int, default=None, help="port to serve on (default: leaderboard.port)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--oauth-provider",
        metavar="URL",
        help="OpenID Connect provider for sign-in off a Space, e.g. the Hub emulator's URL",
    )
    parser.add_argument(
        "--oauth-client-id",
        default="heldout-local",
        help="OAuth client id at that provider (default: %(default)s)",
    )
    parser.add_argument(
        "--oauth-client-secret",
        default=None,
        help=f"OAuth client secret (default: ${SECRET_ENV})",
    )


def run(args: argparse.Namespace) -> int:
    from heldout.preflight import check_queue_access

    config = load_config(args.config)
    check_queue_access(config, write=True)  # a config that cannot work stops here
    if args.oauth_provider:
        secret = args.oauth_client_secret or os.environ.get(SECRET_ENV)
        if not secret:
            raise ConfigError(NO_SECRET)
        if secret in PUBLIC_SECRETS:
            # gradio signs session cookies with a key derived from the client secret: with
            # a well-known one anyone could forge a session, a reviewer's included.
            raise ConfigError(
                f"the OAuth client secret {secret!r} is public, so anyone could forge a "
                f"session; start the provider with a secret of your own and pass it with "
                f"--oauth-client-secret or ${SECRET_ENV}"
            )
        try:
            configure_local_oauth(args.oauth_provider, args.oauth_client_id, secret)
        except OAuthSetupError as exc:
            raise ConfigError(str(exc)) from None
    elif not on_a_space():
        raise ConfigError(NO_PROVIDER)
    quiet_environment()

    from heldout.leaderboard.server import serve

    port = args.port if args.port is not None else config.leaderboard.port
    serve(build_app(config, local=bool(args.oauth_provider)), config, args.host, port)
    return 0


def build_app(config: Config, queue: JobQueue | None = None, *, local: bool) -> gr.Blocks:
    """The app; `local` when sign-in goes to a local provider rather than a real Space."""
    from heldout.leaderboard.app import create_app

    blocks = create_app(config, queue)
    if local:
        # Sign-in runs in Space mode, but there is no Space: without this the page would
        # fetch huggingface.co/api/spaces/<id> to draw a Space header. (The server's
        # Content-Security-Policy blocks that too; this keeps the browser from trying.)
        blocks.space_id = None
    return blocks


def main(argv: list[str] | None = None) -> int:
    """`python -m heldout.leaderboard`, for when the `heldout` command is not wired."""
    import logging
    import sys

    parser = argparse.ArgumentParser(
        prog="heldout leaderboard", description=__doc__.splitlines()[0]
    )
    parser.add_argument("-c", "--config", default="heldout.toml", help="path to heldout.toml")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
