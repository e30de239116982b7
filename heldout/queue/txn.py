"""A transaction: read everything at one head, change in memory, commit once.

Changes are gathered first and turned into operations by a pure `plan`, so one commit
can carry any number of transitions (a group commit is just a bigger transaction).
A lost CAS race re-runs the whole function on a fresh transaction; because every
transition is planned from what it reads, re-running one that already landed is a
no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from heldout.errors import Conflict, InvalidTransition, JobNotFound, NotFound
from heldout.queue.entry import Entry, check_job_id
from heldout.queue.retry import retry_on_conflict  # also imported from here by callers
from heldout.queue.status import JobStatus, check_transition, status_folder, status_path
from heldout.queue.store import Add, Delete, Operation, Store, read_many
from heldout.queue.users import UserIndex, rewrites_index, user_path

T = TypeVar("T")

# Where to look for a job whose status is unknown, most likely first.
_PROBE_ORDER = (
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.REVIEW,
    JobStatus.FINISHED,
    JobStatus.FAILED,
)


def hash_path(sha256: str) -> str:
    """Which jobs carried this exact predictions file (for the duplicate rules)."""
    return f"hashes/{sha256}.json"


@dataclass
class Changes:
    """What a transaction will write: entries with their path at the parent, and files."""

    entries: dict[str, tuple[str | None, Entry]] = field(default_factory=dict)
    users: dict[str, UserIndex] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.entries or self.users or self.files)


def plan(changes: Changes) -> list[Operation]:
    """Pure: the operations that take the parent state to the changed one."""
    ops: list[Operation] = []
    for origin, entry in changes.entries.values():
        if origin is not None and origin != entry.path:
            ops.append(Delete(origin))
        ops.append(Add(entry.path, entry.to_json()))
    ops.extend(Add(user_path(name), index.to_json()) for name, index in changes.users.items())
    ops.extend(Add(path, content) for path, content in changes.files.items())
    return ops


class Txn:
    def __init__(
        self, store: Store, primary_metric: str, parent: str | None = None, scores: bool = True
    ) -> None:
        """`parent`: a head the caller just read (saves a request); default: read it.
        `scores`: the user indexes keep each finished job's score (see `users`)."""
        self.store = store
        self.primary_metric = primary_metric
        self.scores = scores
        self.parent = parent or store.head()
        self.changes = Changes()
        self._origin: dict[str, str | None] = {}
        self._entries: dict[str, Entry] = {}
        self._users: dict[str, UserIndex] = {}
        self._prefetched: dict[str, bytes | None] = {}

    def read(self, path: str) -> bytes | None:
        """The file at the parent (None: absent). Everything read is remembered: it is
        what `catch_up` checks."""
        if path not in self._prefetched:
            try:
                self._prefetched[path] = self.store.read(path, revision=self.parent)
            except NotFound:
                self._prefetched[path] = None
        return self._prefetched[path]

    def prefetch(self, paths: list[str]) -> None:
        """Read these files at the parent in one go, where the backend can."""
        wanted = sorted({p for p in paths if p not in self._prefetched})
        if wanted:
            self._prefetched.update(read_many(self.store, wanted, self.parent))

    def list(self, status: JobStatus) -> list[str]:
        """Job ids in one status folder, oldest first, at the live head.

        A listing only guides choices (which jobs to look at); what a transaction
        writes must follow from what it `read`s, so that `catch_up` stays correct."""
        paths = self.store.list(status_folder(status))
        return sorted(
            p.rsplit("/", 1)[-1].removesuffix(".json") for p in paths if p.endswith(".json")
        )

    def entry(self, job_id: str, hint: JobStatus | None = None) -> Entry:
        """The job as of the parent commit (or as changed in this transaction)."""
        if job_id in self._entries:
            return self._entries[job_id]
        check_job_id(job_id)
        order = ((hint,) if hint else ()) + tuple(s for s in _PROBE_ORDER if s != hint)
        for status in order:
            raw = self.read(status_path(status, job_id))
            if raw is not None:
                return self._remember(Entry.from_json(raw))
        raise JobNotFound(f"no job {job_id} in the queue")

    def entry_at(self, job_id: str, status: JobStatus) -> Entry | None:
        """The job if it is in `status` at the parent, else None (one path read, no probing
        of the other folders)."""
        if job_id in self._entries:
            entry = self._entries[job_id]
            return entry if entry.status is status else None
        raw = self.read(status_path(status, job_id))
        return self._remember(Entry.from_json(raw)) if raw is not None else None

    def has(self, job_id: str) -> bool:
        """Whether this transaction already holds (and may have changed) the job."""
        return job_id in self._entries

    def listed_entry(self, job_id: str, status: JobStatus) -> Entry:
        """An entry found by listing. Listing sees the live head, which may be newer than
        our parent; a file missing at the parent means we lost a race, so start over."""
        if job_id in self._entries:
            return self._entries[job_id]
        raw = self.read(status_path(status, job_id))
        if raw is None:
            raise Conflict("the queue moved while it was being read")
        return self._remember(Entry.from_json(raw))

    def _remember(self, entry: Entry) -> Entry:
        self._entries[entry.job_id] = entry
        self._origin.setdefault(entry.job_id, entry.path)
        return entry

    def user(self, name: str) -> UserIndex:
        if name not in self._users:
            raw = self.read(user_path(name))
            self._users[name] = UserIndex.from_json(raw) if raw else UserIndex(user=name)
        return self._users[name]

    def put(self, entry: Entry) -> Entry:
        """Record the new version of a job and keep its owner's index in step (when
        the move changes what the index says; see `users.index_status`).

        Every version put here must be one checked move from the version this
        transaction holds (or, for a new job, from "not queued"): its last history
        event names the action, and the transition table must allow it."""
        before = self._entries.get(entry.job_id)
        self._check_move(before, entry)
        self._origin.setdefault(entry.job_id, None)
        self._entries[entry.job_id] = entry
        self.changes.entries[entry.job_id] = (self._origin[entry.job_id], entry)
        if not rewrites_index(before.status if before else None, entry.status, self.scores):
            return entry  # a claim, renewal or retry (or a result): the index reads the same
        index = self.user(entry.submitter).with_entry(entry, self.primary_metric, self.scores)
        self._users[entry.submitter] = index
        self.changes.users[entry.submitter] = index
        return entry

    @staticmethod
    def _check_move(before: Entry | None, after: Entry) -> None:
        action = after.last_action
        if action is None or (before is not None and after.history[-1] == before.history[-1]):
            raise InvalidTransition(f"job {after.job_id}: a change without a recorded move")
        check_transition(action, before.status if before else None, after.status)

    def origin(self, job_id: str) -> JobStatus | None:
        """The job's status at the parent commit (None: not in the queue then)."""
        path = self._origin.get(job_id)
        return JobStatus(path.split("/")[1]) if path else None

    def jobs_with_hash(self, sha256: str) -> list[dict[str, str]]:
        if hash_path(sha256) in self.changes.files:
            return json.loads(self.changes.files[hash_path(sha256)])["jobs"]
        raw = self.read(hash_path(sha256))
        return json.loads(raw)["jobs"] if raw else []

    def add_hash(self, sha256: str, job_id: str, user: str) -> None:
        jobs = [*self.jobs_with_hash(sha256), {"job_id": job_id, "user": user}]
        self.add_file(hash_path(sha256), json.dumps({"jobs": jobs}).encode())

    def add_file(self, path: str, content: bytes) -> None:
        self.changes.files[path] = content

    def commit(self, message: str) -> str | None:
        if not self.changes:
            return None
        return self.store.commit(plan(self.changes), message, parent=self.parent)

    def catch_up(self, moved: bool = False) -> bool:
        """Move onto the current head if nothing this transaction read has changed
        there, so its changes still follow from what it read. One head and one batched
        read (on the Hub, unchanged files are not downloaded again): much less than
        running the transaction again, and a much shorter window to lose a race in.
        `moved`: after a lost race, a head that did not move is not trusted."""
        head = self.store.head()
        if head == self.parent:
            return not moved
        now = read_many(self.store, sorted(self._prefetched), head)
        if any(now[path] != content for path, content in self._prefetched.items()):
            return False
        self.parent = head
        return True


def transact(
    store: Store,
    primary_metric: str,
    work: Callable[[Txn], T],
    message: str,
    recheck: bool = False,
    scores: bool = True,
) -> T:
    """Run `work` on a fresh transaction and commit what it changed, as one CAS commit.

    A lost race first tries to `catch_up` with the same changes; only if something they
    were planned from changed does `work` run again. `recheck` catches up before the
    first commit too (one head request): for writers with company, whose reads take
    long enough for another writer to commit meanwhile, so they lose fewer races."""
    last: list[tuple[Txn, T]] = []

    def run() -> tuple[Txn, T]:
        txn = Txn(store, primary_metric, scores=scores)
        last[:] = [(txn, work(txn))]
        return last[0]

    def attempt() -> T:
        if last and last[0][0].catch_up(moved=True):
            txn, result = last[0]  # the same changes, onto the new head
        else:
            txn, result = run()
            if recheck and txn.changes and not txn.catch_up():
                txn, result = run()
        txn.commit(message)
        return result

    return retry_on_conflict(attempt, message)
