"""The My submissions and Review tables, as pure functions of queue entries.

All cells are plain strings (gradio escapes `str` cells), built from the entry's
fields; nothing here reads the store or imports gradio.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.leaderboard.text import cell, when
from heldout.queue.entry import Entry
from heldout.queue.release import published_scores
from heldout.queue.splits import PRIVATE, metrics_of
from heldout.queue.status import JobStatus

MINE_HEADERS = [
    "Job id", "Model", "Status", "In line", "Score", "Submitted", "Note", "Private score",
    "Final choice",
]  # fmt: skip
MINE_WIDTHS = ["17%", "13%", "8%", "6%", "15%", "11%", "14%", "10%", "6%"]
PRIVATE_HIDDEN = "hidden until the reveal"
REVIEW_HEADERS = ["Job id", "Model", "Submitter", "Flags", "Score", "Submitted", "Description"]
REVIEW_WIDTHS = ["16%", "14%", "10%", "22%", "14%", "12%", "12%"]


def scores_text(entry: Entry, benchmark: BenchmarkConfig, revealed: bool = False) -> str:
    """The primary metric first, then the others: `accuracy 0.8123, macro_f1 0.7710`.

    Under the Ladder, before the reveal, the submitter sees what the board shows: the
    released scores, rounded, or none (the note says why)."""
    if not entry.scores:
        return ""
    names = [benchmark.primary_metric] + [
        m for m in benchmark.all_metrics if m != benchmark.primary_metric
    ]
    release = None if revealed else entry.release
    shown = published_scores(entry.scores, release)
    if release is not None and not release.updated:
        return "not released"
    digits = ".4f" if release is None else "g"
    return ", ".join(f"{m} {shown[m]:{digits}}" for m in names if shown.get(m) is not None)


def note(entry: Entry) -> str:
    """What the submitter should know about the job's state, in their terms.

    Flag details are not shown to the submitter: they may name other accounts.
    """
    status, review = entry.status, entry.review
    approved = review is not None and review.decision == "approved"
    if status is JobStatus.FAILED:
        return entry.error.message if entry.error else "the evaluation failed"
    if status is JobStatus.REVIEW:
        return "held for a reviewer"
    if status is JobStatus.RUNNING:
        return f"being scored (attempt {entry.attempts})"
    if status is JobStatus.PENDING:
        return "approved by a reviewer; waiting to be scored" if approved else "waiting"
    return "published after review" if approved else "published on the board"


def release_note(entry: Entry, benchmark: BenchmarkConfig, revealed: bool) -> str:
    """Under the Ladder, why this job's score was (or was not) released."""
    if entry.release is None or revealed or entry.status is not JobStatus.FINISHED:
        return ""
    return entry.release.why(benchmark.primary_metric)


def private_text(entry: Entry, benchmark: BenchmarkConfig, revealed: bool) -> str:
    """The private split's scores once revealed; before, only that they exist."""
    private = metrics_of(entry.split_scores, PRIVATE)
    if not private or entry.status is not JobStatus.FINISHED:
        return ""
    if not revealed:
        return PRIVATE_HIDDEN
    names = [benchmark.primary_metric] + [
        m for m in benchmark.all_metrics if m != benchmark.primary_metric
    ]
    return ", ".join(f"{m} {private[m]:.4f}" for m in names if m in private)


def mine_table(
    entries: Iterable[Entry],
    positions: dict[str, int],
    benchmark: BenchmarkConfig,
    revealed: bool = False,
    chosen: Iterable[str] = (),
) -> pd.DataFrame:
    """One user's jobs, newest first (job ids sort by time).

    `revealed`: the reveal is published, so the private scores may be shown."""
    chosen = set(chosen)
    rows = []
    waiting = len(positions)
    for entry in sorted(entries, key=lambda e: e.job_id, reverse=True):
        place = positions.get(entry.job_id)
        rows.append(
            [
                entry.job_id,
                cell(entry.model),
                entry.status.value,
                f"{place} of {waiting}" if place is not None else "",
                # A score held for review (or rejected) is not the submitter's to see yet:
                # it is what the review rules are there to check.
                scores_text(entry, benchmark, revealed)
                if entry.status is JobStatus.FINISHED
                else "",
                when(entry.submitted_at),
                cell(release_note(entry, benchmark, revealed) or note(entry), 600),
                private_text(entry, benchmark, revealed),
                "✓" if entry.job_id in chosen else "",
            ]
        )
    return pd.DataFrame(rows, columns=MINE_HEADERS, dtype=object)


def flags_text(entry: Entry) -> str:
    return "; ".join(f"{flag.rule}: {flag.detail}" for flag in entry.flags) or "(no flag)"


def review_table(entries: Iterable[Entry], benchmark: BenchmarkConfig) -> pd.DataFrame:
    """Jobs waiting for a reviewer, oldest first: the queue's order of fairness."""
    rows = [
        [
            entry.job_id,
            cell(entry.model),
            entry.submitter,
            cell(flags_text(entry), 600),
            scores_text(entry, benchmark),
            when(entry.submitted_at),
            cell(entry.description),
        ]
        for entry in sorted(entries, key=lambda e: e.job_id)
    ]
    return pd.DataFrame(rows, columns=REVIEW_HEADERS, dtype=object)


def pending_choices(entries: Iterable[Entry]) -> list[tuple[str, str]]:
    """(label, job id) pairs for the cancel menu: only jobs that can still be cancelled."""
    return [
        (f"{cell(e.model, 60)} ({e.job_id})", e.job_id)
        for e in sorted(entries, key=lambda e: e.job_id, reverse=True)
        if e.status is JobStatus.PENDING
    ]
