"""The My submissions tab: the signed-in user's own jobs, nobody else's.

The job list comes from `queue.user_jobs(user)` with `user` taken from the OAuth
session, so there is no parameter a caller could change to see another account. A
timer refreshes the tab while a job is waiting or running, and stops when none is.
"""

import logging
from typing import Any

import gradio as gr
import pandas as pd

from heldout.errors import HeldoutError, QueueError
from heldout.leaderboard.context import Context
from heldout.leaderboard.identity import SIGN_IN_TO_SEE, Refusal, require_user, user_of
from heldout.leaderboard.submit import quota_text, sentence
from heldout.leaderboard.tables import MINE_HEADERS, MINE_WIDTHS, mine_table, pending_choices
from heldout.leaderboard.text import html_text, md_escape
from heldout.queue.entry import check_job_id
from heldout.queue.status import JobStatus

log = logging.getLogger(__name__)

EMPTY = pd.DataFrame(columns=MINE_HEADERS, dtype=object)
LIVE = (JobStatus.PENDING, JobStatus.RUNNING)
CANCEL_WHAT = "Please choose one of your waiting submissions to cancel."


def refresh_seconds(ctx: Context) -> float:
    """Poll quickly enough to see a job start and finish, but never hammer the store."""
    return max(1.0, min(ctx.config.leaderboard.refresh_seconds, 10.0))


def view(ctx: Context, user: str | None) -> tuple[str, Any, Any, Any]:
    """(quota, table, cancel menu, timer) for `user`; empty when signed out."""
    if user is None:
        return SIGN_IN_TO_SEE, EMPTY, gr.Dropdown(choices=[], value=None), gr.Timer(active=False)
    try:
        entries = ctx.queue.user_jobs(user)
        waiting = any(e.status is JobStatus.PENDING for e in entries)
        positions = ctx.queue.positions() if waiting else {}
    except HeldoutError:
        log.warning("could not read the jobs of %s", user, exc_info=True)
        return (
            "Your submissions could not be read just now; the page will try again.",
            gr.skip(),
            gr.skip(),
            gr.Timer(active=True),
        )
    table = mine_table(entries, positions, ctx.config.benchmark)
    live = any(e.status in LIVE for e in entries)
    choices = pending_choices(entries)
    return (
        quota_text(ctx, user),
        table,
        gr.Dropdown(choices=choices, value=None),
        gr.Timer(active=live),
    )


def cancel(ctx: Context, job_id: Any, profile: Any) -> str:
    """Ownership and status are checked by the queue inside its commit, not here."""
    user = require_user(profile, "Please sign in to cancel a submission.")
    if not isinstance(job_id, str) or not job_id:
        raise Refusal(CANCEL_WHAT)
    check_job_id(job_id)
    ctx.queue.cancel(job_id, user)
    return f"Cancelled job `{job_id}`; it no longer counts against today's quota."


def build(ctx: Context) -> dict[str, Any]:
    quota = gr.Markdown(SIGN_IN_TO_SEE, elem_id="mine-quota")
    table = gr.Dataframe(
        value=EMPTY,
        headers=MINE_HEADERS,
        datatype="str",
        interactive=False,
        wrap=True,
        column_widths=MINE_WIDTHS,
        elem_id="mine",
        label="Your submissions",
    )
    with gr.Row():
        menu = gr.Dropdown(label="Waiting submission", choices=[], allow_custom_value=True, scale=3)
        cancel_button = gr.Button("Cancel submission", variant="stop", scale=1)
        refresh = gr.Button("Refresh", scale=1)
    status = gr.Markdown(elem_id="mine-status")
    timer = gr.Timer(refresh_seconds(ctx), active=False)
    outputs = [quota, table, menu, timer]

    def on_view(profile: gr.OAuthProfile | None) -> tuple[str, Any, Any, Any]:
        return view(ctx, user_of(profile))

    def on_cancel(job_id: Any, profile: gr.OAuthProfile | None) -> tuple[Any, ...]:
        try:
            message = cancel(ctx, job_id, profile)
        except (Refusal, QueueError) as exc:
            message = sentence(str(exc))
            gr.Warning(html_text(message))
            message = f"**Not cancelled.** {md_escape(message)}"
        except HeldoutError:
            log.exception("cancel failed")
            message = "**Not cancelled.** The queue could not be reached; please try again."
        return (message, *view(ctx, user_of(profile)))

    refresh.click(on_view, outputs=outputs, api_name="my_submissions")
    timer.tick(on_view, outputs=outputs, api_visibility="undocumented", show_progress="hidden")
    cancel_button.click(on_cancel, inputs=[menu], outputs=[status, *outputs], api_name="cancel")
    return {"load": (on_view, outputs)}
