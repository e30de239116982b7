"""The Leaderboard tab: the ranked table, a Refresh button, a timer and the progress plot.

The table comes from the shared `BoardCache`. Each browser keeps the version it has
shown; a timer tick whose version is unchanged sends nothing back, so an idle page
costs no bandwidth however big the board is.
"""

import logging
from typing import Any

import gradio as gr
import pandas as pd

from heldout.errors import StoreError
from heldout.leaderboard.cache import Board
from heldout.leaderboard.context import Context
from heldout.leaderboard.ranking import BEST, TIME, columns, search
from heldout.leaderboard.text import md_escape

log = logging.getLogger(__name__)

UNAVAILABLE = "The results could not be loaded just now; the page will try again shortly."
SHOWN_ROWS = 1000
"""Rows sent to a browser at once. A 100,000-row board is a 10 MB payload and seconds of
server time per page view; the top rows plus a server-side search over all of them is
what visitors need."""


def caption(ctx: Context, board: Board, query: str = "", found: int | None = None) -> str:
    bench = ctx.config.benchmark
    direction = "higher is better" if bench.higher_is_better else "lower is better"
    text = (
        f"Ranked by **{md_escape(bench.primary_metric)}** ({direction}); equal scores rank "
        "by submission time. "
    )
    if board.rows == 0:
        return text + "No results yet."
    if query:
        shown = f"{found:,} shown" if found is not None else ""
        return text + f"Results matching “{md_escape(query, 80)}”: {shown} of {board.rows:,}."
    if board.rows > SHOWN_ROWS:
        return text + f"Top {SHOWN_ROWS:,} of {board.rows:,} results; search to find any other."
    return text + f"{board.rows:,} result(s)."


def build(ctx: Context) -> dict[str, Any]:
    bench = ctx.config.benchmark
    cols = columns(bench)
    note = gr.Markdown("Loading the results…", elem_id="board-caption")
    table = gr.Dataframe(
        value=pd.DataFrame(columns=cols.headers),
        headers=cols.headers,
        datatype=cols.datatypes,  # str and number only: cells are never HTML
        interactive=False,
        show_search="search",
        max_height=640,
        pinned_columns=2,
        column_widths=cols.widths,
        buttons=["fullscreen", "copy"],
        elem_id="board",
        label=f"{bench.name} leaderboard",
        show_label=False,
    )
    with gr.Row():
        query = gr.Textbox(
            placeholder="Find a model, submitter or job id among all results",
            show_label=False,
            scale=4,
            elem_id="board-search",
        )
        refresh = gr.Button("Refresh", size="sm", scale=1, elem_id="board-refresh")
    plot = gr.LinePlot(
        value=pd.DataFrame({TIME: pd.Series([], dtype="datetime64[us]"), BEST: []}),
        x=TIME,
        y=BEST,
        title=f"Best {bench.primary_metric} over time",
        x_title="submitted",
        y_title=f"best {bench.primary_metric}",
        tooltip=[TIME, BEST],  # numbers and dates only; no user text in the chart
        elem_id="progress",
    )
    version = gr.State("")
    timer = gr.Timer(max(1.0, ctx.config.leaderboard.refresh_seconds))

    def show(force: bool, seen: str, text: str) -> tuple[Any, Any, Any, str]:
        """`seen` is the version this browser shows: an unchanged board is not resent."""
        try:
            board = ctx.board.get(force=force)
        except StoreError:
            log.warning("could not load the board", exc_info=True)
            return gr.skip(), gr.skip(), UNAVAILABLE, seen
        if board.version == seen:
            return gr.skip(), gr.skip(), gr.skip(), seen
        text = (text or "")[:200]
        rows = search(board.table, text, SHOWN_ROWS)
        return rows, board.curve, caption(ctx, board, text.strip(), len(rows)), board.version

    def on_load() -> tuple[Any, Any, Any, str]:
        return show(False, "", "")

    def on_tick(seen: str, text: str) -> tuple[Any, Any, Any, str]:
        return show(False, seen, text)

    def on_refresh(text: str) -> tuple[Any, Any, Any, str]:
        return show(True, "", text)

    def on_search(text: str) -> tuple[Any, Any, Any, str]:
        return show(False, "", text)

    outputs = [table, plot, note, version]
    timer.tick(
        on_tick,
        inputs=[version, query],
        outputs=outputs,
        api_visibility="undocumented",
        show_progress="hidden",
    )
    refresh.click(on_refresh, inputs=[query], outputs=outputs, api_name="board")
    query.submit(on_search, inputs=[query], outputs=outputs, api_name="search_board")
    return {"load": (on_load, outputs)}
