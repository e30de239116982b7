"""The `heldout` command, for maintainers and reviewers.

Shared options are declared once; each subcommand lives in a small module and
imports its heavy dependencies (gradio, the Hub client) only when it runs. Every
error prints one clear line and exits non-zero; no stack trace reaches the terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from heldout import __version__
from heldout.errors import HeldoutError

Handler = Callable[[argparse.Namespace], int]


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", default="heldout.toml", help="path to heldout.toml (default: %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    from heldout.commands import compete_cmds, queue_cmds, setup_cmds

    parser = argparse.ArgumentParser(prog="heldout", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"heldout {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    queue_cmds.register(sub, _config_option)
    setup_cmds.register(sub, _config_option)
    compete_cmds.register(sub, _config_option)
    _register_services(sub)
    return parser


def _register_services(sub: argparse._SubParsersAction) -> None:
    """The long-running parts: each owns its own options."""
    # `main` hands `heldout emulator ...` straight to the emulator's own parser.
    sub.add_parser("emulator", help="serve the local Hub emulator (see: heldout emulator --help)")

    worker = sub.add_parser("worker", help="run an evaluator worker")
    _config_option(worker)
    from heldout.evaluator import cli as worker_cli

    worker_cli.add_arguments(worker)
    worker.set_defaults(handler=worker_cli.run)

    board = sub.add_parser("leaderboard", help="serve the Gradio leaderboard")
    _config_option(board)
    from heldout.leaderboard import cli as board_cli

    board_cli.add_arguments(board)
    board.set_defaults(handler=board_cli.run)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from heldout.hub_emulator.__main__ import main as emulator_main

        return emulator_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except HeldoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
