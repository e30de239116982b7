"""The Ladder's decisions, serialised per submitter by the CAS commit that records them.

A worker judges a submitter's job against the state of their Ladder as it knows it:
how many judgements stand (`step`) and which job is shown (`against`). Two workers can
hold the same submitter's jobs at once, so the commit that records a decision checks,
in the same transaction, that the queue's state is still the one it was judged in: the
submitter's index (`users.UserIndex.ladder`), read at the parent, then advanced by each
decision of this commit in step order. A decision judged in any other state is stale:
its job goes back to PENDING (no attempt counted) and is judged again against the state
that landed. So the decisions that stand form one chain, each judged against the one
before it, exactly as one judge taking them in commit order would have made them.
"""

from __future__ import annotations

from collections import defaultdict

from heldout.queue.release import Release
from heldout.queue.txn import Txn

STALE_NOTE = (
    "another decision of the Ladder for this submitter landed first; "
    "back in the queue to be judged against it (no attempt counted)"
)


def current(txn: Txn, user: str) -> tuple[int, str | None]:
    """The submitter's Ladder as of the transaction: (judgements standing, job shown)."""
    return txn.user(user).ladder()


def stale(txn: Txn, decisions: dict[str, tuple[str, Release | None]]) -> set[str]:
    """The jobs (of `{job_id: (submitter, release)}`) whose decision no longer holds.

    Pure over `txn`: call it after the submitters' indexes are prefetched and before the
    decisions are put. Decisions without a step (release = "all", or recorded before
    steps were) are never stale."""
    by_user: defaultdict[str, list[tuple[str, Release]]] = defaultdict(list)
    for job_id, (user, release) in decisions.items():
        if release is not None and release.step > 0:
            by_user[user].append((job_id, release))
    out: set[str] = set()
    for user, mine in by_user.items():
        step, best = current(txn, user)
        for job_id, release in sorted(mine, key=lambda d: (d[1].step, d[0])):
            if (release.step, release.against) == (step + 1, best):
                step, best = release.step, release.best_job
            else:
                out.add(job_id)
    return out


__all__ = ["STALE_NOTE", "current", "stale"]
