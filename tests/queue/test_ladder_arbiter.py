"""The settle commit as the Ladder's arbiter: which decisions still hold (pure)."""

from __future__ import annotations

from heldout.queue import ladder
from heldout.queue.release import Release
from heldout.queue.users import UserIndex, UserJob


class OneIndex:
    """What `ladder.stale` reads of a transaction: the submitters' indexes."""

    def __init__(self, index: UserIndex) -> None:
        self.index = index

    def user(self, name: str) -> UserIndex:
        return self.index if name == self.index.user else UserIndex(user=name)


def job(status: str, step: int | None = None, best: str | None = None) -> UserJob:
    return UserJob(status, "2026-11-30T00:00:00.000000Z", "0" * 64, "m", True, None, step, best)


def decision(step: int, against: str | None, best: str) -> tuple[str, Release]:
    return "eve", Release(0.8, best != against, 0.01, 0.01, best, 0.01, step, against)


def test_the_state_is_the_last_standing_decision() -> None:
    index = UserIndex(
        "eve",
        {
            "j1": job("FINISHED", 1, "j1"),
            "j2": job("REVIEW", 2, "j2"),
            "j3": job("PENDING"),  # requeued: its old decision no longer counts
        },
    )
    assert index.ladder() == (2, "j2")
    assert UserIndex("eve").ladder() == (0, None)


def test_decisions_made_in_another_state_are_stale_and_a_commit_advances_the_state() -> None:
    txn = OneIndex(UserIndex("eve", {"j1": job("FINISHED", 1, "j1")}))
    decisions = {
        "j2": decision(2, "j1", "j2"),  # holds: judged after j1
        "j3": decision(3, "j2", "j2"),  # holds: judged after j2, in this same commit
        "j4": decision(2, "j1", "j4"),  # stale: judged against j1 as well, as if j2 were not
        "j5": decision(1, None, "j5"),  # stale: judged as a first submission
        "j6": ("bob", Release(0.5, True, 0.01, 0.01, "j6", 0.01, 1, None)),  # bob's first
    }
    assert ladder.stale(txn, decisions) == {"j4", "j5"}
    assert ladder.stale(txn, {"j7": ("eve", None)}) == set()  # release = "all"
