"""The board as pure functions of the results frame: order, table and progress curve.

Kept apart from gradio so the tie-break rule and the table's shape are tested without
a server, and so the benchmark can time exactly what a page load costs the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.leaderboard.intervals import BAND, band_cells, primary_interval, score_cells
from heldout.leaderboard.text import model_link

MAX_CELL = 200
ENTRIES = "Entries"  # how many scored submissions the row's submitter has made
RANK, MODEL, SUBMITTER, SUBMITTED, DESCRIPTION, JOB = (
    "Rank",
    "Model",
    "Submitter",
    "Submitted",
    "Description",
    "Job id",
)
TIME, BEST, LOW, HIGH = "time", "best", "low", "high"
MODEL_PAGE = "Model page"


@dataclass(frozen=True)
class Columns:
    """The table's headers and their gradio datatypes, in display order."""

    headers: list[str]
    datatypes: list[str]  # only "str" and "number": no cell type that renders markup
    widths: list[str] | None  # None: too many metrics to fix widths, let the browser decide


def columns(benchmark: BenchmarkConfig) -> Columns:
    others = [m for m in benchmark.all_metrics if m != benchmark.primary_metric]
    headers = [RANK, BAND, MODEL, MODEL_PAGE, SUBMITTER, ENTRIES, benchmark.primary_metric]
    headers += [*others, SUBMITTED, DESCRIPTION, JOB]
    # The model page is the one Markdown column: a link built from a checked Hub id only
    # (`competition.model_link`); Markdown cells are sanitised, never raw HTML. The
    # primary score is text: `0.8517 ± 0.011` when the evaluator computed its interval.
    datatypes = ["number", "str", "str", "markdown", "str", "number", "str"]
    datatypes += ["number"] * len(others) + ["str"] * 3
    n = len(others)
    rest = 100 - (4 + 4 + 10 + 8 + 8 + 5 + 13 + 7 * n + 16 + 21)
    widths = None
    if rest >= 4:
        # Wide enough for a whole job id (25 characters) and a whole UTC time: never cut off.
        widths = ["4%", "4%", "10%", "8%", "8%", "5%", "13%", *["7%"] * n, "16%", f"{rest}%"]
        widths.append("21%")
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
    # Under the Ladder a job that was not released has no score: it counts as an entry
    # of its submitter, but takes no place on the board.
    counts = frame.groupby("submitter", dropna=False)["job_id"].size() if len(frame) else None
    ranked = rank(frame.dropna(subset=["primary_score"]), benchmark)
    primary = benchmark.primary_metric
    metrics = [m for m in benchmark.all_metrics if m != primary]
    table = pd.DataFrame(
        {
            RANK: pd.RangeIndex(1, len(ranked) + 1),
            BAND: band_cells(ranked),
            MODEL: _text(ranked["model"]),
            MODEL_PAGE: ranked["model"].map(model_link).astype(object),
            SUBMITTER: _text(ranked["submitter"]),
            ENTRIES: entries(ranked, counts),
            primary: score_cells(ranked, primary),
            **{m: ranked[m].astype("float64").round(4) for m in metrics},
            SUBMITTED: _stamp(ranked["submitted_at"]),
            DESCRIPTION: _text(ranked["description"]),
            JOB: ranked["job_id"].astype(object),
        }
    )
    return table[cols.headers]


def entries(frame: pd.DataFrame, counts: pd.Series | None = None) -> pd.Series:
    """Per row, how many results its submitter has (as Kaggle's "Entries"): a best of
    ten tries and a single try mean different things. `counts` (per submitter) may come
    from a larger frame than the rows shown."""
    if frame.empty:
        return pd.Series([], dtype="int64")
    if counts is None:
        return frame.groupby("submitter", dropna=False)["job_id"].transform("size").astype("int64")
    return frame["submitter"].map(counts).fillna(0).astype("int64")


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
    # The interval of the row that holds the best score, for the band around the line.
    bounds = primary_interval(ordered, benchmark.primary_metric)
    low, high = bounds["low"].where(improved).ffill(), bounds["high"].where(improved).ffill()
    curve = pd.DataFrame(
        {TIME: times[improved], BEST: best[improved], LOW: low[improved], HIGH: high[improved]}
    )
    last = pd.DataFrame(
        {TIME: [times.iloc[-1]], BEST: [best.iloc[-1]], LOW: [low.iloc[-1]], HIGH: [high.iloc[-1]]}
    )
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
