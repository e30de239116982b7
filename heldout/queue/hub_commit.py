"""One logical commit to a Hub repo, exactly once, through lost replies and retries.

Two Hub habits shape this module:

- `create_commit` silently drops an add whose bytes already match the branch head,
  and when every operation is dropped it returns the head without sending
  `parentCommit` at all. A writer that lost a race but wrote the same bytes would
  then "win" without any compare-and-swap (HUB_FACTS: 8 x 5 increments ended at 13-30
  instead of 40). So every commit also writes `.heldout/commit.json` with a fresh
  nonce: it is never a no-op, `parentCommit` is always sent, and a stale parent always
  gets its 412.
- A commit whose reply is lost may still have landed. Before resending one, every
  commit made since `parent` is listed (newest first, stopping at `parent`) and
  searched for the nonce, which each commit also carries in its description. Found
  means it landed, even if other writers have committed on top since (looking at the
  head alone would call that a `Conflict`, and the caller would apply its change
  twice: issue 9 measured 44-50 instead of 40). Not found and the head unmoved means
  it is safe to send again. Not found and the head moved means it can no longer land,
  since its parent is stale: an honest `Conflict`.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

from heldout.errors import Conflict
from heldout.queue.hub_calls import HubCalls
from heldout.queue.retry import causes, http_status, is_transient
from heldout.queue.store import Add, Operation

MARKER_FOLDER = ".heldout"
MARKER = f"{MARKER_FOLDER}/commit.json"
NONCE_TAG = "heldout-commit: "
_NONCE = re.compile(r"heldout-commit: ([0-9a-f]{32})")


def nonce_in(text: str) -> str | None:
    """The heldout nonce a commit's title or description carries, if any."""
    found = _NONCE.search(text)
    return found.group(1) if found else None


class CommitAttempts:
    """The attempts of one logical commit; `attempt` is retried by the store's policy."""

    def __init__(self, calls: HubCalls, operations: list[Operation], message: str, parent: str):
        self.calls = calls
        self.operations = operations
        self.message = message
        self.parent = parent
        self.nonce = uuid.uuid4().hex
        marker = {
            "nonce": self.nonce,
            "parent": parent,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.marker = Add(MARKER, json.dumps(marker).encode())
        self.outcome_unknown = False  # the last attempt may have landed
        self.ever_unknown = False  # some attempt may still land late

    def attempt(self) -> str:
        if self.outcome_unknown:
            landed, head = self.find_landed()
            if landed is not None:
                return landed
            if head != self.parent:
                raise Conflict(
                    f"commit to {self.calls.repo_id}: the branch has moved past the parent"
                    " and this commit is not in it; re-read and re-plan"
                )
            self.outcome_unknown = False
        try:
            return self.calls.create_commit(
                [self.marker],
                self.operations,
                self.message,
                f"{NONCE_TAG}{self.nonce}",
                self.parent,
            )
        except Exception as exc:
            if http_status(exc) == 412 and self.ever_unknown:
                landed, _ = self.find_landed()  # an earlier, "lost" attempt won the race
                if landed is not None:
                    return landed
            if is_transient(exc) and may_have_landed(exc):
                self.outcome_unknown = self.ever_unknown = True
            raise

    def find_landed(self) -> tuple[str | None, str]:
        """(our commit's id if it is among the commits since `parent`, the head)."""
        head: str | None = None
        for commit_id, text in self.calls.commits_since(self.parent):
            head = head or commit_id
            if nonce_in(text) == self.nonce:
                return commit_id, head
        return None, head or self.parent


def may_have_landed(exc: BaseException) -> bool:
    """False only when the commit surely was not applied: a 429, or a failed preupload."""
    if http_status(exc) == 429:
        return False
    for error in causes(exc):
        try:
            request = getattr(error, "request", None)
        except RuntimeError:  # httpx errors raised before a request existed
            request = None
        if request is not None:
            return "/preupload/" not in str(request.url)
    return True
