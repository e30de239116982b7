"""`create_app`: the leaderboard's Blocks, built from a config and a queue.

A factory, not a module-level app: tests and benchmarks build as many as they like,
each with its own queue, committer and board cache. Serving is `server.py`'s job; the
sign-in settings must be in the environment before this module is imported
(`oauth_env`).
"""

from typing import Any

import gradio as gr

from heldout.config import Config
from heldout.leaderboard import about, board, mine, review, submit
from heldout.leaderboard.context import make_context, public_config
from heldout.leaderboard.identity import is_reviewer, user_of
from heldout.queue.backends import open_queue
from heldout.queue.jobs import JobQueue

UPLOAD_CACHE = (3600, 3600)  # uploads are not gated by login: delete them after an hour


def create_app(config: Config, queue: JobQueue | None = None) -> gr.Blocks:
    config = public_config(config)
    ctx = make_context(config, queue if queue is not None else open_queue(config))
    name = config.benchmark.name
    with gr.Blocks(
        title=f"{name} leaderboard", analytics_enabled=False, delete_cache=UPLOAD_CACHE
    ) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown(f"# {name} leaderboard", elem_id="title")
            gr.LoginButton(scale=0, min_width=260)
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="board"):
                parts: dict[str, dict[str, Any]] = {"board": board.build(ctx)}
            with gr.Tab("Submit", id="submit"):
                parts["submit"] = submit.build(ctx)
            with gr.Tab("My submissions", id="mine") as mine_tab:
                parts["mine"] = mine.build(ctx)
            with gr.Tab("Review", id="review", visible=False) as review_tab:
                parts["review"] = review.build(ctx)
            with gr.Tab("About", id="about"):
                about.build(config)

        for part in parts.values():
            if "load" in part:
                fn, outputs = part["load"]
                demo.load(fn, outputs=outputs, api_visibility="undocumented")

        # A new submission shows up at once on My submissions, and starts its timer.
        view, mine_outputs = parts["mine"]["load"]
        parts["submit"]["event"].then(view, outputs=mine_outputs, api_visibility="undocumented")
        # …and the tab is fresh whenever it is opened, not only at the next timer tick.
        mine_tab.select(view, outputs=mine_outputs, api_visibility="undocumented")

        def review_visible(profile: gr.OAuthProfile | None) -> Any:
            # Tidiness only: every review handler re-checks the reviewer list.
            return gr.Tab(visible=is_reviewer(config, user_of(profile)))

        demo.load(review_visible, outputs=[review_tab], api_visibility="undocumented")
    demo.queue(default_concurrency_limit=16)
    return demo
