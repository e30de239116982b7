"""A whole competition, scripted: before the start, open, final choices, the deadline,
the post-deadline board, the reveal and the final ranking. Real parts throughout: the
Hub client against the emulator, the real worker and scorer, the board's own code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from compete_helpers import END, START, Competition, make_competition, split_truth

from heldout.errors import RevealError, SelectionRefused, SubmissionsClosed
from heldout.example.scorer import score
from heldout.leaderboard.cache import BoardCache
from heldout.queue.reveal import Reveal, RevealTimer
from heldout.queue.selection import Selections
from heldout.queue.splits import PRIVATE, PUBLIC, metrics_of
from heldout.queue.status import JobStatus


def private_of(comp: Competition, seed: int, accuracy: float, part: str) -> float:
    frame = pd.read_csv(pd.io.common.BytesIO(comp.predictions(seed, accuracy)))
    frame["id"] = frame["id"].astype(str)
    truth = split_truth(comp.truth, part)
    return score(frame[frame["id"].isin(truth["id"])].reset_index(drop=True), truth)["accuracy"]


def board(comp: Competition) -> BoardCache:
    assert comp.queue.results is not None
    return BoardCache(comp.queue.results, comp.config.benchmark, ttl=0, phases=comp.config.phases)


def test_a_competition_from_opening_to_final_ranking(tmp_path: Path, emulator: Any) -> None:
    comp = make_competition(tmp_path, emulator, phases={"start": START, "end": END, "late": True})
    q = comp.queue

    # Before the start: refused, with the opening time.
    with pytest.raises(SubmissionsClosed, match="open at 2026-12-01 11:00 UTC"):
        comp.submit("alice", "early", 1, 0.6)

    plan = [
        ("alice", "alice/one", 11, 0.55),
        ("alice", "alice/two", 12, 0.75),
        ("alice", "alice/three", 13, 0.65),
        ("bob", "bob-1", 21, 0.70),
        ("bob", "bob-2", 22, 0.60),
        ("bob", "bob-3", 23, 0.40),
        ("carol", "carol-1", 31, 0.72),
    ]
    made = []
    for n, (user, model, seed, accuracy) in enumerate(plan):
        comp.clock.set(START + timedelta(minutes=5 + n))  # equal scores rank the earlier first
        made.append(comp.submit(user, model, seed, accuracy))
    a1, a2, a3, b1, b2, b3, c1 = made
    comp.score()

    done = {e.job_id: e for e in q.jobs(JobStatus.FINISHED)}
    assert len(done) == 7
    # Both splits were scored, each against its own part of the test set.
    for entry, (seed, acc) in [(a1, (11, 0.55)), (b1, (21, 0.70))]:
        got = done[entry.job_id]
        assert metrics_of(got.split_scores, PUBLIC)["accuracy"] == pytest.approx(
            private_of(comp, seed, acc, "public")
        )
        assert metrics_of(got.split_scores, PRIVATE)["accuracy"] == pytest.approx(
            private_of(comp, seed, acc, "private")
        )
        assert got.scores == metrics_of(got.split_scores, PUBLIC)  # the board ranks by public

    # Final choices: up to select_max (2), own jobs only.
    choices = Selections(q)
    with pytest.raises(SelectionRefused, match="at most 2"):
        choices.save("alice", [a1.job_id, a2.job_id, a3.job_id])
    with pytest.raises(SelectionRefused, match="not one of your submissions"):
        choices.save("alice", [b1.job_id])
    assert choices.save("alice", [a1.job_id, a3.job_id]) == tuple(sorted([a1.job_id, a3.job_id]))
    assert choices.save("carol", [c1.job_id]) == (c1.job_id,)
    # bob marks nothing: his two best public submissions will count.

    # Before the end the private scores cannot be revealed, and nothing private is published.
    with pytest.raises(RevealError, match="still open until"):
        Reveal(q).publish("rita")
    assert q.results is not None
    published = q.results.read()
    assert all(item["split"] == "public" for items in published["split_scores"] for item in items)
    live = board(comp).get()
    assert live.final is None and live.record is None and live.late is None

    # The deadline passes: late submissions are accepted (late = true) but kept apart.
    comp.clock.set(END + timedelta(minutes=1))
    with pytest.raises(SelectionRefused, match="closed"):
        choices.save("alice", [a2.job_id])
    late = comp.submit("dave", "dave-late", 41, 0.95)
    comp.score()
    shown = board(comp).get()
    assert late.job_id not in set(shown.table["Job id"])  # not on the live board
    assert shown.late is not None and list(shown.late["Job id"]) == [late.job_id]

    # Only a maintainer reveals; the reveal is one commit to the results repo.
    with pytest.raises(RevealError, match="not among the benchmark's reviewers"):
        Reveal(q).publish("mallory")
    results_store = q.results.store
    before = results_store.head()
    record = Reveal(q).publish("rita")
    assert results_store.head() != before
    assert record.counted["alice"] == tuple(sorted([a1.job_id, a3.job_id]))
    assert record.counted["carol"] == (c1.job_id,)
    bob_public = sorted([b1, b2, b3], key=lambda e: (-done[e.job_id].scores["accuracy"], e.job_id))
    assert record.counted["bob"] == tuple(sorted(e.job_id for e in bob_public[:2]))
    assert "dave" not in record.counted  # late: never in the final ranking
    on_disk = json.loads(results_store.read("reveal.json"))
    assert on_disk["counted"]["alice"] == list(record.counted["alice"])

    # The final ranking: best private among what counts; public rank and change beside it.
    revealed = board(comp).get()
    assert revealed.final is not None
    final = revealed.final
    expected = {}
    for user, jobs in record.counted.items():
        expected[user] = max(metrics_of(done[j].split_scores, PRIVATE)["accuracy"] for j in jobs)
    first = {
        u: min(
            done[j].submitted_at
            for j in jobs
            if metrics_of(done[j].split_scores, PRIVATE)["accuracy"] == expected[u]
        )
        for u, jobs in record.counted.items()
    }
    order = sorted(expected, key=lambda u: (-expected[u], first[u]))
    assert list(final["Submitter"]) == order
    assert list(final["Rank"]) == [1, 2, 3]
    assert list(final["accuracy (private)"]) == pytest.approx(
        [round(expected[u], 4) for u in order]
    )
    best_public = {
        u: max(e.scores["accuracy"] for e in done.values() if e.submitter == u)
        for u in ("alice", "bob", "carol")
    }
    public_first = {
        u: min(
            e.submitted_at
            for e in done.values()
            if e.submitter == u and e.scores["accuracy"] == best_public[u]
        )
        for u in best_public
    }
    public_order = sorted(best_public, key=lambda u: (-best_public[u], public_first[u]))
    for row in final.itertuples(index=False):
        public_rank = public_order.index(row.Submitter) + 1
        assert row[2] == public_rank
        moved = public_rank - row.Rank
        assert row.Change == ("=" if moved == 0 else f"▲ {moved}" if moved > 0 else f"▼ {-moved}")

    # Every on-time and late result now carries its private scores, in the same schema.
    after = q.results.read()
    for row in after.itertuples(index=False):
        splits = {item["split"] for item in row.split_scores}
        assert splits == {"public", "private"}

    # Published is final: no second reveal, no undo.
    with pytest.raises(RevealError, match="already revealed"):
        Reveal(q).publish("rita")
    with pytest.raises(RevealError, match="cannot be undone"):
        Reveal(q).undo("rita")


def test_after_the_end_submissions_are_refused_without_late(tmp_path: Path, emulator: Any) -> None:
    comp = make_competition(tmp_path, emulator)
    comp.clock.set(END)
    with pytest.raises(SubmissionsClosed, match="closed at 2026-12-03 10:00 UTC"):
        comp.submit("alice", "too late", 1, 0.6)
    assert comp.queue.jobs() == []


def test_limits_still_apply_per_utc_day_during_a_competition(tmp_path: Path, emulator: Any) -> None:
    comp = make_competition(tmp_path, emulator, limits={"submissions_per_day": 2})
    comp.clock.set(START.replace(hour=23, minute=0))
    comp.submit("alice", "m1", 1, 0.6)
    comp.submit("alice", "m2", 2, 0.6)
    with pytest.raises(Exception, match="all 2 submissions for today"):
        comp.submit("alice", "m3", 3, 0.6)
    comp.clock.set(START.replace(hour=23) + timedelta(hours=1, minutes=1))  # the next UTC day
    assert comp.submit("alice", "m3", 3, 0.6).status is JobStatus.PENDING


def test_a_scheduled_reveal_is_published_when_due_and_can_be_undone_before(
    tmp_path: Path, emulator: Any
) -> None:
    reveal_at = END + timedelta(hours=2)
    comp = make_competition(tmp_path, emulator, phases={"end": END, "reveal_at": reveal_at})
    comp.submit("alice", "a", 1, 0.7)
    comp.score()
    timer = RevealTimer(comp.queue, every=0, slow=0)
    comp.clock.set(END + timedelta(hours=1))
    assert timer.tick() is None  # not due yet
    # The maintainer cancels the configured reveal, then schedules another time.
    reveal = Reveal(comp.queue)
    assert "cancelled" in reveal.undo("rita")
    comp.clock.set(reveal_at + timedelta(minutes=1))
    assert timer.tick() is None and reveal.published() is None
    reveal.schedule_at("rita", reveal_at + timedelta(hours=1))
    assert timer.tick() is None
    comp.clock.set(reveal_at + timedelta(hours=1, seconds=1))
    record = timer.tick()
    assert record is not None and record.by == "schedule"
    assert reveal.published() == record
    with pytest.raises(RevealError, match="cannot be undone"):
        reveal.undo("rita")


def test_a_reveal_waits_for_on_time_jobs_and_holds_flagged_ones_out(
    tmp_path: Path, emulator: Any
) -> None:
    comp = make_competition(
        tmp_path, emulator, phases={"end": END}, review={"flag_accounts": ["mallory"]}
    )
    comp.submit("alice", "a", 1, 0.7)
    held = comp.submit("mallory", "m", 2, 0.99)
    assert held.status is JobStatus.REVIEW
    comp.clock.set(END)
    with pytest.raises(RevealError, match="still waiting to be scored"):
        Reveal(comp.queue).publish("rita")
    comp.score()
    record = Reveal(comp.queue).publish("rita")
    assert set(record.counted) == {"alice"}  # the flagged job never counts


def test_without_a_split_the_benchmark_scores_as_before_and_has_nothing_to_reveal(
    tmp_path: Path, emulator: Any
) -> None:
    comp = make_competition(tmp_path, emulator, phases={}, split=False)
    entry = comp.submit("alice", "a", 1, 0.7)
    comp.score()
    got = comp.queue.get(entry.job_id)
    # no public or private part: only the whole set's scores, carrying their intervals
    assert {s.split for s in got.split_scores} == {"all"}
    assert all(s.ci_low < s.value < s.ci_high for s in got.split_scores)
    frame = pd.read_csv(pd.io.common.BytesIO(comp.predictions(1, 0.7)))
    frame["id"] = frame["id"].astype(str)
    assert got.scores == pytest.approx(score(frame, comp.truth))
    with pytest.raises(RevealError, match="no private split"):
        Reveal(comp.queue).publish("rita")
