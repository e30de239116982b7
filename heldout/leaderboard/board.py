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
from heldout.leaderboard.competition import FINAL_TYPES, final_caption, final_headers
from heldout.leaderboard.context import Context
from heldout.leaderboard.plot import progress_svg
from heldout.leaderboard.ranking import BEST, TIME, columns, search
from heldout.leaderboard.text import md_escape
from heldout.queue.phases import countdown

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


def countdown_text(ctx: Context, board: Board | None) -> str:
    revealed = board is not None and board.record is not None
    return countdown(ctx.config.phases, ctx.clock(), revealed=revealed)


def build(ctx: Context) -> dict[str, Any]:
    bench = ctx.config.benchmark
    cols = columns(bench)
    clock_line = gr.Markdown(countdown_text(ctx, None), elem_id="board-countdown")
    final_note = gr.Markdown(visible=False, elem_id="final-caption")
    final = gr.Dataframe(
        value=pd.DataFrame(columns=final_headers(bench)),
        headers=final_headers(bench),
        datatype=FINAL_TYPES,  # str and number only
        interactive=False,
        max_height=640,
        buttons=["fullscreen", "copy"],
        elem_id="final-board",
        label="Final ranking",
        show_label=False,
        visible=False,
    )
    note = gr.Markdown("Loading the results…", elem_id="board-caption")
    table = gr.Dataframe(
        value=pd.DataFrame(columns=cols.headers),
        headers=cols.headers,
        datatype=cols.datatypes,  # str, number and one sanitised markdown link: never HTML
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
    # Server-drawn SVG (numbers and UTC dates only): see `plot.py` for why not LinePlot.
    plot = gr.HTML(progress_svg(best_over_time_empty(), bench.primary_metric), elem_id="progress")
    with gr.Accordion("Post-deadline submissions", open=False, visible=False) as late_box:
        gr.Markdown(
            "Submitted after the deadline: scored on the public split, never part of the "
            "final ranking."
        )
        late = gr.Dataframe(
            value=pd.DataFrame(columns=cols.headers),
            headers=cols.headers,
            datatype=cols.datatypes,
            interactive=False,
            max_height=400,
            column_widths=cols.widths,
            elem_id="late-board",
            show_label=False,
        )
    version = gr.State("")
    timer = gr.Timer(max(1.0, ctx.config.leaderboard.refresh_seconds))

    def show(force: bool, seen: str, text: str) -> tuple[Any, ...]:
        """`seen` is the version this browser shows: an unchanged board is not resent."""
        try:
            board = ctx.board.get(force=force)
        except StoreError:
            log.warning("could not load the board", exc_info=True)
            skip = [gr.skip()] * 7
            return (*skip[:2], UNAVAILABLE, countdown_text(ctx, None), *skip[2:6], seen)
        ticking = countdown_text(ctx, board)
        if board.version == seen:
            return (gr.skip(), gr.skip(), gr.skip(), ticking, *[gr.skip()] * 4, seen)
        text = (text or "")[:200]
        rows = search(board.table, text, SHOWN_ROWS)
        svg = progress_svg(board.curve, bench.primary_metric)
        revealed = board.final is not None and board.record is not None
        return (
            rows,
            svg,
            caption(ctx, board, text.strip(), len(rows)),
            ticking,
            gr.Dataframe(value=board.final, visible=True) if revealed else gr.skip(),
            gr.Markdown(final_caption(board.record, bench), visible=True)
            if revealed
            else gr.skip(),
            gr.Accordion(visible=board.late is not None),
            board.late if board.late is not None else gr.skip(),
            board.version,
        )

    def on_load() -> tuple[Any, ...]:
        return show(False, "", "")

    def on_tick(seen: str, text: str) -> tuple[Any, ...]:
        return show(False, seen, text)

    def on_refresh(text: str) -> tuple[Any, ...]:
        return show(True, "", text)

    def on_search(text: str) -> tuple[Any, ...]:
        return show(False, "", text)

    outputs = [table, plot, note, clock_line, final, final_note, late_box, late, version]
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


def best_over_time_empty() -> pd.DataFrame:
    return pd.DataFrame({TIME: pd.Series([], dtype="datetime64[us]"), BEST: []})
