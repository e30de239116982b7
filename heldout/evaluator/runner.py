"""Run scoring in a child process, with a timeout and a way to stop it.

Why a child process: a benchmark's scorer is code the worker does not control. It may
hang, leak memory or crash the interpreter; in a child, any of those costs one job,
not the worker. The child is forked, so it inherits the test set already loaded in
the parent (no pickling, no second read of the private file), and it sends back only
the small dict of metrics through a pipe.

`ScoringChild` keeps one child for job after job (forking costs more than scoring a
small file): each job's predictions go down the pipe, its metrics come back. A child
that crashed, hung past its timeout or was cancelled is killed, and the next job
forks a fresh one. `run_in_child` is the one-shot form.

The child holds the labels, so what it raises is not shown to the submitter: the
parent gets the traceback as text, for the maintainer's log only. The one exception is
`InvalidPredictions`, which `score_predictions` (and a scorer, deliberately) raises
with a message written to be shown.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any

from heldout.errors import InvalidPredictions, ScorerError, ScorerTimeout, ScoringCancelled

_SLICE = 0.1  # how often a waiting parent checks whether it was asked to stop
_PR_SET_PDEATHSIG = 1
_STACK_FILE: Any = None
_FORK_LOCK = threading.Lock()


__all__ = ["ScorerTimeout", "ScoringCancelled", "ScoringChild", "run_in_child"]


class ScoringChild:
    """A long-lived forked child that calls `score(payload)` for each payload sent.

    Not thread-safe: give each scoring thread its own. `score` and what it closes
    over (the test set, the scorer) are inherited at fork time, never sent."""

    def __init__(self, score: Callable[[Any], dict[str, float]]) -> None:
        self._score = score
        self._child: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._stack = -1
        self.forks = 0  # how many children this one has needed (1 unless some crashed)

    def run(
        self, payload: Any, *, timeout: float, cancel: threading.Event | None = None
    ) -> dict[str, float]:
        """Score one payload in the child; the child is kept for the next one unless
        it died, hung or was cancelled (then it is killed, and the next call forks)."""
        if self._child is None or not self._child.is_alive():
            self.stop()
            self._start()
        assert self._child is not None and self._conn is not None
        try:
            self._conn.send(payload)
            return _await(self._child, self._conn, timeout, cancel, self._stack)
        except (ScorerTimeout, ScoringCancelled, OSError, EOFError):
            self.stop()
            raise
        except ScorerError:
            if not self._child.is_alive():
                self.stop()
            raise

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        with _FORK_LOCK:
            mine, theirs = ctx.Pipe(duplex=True)
            stack_r, stack_w = os.pipe()
            args = (self._score, theirs, os.getpid(), stack_w)
            child = ctx.Process(target=_serve, args=args, daemon=True)
            with _hub_client_set_aside():
                child.start()
            theirs.close()
            os.close(stack_w)
        self._child, self._conn, self._stack = child, mine, stack_r
        self.forks += 1

    def stop(self) -> None:
        """Kill the child, if any, and close its pipes."""
        child, conn, stack = self._child, self._conn, self._stack
        self._child, self._conn, self._stack = None, None, -1
        if conn is not None:
            conn.close()
        if stack >= 0:
            os.close(stack)
        if child is not None:
            if child.is_alive():
                child.kill()
            child.join()


def run_in_child(
    work: Callable[[], dict[str, float]],
    *,
    timeout: float,
    cancel: threading.Event | None = None,
) -> dict[str, float]:
    """Call `work()` in a forked child and return what it returns.

    Raises `ScorerError` if it raised or the child died, `ScorerTimeout` after
    `timeout` seconds, `ScoringCancelled` as soon as `cancel` is set.
    """
    ctx = multiprocessing.get_context("fork")
    # One fork at a time, so no child inherits the pipe ends meant for another.
    with _FORK_LOCK:
        receive, send = ctx.Pipe(duplex=False)
        stack_r, stack_w = os.pipe()  # where a hung child writes its stack when asked
        args = (work, send, os.getpid(), stack_w)
        child = ctx.Process(target=_child_main, args=args, daemon=True)
        with _hub_client_set_aside():
            child.start()
        send.close()
        os.close(stack_w)
    try:
        return _await(child, receive, timeout, cancel, stack_r)
    finally:
        receive.close()
        os.close(stack_r)
        if child.is_alive():
            child.kill()
        child.join()


def _await(
    child: multiprocessing.process.BaseProcess,
    receive: Connection,
    timeout: float,
    cancel: threading.Event | None,
    stack: int,
) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ScorerTimeout(
                f"the scorer did not finish within {timeout:g} s and was stopped",
                detail="where it was, thread by thread:\n" + _stack_of(child, stack),
            )
        if cancel is not None and cancel.is_set():
            raise ScoringCancelled("scoring was stopped because the worker is shutting down")
        ready = wait([receive, child.sentinel], timeout=min(_SLICE, left))
        if receive in ready or (ready and receive.poll()):
            return _answer(receive, child)
        if child.sentinel in ready:
            child.join()
            raise ScorerError(f"the scoring process died (exit code {child.exitcode})")


@contextmanager
def _hub_client_set_aside() -> Iterator[None]:
    """Hide huggingface_hub's shared HTTP client while forking.

    huggingface_hub closes that client in every forked child (an `os.register_at_fork`
    hook). If another thread of the worker (the heartbeat, the loop) is mid-request at
    that moment, the client's pool lock is held, and the child blocks forever in the
    hook, before the scorer even starts. Seen here in about one fork in ten under load.
    With the client hidden, the hook finds nothing to close.
    """
    http = sys.modules.get("huggingface_hub.utils._http")
    lock = getattr(http, "_CLIENT_LOCK", None)
    if http is None or lock is None or not hasattr(http, "_GLOBAL_CLIENT"):
        yield
        return
    with lock:  # get_session() waits instead of making a second client
        client, http._GLOBAL_CLIENT = http._GLOBAL_CLIENT, None
        try:
            yield
        finally:
            http._GLOBAL_CLIENT = client


def _stack_of(child: multiprocessing.process.BaseProcess, stack: int) -> str:
    """Ask a hung child for its Python stack (faulthandler), for the maintainer's log."""
    if child.pid is None or not child.is_alive():
        return "(the child had already exited)"
    os.kill(child.pid, signal.SIGUSR1)
    chunks: list[bytes] = []
    while select.select([stack], [], [], 0.5)[0]:
        chunk = os.read(stack, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace") or "(no answer)"


def _answer(receive: Connection, child: multiprocessing.process.BaseProcess) -> dict[str, float]:
    try:
        kind, value = receive.recv()
    except (EOFError, OSError):
        child.join(timeout=1.0)
        raise ScorerError(f"the scoring process died (exit code {child.exitcode})") from None
    if kind == "ok":
        return value
    if kind == "invalid":
        raise InvalidPredictions(value)
    summary, _, detail = str(value).partition("\n")
    raise ScorerError(summary, detail=detail)


def _child_main(
    work: Callable[[], dict[str, float]], send: Connection, parent: int, stack: int
) -> None:
    # A Ctrl-C in the terminal reaches the whole process group; the parent decides
    # what happens to this child, so the child itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    global _STACK_FILE
    _STACK_FILE = os.fdopen(stack, "w")  # kept open for as long as the child lives
    faulthandler.register(signal.SIGUSR1, file=_STACK_FILE, all_threads=True)
    _die_with(parent)
    answer: tuple[str, Any]
    try:
        answer = ("ok", work())
    except InvalidPredictions as exc:
        answer = ("invalid", str(exc))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
        answer = ("error", f"{_summary(exc)}\n{traceback.format_exc()}")
    try:
        send.send(answer)
    except Exception:  # an unpicklable result: report that instead
        send.send(("error", "the scorer's result cannot be sent back\n" + traceback.format_exc()))
    finally:
        send.close()


def _serve(
    score: Callable[[Any], dict[str, float]], conn: Connection, parent: int, stack: int
) -> None:
    """The long-lived child: answer each payload until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    global _STACK_FILE
    _STACK_FILE = os.fdopen(stack, "w")
    faulthandler.register(signal.SIGUSR1, file=_STACK_FILE, all_threads=True)
    _die_with(parent)
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        answer: tuple[str, Any]
        try:
            answer = ("ok", score(payload))
        except InvalidPredictions as exc:
            answer = ("invalid", str(exc))
        except BaseException as exc:  # noqa: BLE001 - everything goes back as text
            answer = ("error", f"{_summary(exc)}\n{traceback.format_exc()}")
        try:
            conn.send(answer)
        except Exception:  # an unpicklable result: report that instead
            conn.send(
                ("error", "the scorer's result cannot be sent back\n" + traceback.format_exc())
            )


def _die_with(parent: int) -> None:
    """End this child when the worker is gone (even by SIGKILL): an orphaned scorer
    would hold memory, and perhaps the GPU, for a job another worker has taken over."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watcher below does the job
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _summary(exc: BaseException) -> str:
    """One line for the log's headline; the message of a ScorerError already is one."""
    if isinstance(exc, ScorerError):
        return str(exc).splitlines()[0] if str(exc) else "the scorer failed"
    return f"the scorer raised {type(exc).__name__}"
