"""The pinned test set: the worker refuses one that was replaced without a re-score.

Scores are only comparable when they were computed on one test set. The queue repo
(private) pins the fingerprint of the test set in `testset.json`; before the first pin,
the fingerprints of the published results stand for it. A worker whose test set has
another fingerprint stops before it claims anything, with a sentence for the
maintainer: no job fails and no submitter is blamed. `heldout queue rescore` is the one
way to change the test set: it pins the new fingerprint, records the change in the
results dataset card, and sends every scored job back to be scored again.
"""

from __future__ import annotations

import json
from typing import Any

from heldout.commitment import rescore_line
from heldout.errors import NotFound, TestSetChanged
from heldout.queue.entry import iso, utcnow
from heldout.queue.jobs import JobQueue
from heldout.queue.store import Add, Store
from heldout.queue.txn import retry_on_conflict

RECORD_PATH = "testset.json"
CARD_PATH = "README.md"
CARD_HEADING = "## Test-set changes"


def read_record(store: Store) -> dict[str, Any] | None:
    try:
        return json.loads(store.read(RECORD_PATH))
    except NotFound:
        return None


def check_test_set(queue: JobQueue, found: str) -> None:
    """Raise `TestSetChanged` unless `found` is the benchmark's test set."""
    record = read_record(queue.store)
    if record is not None:
        known = {record["fingerprint"]}
    elif queue.results is not None:
        rows = queue.results.read()
        known = set(rows["test_fingerprint"].dropna()) if len(rows) else set()
    else:
        known = set()
    if known and found not in known:
        shown = ", ".join(sorted(k[:12] for k in known))
        raise TestSetChanged(
            f"the test set at evaluator.truth (fingerprint {found[:12]}) is not the one this "
            f"benchmark's scores were computed on ({shown}). No job was claimed. Put the "
            "original file back, or, to replace the test set on purpose, run "
            "`heldout queue rescore` with this config: it records the change in the results "
            "card and re-scores every submission on the new set."
        )


def pin(queue: JobQueue, found: str, by: str) -> tuple[str | None, bool]:
    """Make `found` the benchmark's test set; returns the old fingerprint and whether the
    test set changed (then the change is added to the results card)."""
    now = iso(utcnow())
    changed: dict[str, Any] = {}

    def attempt() -> str:
        parent = queue.store.head()
        try:
            record = json.loads(queue.store.read(RECORD_PATH, revision=parent))
        except NotFound:
            record = None
        old = record["fingerprint"] if record else _published(queue)
        history = list(record.get("history", [])) if record else []
        if old != found:
            history.append({"from": old, "to": found, "at": now, "by": by})
        changed.update(old=old, changed=old is not None and old != found)
        since = now if old != found else (record or {}).get("since", now)
        body = {"fingerprint": found, "since": since, "history": history}
        data = json.dumps(body, indent=2, sort_keys=True).encode()
        return queue.store.commit([Add(RECORD_PATH, data)], "Pin the test set", parent=parent)

    retry_on_conflict(attempt, "pin the test set")
    if changed["changed"] and queue.results is not None:
        _add_to_card(queue.results.store, rescore_line(changed["old"], found, now, by))
    return changed["old"], changed["changed"]


def _published(queue: JobQueue) -> str | None:
    if queue.results is None:
        return None
    rows = queue.results.read()
    found = sorted(set(rows["test_fingerprint"].dropna())) if len(rows) else []
    return found[0] if len(found) == 1 else (",".join(found) or None)


def _add_to_card(store: Store, line: str) -> None:
    """Append one line to the card's record of test-set changes (made if missing)."""

    def attempt() -> str:
        parent = store.head()
        try:
            text = store.read(CARD_PATH, revision=parent).decode("utf-8")
        except NotFound:
            text = ""
        if CARD_HEADING not in text:
            text = text.rstrip("\n") + ("\n\n" if text else "") + CARD_HEADING + "\n\n"
        text = text.rstrip("\n") + "\n" + line + "\n"
        return store.commit([Add(CARD_PATH, text.encode())], "Record a test-set change", parent)

    retry_on_conflict(attempt, "record the test-set change")


__all__ = ["RECORD_PATH", "check_test_set", "pin", "read_record"]
