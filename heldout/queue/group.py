"""Group commits for submissions: many people pressing Submit, few commits.

The first caller to find no commit in flight becomes the leader: it commits every
submission waiting at that moment in one transaction, then the next batch, until none
is left. Everyone else just waits for their own outcome. Under a burst this folds
dozens of submissions into each commit; when idle, a submission commits at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from heldout.queue.entry import Entry
from heldout.queue.jobs import JobQueue
from heldout.queue.submission import Submission

MAX_BATCH = 64
MAX_BATCH_BYTES = 64 * 2**20


class GroupCommitter:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._lock = threading.Lock()
        self._waiting: list[tuple[Submission, Future[Entry]]] = []
        self._leading = False
        self.commits = 0  # for benchmarks: how many commits served how many submissions

    def submit(self, sub: Submission) -> Entry:
        """Queue one submission; returns its entry or raises its own refusal."""
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
