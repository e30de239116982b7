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
    from heldout.commands import compete_cmds, queue_cmds, setup_cmds, verify_cmd

    parser = argparse.ArgumentParser(prog="heldout", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"heldout {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log more, every HTTP request included"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    queue_cmds.register(sub, _config_option)
    setup_cmds.register(sub, _config_option)
    verify_cmd.register(sub)
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


# Libraries that log one line per request at INFO: shown with -v only.
CHATTY = ("httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "filelock", "gradio")


class _Once(logging.Filter):
    """Pass each distinct warning once: libraries repeat theirs on every call."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = record.getMessage()
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def configure_logging(verbose: bool) -> None:
    """What a person needs by default (heldout's own lines, each warning once); `-v` adds
    heldout's debug lines and every library's INFO lines, one per HTTP request included."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # huggingface_hub installs its own handler (at import) and still propagates to ours:
    # without this, each of its warnings is printed twice.
    import huggingface_hub.utils.logging  # noqa: F401  (installs that handler now)

    hub_logger = logging.getLogger("huggingface_hub")
    for handler in list(hub_logger.handlers):
        hub_logger.removeHandler(handler)
    hub_logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)
    if verbose:
        logging.getLogger("heldout").setLevel(logging.DEBUG)
        return
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Once) for f in handler.filters):
            handler.addFilter(_Once())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from heldout.hub_emulator.__main__ import main as emulator_main

        return emulator_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except HeldoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
