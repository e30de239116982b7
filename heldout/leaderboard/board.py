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
from heldout.leaderboard.ranking import BEST, TIME, columns
from heldout.leaderboard.text import md_escape

log = logging.getLogger(__name__)

UNAVAILABLE = "The results could not be loaded just now; the page will try again shortly."


def caption(ctx: Context, board: Board) -> str:
    bench = ctx.config.benchmark
    direction = "higher is better" if bench.higher_is_better else "lower is better"
    count = "no results yet" if board.rows == 0 else f"{board.rows:,} result(s)"
    return (
        f"Ranked by **{md_escape(bench.primary_metric)}** ({direction}); equal scores rank "
        f"by submission time. {count.capitalize()}."
    )


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
        buttons=["fullscreen", "copy"],
        elem_id="board",
        label=f"{bench.name} leaderboard",
        show_label=False,
    )
    refresh = gr.Button("Refresh", size="sm", elem_id="board-refresh")
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

    def show(force: bool, seen: str) -> tuple[Any, Any, Any, str]:
        try:
            board = ctx.board.get(force=force)
        except StoreError:
            log.warning("could not load the board", exc_info=True)
            return gr.skip(), gr.skip(), UNAVAILABLE, seen
        if board.version == seen:
            return gr.skip(), gr.skip(), gr.skip(), seen
        return board.table, board.curve, caption(ctx, board), board.version

    def on_load() -> tuple[Any, Any, Any, str]:
        return show(False, "")

    def on_tick(seen: str) -> tuple[Any, Any, Any, str]:
        return show(False, seen)

    def on_refresh(seen: str) -> tuple[Any, Any, Any, str]:
        return show(True, seen)

    outputs = [table, plot, note, version]
    timer.tick(
        on_tick,
        inputs=[version],
        outputs=outputs,
        api_visibility="undocumented",
        show_progress="hidden",
    )
    refresh.click(on_refresh, inputs=[version], outputs=outputs, api_name="refresh_board")
    return {"load": (on_load, outputs)}
