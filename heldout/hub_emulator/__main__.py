"""`python -m heldout.hub_emulator`: serve a local Hub until Ctrl-C.

`heldout emulator ...` calls `main` too.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from heldout.hub_emulator.server import EmulatorServer
from heldout.hub_emulator.settings import EmulatorSettings

CLIENT_ID = "heldout-local"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heldout.hub_emulator",
        description="A local stand-in for the Hugging Face Hub API and its OpenID provider.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, help="keep repos here across restarts")
    parser.add_argument("--page-size", type=int, default=1000, help="tree listing page size")
    parser.add_argument("--commit-quota", type=int, help="commits per repo per rolling hour")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of requests failed")
    parser.add_argument(
        "--oauth-client-secret",
        help=f"secret of the OpenID client {CLIENT_ID!r} (default: random, kept in --data-dir)",
    )
    parser.add_argument(
        "--users-file",
        type=Path,
        help="TOML with [tokens] (token = user) and [orgs] (org = [users])",
    )
    return parser


def load_users(path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Extra tokens and organisations from a TOML file; refuses anything ill-shaped."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tokens = data.get("tokens", {})
    orgs = data.get("orgs", {})
    if not isinstance(tokens, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()
    ):
        raise ValueError(f"{path}: [tokens] must map token strings to user names")
    if not isinstance(orgs, dict) or not all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in orgs.values()
    ):
        raise ValueError(f"{path}: [orgs] must map organisation names to lists of user names")
    return tokens, orgs


def client_secret(data_dir: Path | None) -> str:
    """A random client secret, the same for every run on one data dir.

    The leaderboard signs its session cookies with a key derived from this secret, so
    it must never be a value anyone can read in heldout's source."""
    if data_dir is None:
        return secrets.token_urlsafe(32)
    path = Path(data_dir) / "oauth-client-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    return secret


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    tokens: dict[str, str] = {}
    orgs: dict[str, list[str]] = {}
    try:
        if args.users_file is not None:
            tokens, orgs = load_users(args.users_file)
        settings = EmulatorSettings(
            tokens=tokens,
            orgs=orgs,
            page_size=args.page_size,
            commit_quota_per_hour=args.commit_quota,
            fault_rate=args.fault_rate,
            data_dir=args.data_dir,
            oauth_clients={CLIENT_ID: args.oauth_client_secret or client_secret(args.data_dir)},
        )
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        parser.error(str(error))
    server = EmulatorServer(settings, host=args.host, port=args.port)
    try:
        server.start()
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(
        f"Local Hub at {server.url} - use HF_ENDPOINT={server.url} with token hf_test_<name> "
        f"(e.g. HF_TOKEN=hf_test_alice); OpenID provider at {server.url}. Ctrl-C to stop.",
        flush=True,
    )
    secret = settings.oauth_clients[CLIENT_ID]
    print(
        f"OpenID client {CLIENT_ID!r}, secret {secret}: heldout leaderboard --oauth-provider "
        f"{server.url} --oauth-client-secret {secret}",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
