"""`heldout worker`: run an evaluator worker from heldout.toml.

`add_arguments` and `run` are what `heldout/cli.py` wires in; `main` runs the same
command on its own (`python -m heldout.evaluator.cli`), for tests and scripts.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from heldout.config import load_config
from heldout.errors import ConfigError, HeldoutError

if TYPE_CHECKING:
    from heldout.evaluator.worker import Worker

log = logging.getLogger("heldout.evaluator")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's own options; the caller adds the shared `-c/--config`."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="work through every job that can be claimed now, then exit (for cron and scripts)",
    )
    parser.add_argument(
        "--id",
        dest="worker_id",
        default=None,
        help="this worker's name in the queue; must be unique (default: host-pid-random)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        metavar="K",
        help="score K jobs at once, each in its own process (default: %(default)s)",
    )
    parser.add_argument(
        "--webhook-host",
        default="0.0.0.0",
        metavar="HOST",
        help="address the webhook endpoint binds (default: %(default)s, as on a Space)",
    )
    parser.add_argument(
        "--webhook-port",
        type=int,
        default=7860,
        metavar="PORT",
        help="port of the Hub webhook endpoint, served when evaluator.webhook_secret_env is "
        "set (default: %(default)s, a Space's port)",
    )


@contextmanager
def signals_stop(worker: Worker) -> Iterator[None]:
    """While the worker runs, SIGTERM and SIGINT stop it cleanly; the previous handlers
    come back after. Only the main thread may install handlers: a worker run in a
    thread (a Space's app.py) is stopped by its host instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        log.info("received %s: finishing the current commit, then stopping", name)
        worker.request_stop()

    before = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    from heldout.evaluator.webhook import WebhookServer, webhook_secret
    from heldout.evaluator.worker import Worker
    from heldout.queue.backends import open_queue

    config = load_config(args.config)
    if config.evaluator is None:
        raise ConfigError(f"{args.config} has no [evaluator] section; a worker needs one")
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    from heldout.preflight import check_queue_access

    check_queue_access(config, write=True)  # refuse at start; a queue lost later is retried
    worker = Worker(
        open_queue(config), config, worker_id=args.worker_id, concurrency=args.concurrency
    )
    server = None
    secret = webhook_secret(config)
    if secret and not args.once:
        server = WebhookServer(
            secret,
            config.storage.queue_repo,
            lambda _sha: worker.wake(),
            host=args.webhook_host,
            port=args.webhook_port,
        )
        server.start()
        worker.webhook = True  # woken at each change: idle polls can be rare
    try:
        with signals_stop(worker):
            return worker.run(once=args.once)
    finally:
        if server is not None:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heldout worker", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default="heldout.toml", help="default: %(default)s")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    add_arguments(parser)
    args = parser.parse_args(argv)
    from heldout.cli import configure_logging

    configure_logging(args.verbose)  # the same as `heldout worker`: no line per request
    try:
        return run(args)
    except HeldoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
