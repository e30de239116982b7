"""The board as pure functions of the results frame: order, table and progress curve.

Kept apart from gradio so the tie-break rule and the table's shape are tested without
a server, and so the benchmark can time exactly what a page load costs the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.leaderboard.text import model_link

MAX_CELL = 200
RANK, MODEL, SUBMITTER, SUBMITTED, DESCRIPTION, JOB = (
    "Rank",
    "Model",
    "Submitter",
    "Submitted",
    "Description",
    "Job id",
)
TIME, BEST = "time", "best"
MODEL_PAGE = "Model page"


@dataclass(frozen=True)
class Columns:
    """The table's headers and their gradio datatypes, in display order."""

    headers: list[str]
    datatypes: list[str]  # only "str" and "number": no cell type that renders markup
    widths: list[str] | None  # None: too many metrics to fix widths, let the browser decide


def columns(benchmark: BenchmarkConfig) -> Columns:
    others = [m for m in benchmark.all_metrics if m != benchmark.primary_metric]
    headers = [RANK, MODEL, MODEL_PAGE, SUBMITTER, benchmark.primary_metric, *others, SUBMITTED]
    headers += [DESCRIPTION, JOB]
    # The model page is the one Markdown column: a link built from a checked Hub id only
    # (`competition.model_link`); Markdown cells are sanitised, never raw HTML.
    datatypes = ["number", "str", "markdown", "str"] + ["number"] * (1 + len(others))
    datatypes += ["str"] * 3
    n = 1 + len(others)
    rest = 100 - (4 + 13 + 14 + 9 + 7 * n + 17 + 21)
    widths = None
    if rest >= 6:
        # Wide enough for a whole job id (25 characters) and a whole UTC time: never cut off.
        widths = ["4%", "13%", "14%", "9%", *["7%"] * n, "17%", f"{rest}%", "21%"]
    return Columns(headers, datatypes, widths)


def rank(frame: pd.DataFrame, benchmark: BenchmarkConfig) -> pd.DataFrame:
    """Best first. Equal scores: the earlier submission first, then the job id.

    The job id makes the order total, so two page loads never disagree. A missing score
    (NaN) sorts last whatever the direction.
    """
    keys = frame[["primary_score", "submitted_at", "job_id"]]  # sort the keys, not every column
    order = keys.sort_values(
        ["primary_score", "submitted_at", "job_id"],
        ascending=[not benchmark.higher_is_better, True, True],
        na_position="last",
        kind="mergesort",
    ).index
    return frame.loc[order].reset_index(drop=True)


def _text(series: pd.Series) -> pd.Series:
    """User text as a plain one-line string cell: whitespace folded, length capped."""
    text = series.astype("string").fillna("")
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    long = text.str.len() > MAX_CELL
    return text.where(~long, text.str.slice(0, MAX_CELL - 1) + "…").astype(object)


def _stamp(series: pd.Series) -> pd.Series:
    """`2026-01-31 12:05 UTC`; numpy formats a column several times faster than strftime."""
    minutes = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[m]")
    text = pd.Series(np.datetime_as_string(minutes, unit="m"), index=series.index, dtype="str")
    stamps = text.str.replace("T", " ", regex=False) + " UTC"
    return stamps.where(series.notna(), "").astype(object)


def board_table(frame: pd.DataFrame, benchmark: BenchmarkConfig) -> pd.DataFrame:
    """The ranked table exactly as the page shows it (`frame` is `Results.read()`)."""
    cols = columns(benchmark)
    ranked = rank(frame, benchmark)
    metrics = [benchmark.primary_metric] + [
        m for m in benchmark.all_metrics if m != benchmark.primary_metric
    ]
    table = pd.DataFrame(
        {
            RANK: pd.RangeIndex(1, len(ranked) + 1),
            MODEL: _text(ranked["model"]),
            MODEL_PAGE: ranked["model"].map(model_link).astype(object),
            SUBMITTER: _text(ranked["submitter"]),
            **{m: ranked[m].astype("float64").round(4) for m in metrics},
            SUBMITTED: _stamp(ranked["submitted_at"]),
            DESCRIPTION: _text(ranked["description"]),
            JOB: ranked["job_id"].astype(object),
        }
    )
    return table[cols.headers]


def best_over_time(frame: pd.DataFrame, benchmark: BenchmarkConfig) -> pd.DataFrame:
    """The best primary score so far, at each submission that improved it.

    Only the improving submissions are kept, so the plot stays a handful of points
    however many results there are. A last point carries the line to the newest
    submission.
    """
    empty = pd.DataFrame({TIME: pd.Series([], dtype="datetime64[us]"), BEST: []})
    scored = frame.dropna(subset=["primary_score"])
    if scored.empty:
        return empty
    ordered = scored.sort_values(["submitted_at", "job_id"], kind="mergesort")
    values = ordered["primary_score"].astype("float64")
    best = values.cummax() if benchmark.higher_is_better else values.cummin()
    improved = best.ne(best.shift())
    times = ordered["submitted_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    curve = pd.DataFrame({TIME: times[improved], BEST: best[improved]})
    last = pd.DataFrame({TIME: [times.iloc[-1]], BEST: [best.iloc[-1]]})
    if curve[TIME].iloc[-1] != last[TIME].iloc[0]:
        curve = pd.concat([curve, last])
    return curve.reset_index(drop=True)


def search(table: pd.DataFrame, query: str, limit: int) -> pd.DataFrame:
    """Rows of the full board whose model, submitter or job id contain `query`.

    Plain substring matching, case-insensitive (never a regex: the query is user text).
    Ranks stay those of the full board.
    """
    query = " ".join((query or "").split())
    if not query:
        return table.head(limit)
    hit = pd.Series(False, index=table.index)
    for column in (MODEL, SUBMITTER, JOB):
        text = table[column].astype("string").str.casefold()
        hit |= text.str.contains(query.casefold(), regex=False).fillna(False)
    return table[hit].head(limit)
