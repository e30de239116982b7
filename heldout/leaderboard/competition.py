"""The board's competition views, as pure functions of the results frame.

- the live board holds on-time results only; post-deadline ones go on their own board;
- after the reveal, the final ranking: one row per submitter, ranked by the best
  private score among the submissions that count (`reveal.json`), with the public rank
  beside it and the change in rank.

Private scores are read only from published rows, and the reveal publishes them all in
one commit, so nothing here can show a private score before the reveal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heldout.config import BenchmarkConfig, PhasesConfig
from heldout.leaderboard.ranking import MODEL, SUBMITTED, SUBMITTER, _stamp, _text
from heldout.leaderboard.text import md_escape
from heldout.queue.reveal import RevealRecord

RANK, CHANGE, PUBLIC_RANK, JOB = "Rank", "Change", "Public rank", "Job id"


def late_mask(frame: pd.DataFrame, phases: PhasesConfig) -> pd.Series:
    """Rows submitted at or after the deadline."""
    if phases.end is None or frame.empty:
        return pd.Series(False, index=frame.index)
    return frame["submitted_at"] >= pd.Timestamp(phases.end)


def private_primary(frame: pd.DataFrame, primary: str) -> pd.Series:
    """Each row's published private score of the primary metric (NaN when unpublished)."""

    def pick(items: Any) -> float:
        for item in items if items is not None else ():
            if item["split"] == "private" and item["metric"] == primary:
                return float(item["value"])
        return np.nan

    return (
        frame["split_scores"].map(pick).astype("float64")
        if len(frame)
        else pd.Series([], dtype="float64")
    )


def final_headers(benchmark: BenchmarkConfig) -> list[str]:
    metric = benchmark.primary_metric
    return [
        RANK, CHANGE, PUBLIC_RANK, SUBMITTER, MODEL,
        f"{metric} (private)", f"{metric} (public)", SUBMITTED, JOB,
    ]  # fmt: skip


FINAL_TYPES = ["number", "str", "number", "str", "str", "number", "number", "str", "str"]


def _ranks(frame: pd.DataFrame, score: str, higher: bool) -> pd.Series:
    """1 = best; equal scores go to the earlier submission, then the job id (as on the
    live board), so two page loads never disagree."""
    order = frame.sort_values(
        [score, "submitted_at", "job_id"],
        ascending=[not higher, True, True],
        na_position="last",
        kind="mergesort",
    ).index
    return pd.Series(np.arange(1, len(order) + 1), index=order).reindex(frame.index)


def change_text(public_rank: int, final_rank: int) -> str:
    moved = int(public_rank) - int(final_rank)
    if moved > 0:
        return f"▲ {moved}"
    if moved < 0:
        return f"▼ {-moved}"
    return "="


def final_table(
    frame: pd.DataFrame, record: RevealRecord, benchmark: BenchmarkConfig, phases: PhasesConfig
) -> pd.DataFrame:
    """One row per submitter with a counted, published job: best private score first."""
    headers = final_headers(benchmark)
    on_time = frame[~late_mask(frame, phases)]
    if on_time.empty:
        return pd.DataFrame(columns=headers)
    higher = benchmark.higher_is_better
    on_time = on_time.assign(_private=private_primary(on_time, benchmark.primary_metric))
    # Public rank: each submitter's best public score over all their on-time results.
    best_public = on_time.sort_values(
        ["primary_score", "submitted_at", "job_id"], ascending=[not higher, True, True]
    ).drop_duplicates("submitter")
    public_rank = pd.Series(
        _ranks(best_public, "primary_score", higher).to_numpy(), index=best_public["submitter"]
    )
    counted = {job for jobs in record.counted.values() for job in jobs}
    pool = on_time[on_time["job_id"].isin(counted) & on_time["_private"].notna()]
    best = pool.sort_values(
        ["_private", "submitted_at", "job_id"], ascending=[not higher, True, True]
    )
    best = best.drop_duplicates("submitter").reset_index(drop=True)
    final_rank = _ranks(best, "_private", higher)
    best = best.assign(_rank=final_rank).sort_values("_rank").reset_index(drop=True)
    publics = best["submitter"].map(public_rank).astype("int64")
    table = pd.DataFrame(
        {
            RANK: best["_rank"].astype("int64"),
            CHANGE: [change_text(p, f) for p, f in zip(publics, best["_rank"], strict=True)],
            PUBLIC_RANK: publics,
            SUBMITTER: _text(best["submitter"]),
            MODEL: _text(best["model"]),
            headers[5]: best["_private"].round(4),
            headers[6]: best["primary_score"].astype("float64").round(4),
            SUBMITTED: _stamp(best["submitted_at"]),
            JOB: best["job_id"].astype(object),
        }
    )
    return table[headers]


def final_caption(record: RevealRecord, benchmark: BenchmarkConfig) -> str:
    return (
        f"**Final ranking**, revealed {md_escape(record.revealed_at[:16].replace('T', ' '))} UTC: "
        f"each submitter's best **private** {md_escape(benchmark.primary_metric)} among the "
        "submissions that count (their final choice, or else their best public ones). "
        "*Public rank* is their place on the live board; *Change* is how far they moved."
    )
