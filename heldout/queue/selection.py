"""Final selection: each submitter marks up to `select_max` submissions to count.

A selection is one small file per user in the private queue repo
(`selections/<user>.json`), written with a CAS commit. It can be changed until the
end of the competition and is read once, by the reveal. Unmarked, a submitter's best
public submissions count (`reveal.counted`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import datetime

from heldout.errors import NotFound, SelectionRefused
from heldout.queue.entry import Entry, check_job_id, check_username, iso, parse_iso
from heldout.queue.jobs import JobQueue
from heldout.queue.phases import is_late, selection_open, stamp
from heldout.queue.retry import retry_on_conflict
from heldout.queue.status import JobStatus
from heldout.queue.store import Add

FOLDER = "selections"


def selection_path(user: str) -> str:
    return f"{FOLDER}/{check_username(user)}.json"


def selectable(entry: Entry, queue: JobQueue) -> bool:
    """A job can be a final choice unless it failed or came after the deadline."""
    return entry.status is not JobStatus.FAILED and not is_late(
        queue.config.phases, parse_iso(entry.submitted_at)
    )


def check_choice(
    job_ids: Iterable[object], own: dict[str, Entry], queue: JobQueue, now: datetime
) -> tuple[str, ...]:
    """The checked, de-duplicated, sorted choice; `SelectionRefused` says what is wrong."""
    phases = queue.config.phases
    if not selection_open(phases, now):
        assert phases.end is not None
        raise SelectionRefused(f"final choices closed with the competition at {stamp(phases.end)}")
    chosen: list[str] = []
    for job_id in job_ids:
        if not isinstance(job_id, str):
            raise SelectionRefused("a final choice must be a job id")
        check_job_id(job_id)
        if job_id not in own:
            raise SelectionRefused(f"job {job_id} is not one of your submissions")
        if not selectable(own[job_id], queue):
            raise SelectionRefused(f"job {job_id} failed or came late; it cannot count")
        if job_id not in chosen:
            chosen.append(job_id)
    limit = phases.select_max
    if len(chosen) > limit:
        raise SelectionRefused(
            f"you may choose at most {limit} submission{'s' if limit != 1 else ''}; "
            f"you chose {len(chosen)}"
        )
    return tuple(sorted(chosen))


class Selections:
    """Read and write final choices in the queue repo, through the queue's store."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self.store = queue.store

    def get(self, user: str) -> tuple[str, ...]:
        try:
            raw = self.store.read(selection_path(user))
        except NotFound:
            return ()
        return tuple(json.loads(raw)["job_ids"])

    def save(self, user: str, job_ids: Iterable[object]) -> tuple[str, ...]:
        """Replace the user's choice (an empty one means: my best public ones count)."""
        job_ids = list(job_ids)[:1000]
        own = {e.job_id: e for e in self.queue.user_jobs(user)}
        now = self.queue.clock()
        chosen = check_choice(job_ids, own, self.queue, now)
        record = {
            "user": user,
            "job_ids": list(chosen),
            "at": iso(now),
            "nonce": secrets.token_hex(4),  # every commit changes something (see hub_store)
        }
        body = json.dumps(record, sort_keys=True).encode()

        def attempt() -> str:
            parent = self.store.head()
            return self.store.commit(
                [Add(selection_path(user), body)], f"Final choice of {user}", parent=parent
            )

        retry_on_conflict(attempt, "save the final choice")
        return chosen

    def all(self) -> dict[str, tuple[str, ...]]:
        """Every user's choice at one head: what the reveal reads."""
        head = self.store.head()
        found: dict[str, tuple[str, ...]] = {}
        for path in self.store.list(FOLDER):
            if not path.endswith(".json"):
                continue
            record = json.loads(self.store.read(path, revision=head))
            found[check_username(record["user"])] = tuple(record["job_ids"])
        return found
