"""Group commits for submissions: many people pressing Submit, few commits.

The first caller to find no commit in flight becomes the leader: it commits every
submission waiting at that moment in one transaction, then the next batch, until none
is left. Everyone else just waits for their own outcome. Under a burst this folds
dozens of submissions into each commit; when idle, a submission commits at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from heldout.errors import QueueDelayed
from heldout.queue.entry import Entry
from heldout.queue.jobs import JobQueue
from heldout.queue.submission import Submission

MAX_BATCH = 64
MAX_BATCH_BYTES = 64 * 2**20
MAX_QUOTA_WAIT = 60.0  # a spent commit quota that frees up sooner than this is waited out


class GroupCommitter:
    def __init__(
        self,
        queue: JobQueue,
        max_wait: float = MAX_QUOTA_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """When the Hub's commit quota is spent and frees up within `max_wait` seconds,
        the leader waits it out once and then commits everyone waiting by then in one
        commit; otherwise each waiting submitter hears `QueueDelayed`, with the wait."""
        self.queue = queue
        self.max_wait = max_wait
        self._sleep = sleep
        self._blocked_until = 0.0  # monotonic: the Hub said no commit before then
        self._lock = threading.Lock()
        self._waiting: list[tuple[Submission, Future[Entry]]] = []
        self._leading = False
        self._delayed_message = "the queue is delayed; please submit again soon"
        self.commits = 0  # for benchmarks: how many commits served how many submissions

    def submit(self, sub: Submission) -> Entry:
        """Queue one submission; returns its entry or raises its own refusal."""
        left = self._blocked_until - time.monotonic()
        if left > self.max_wait:  # asked already: no second probe before Retry-After
            raise QueueDelayed(self._delayed_message, retry_after=left)
        future: Future[Entry] = Future()
        with self._lock:
            self._waiting.append((sub, future))
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        return future.result()

    def _next_batch(self) -> list[tuple[Submission, Future[Entry]]]:
        with self._lock:
            batch, size = [], 0
            while self._waiting and len(batch) < MAX_BATCH:
                if batch and size + len(self._waiting[0][0].content) > MAX_BATCH_BYTES:
                    break
                item = self._waiting.pop(0)
                batch.append(item)
                size += len(item[0].content)
            if not batch:
                self._leading = False
            return batch

    def _lead(self) -> None:
        while batch := self._next_batch():
            try:
                try:
                    outcomes = self.queue.submit_many([sub for sub, _ in batch])
                except QueueDelayed as delayed:
                    wait = delayed.retry_after
                    if wait is None or wait > self.max_wait:
                        self._delayed_message = str(delayed)
                        self._blocked_until = time.monotonic() + (wait or 0.0)
                        raise
                    self._sleep(wait)  # one probe per Retry-After, for everyone waiting
                    with self._lock:  # those who came meanwhile ride on the same commit
                        room = MAX_BATCH - len(batch)
                        batch += self._waiting[:room]
                        del self._waiting[:room]
                    outcomes = self.queue.submit_many([sub for sub, _ in batch])
                self.commits += 1
            except Exception as exc:  # the commit itself failed: everyone in it hears why
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
