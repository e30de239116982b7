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
from heldout.leaderboard.text import cell, html_text, md_escape
from heldout.queue.entry import Entry, check_job_id
from heldout.queue.phases import selection_open, stamp
from heldout.queue.selection import Selections, selectable
from heldout.queue.status import JobStatus

log = logging.getLogger(__name__)

EMPTY = pd.DataFrame(columns=MINE_HEADERS, dtype=object)
LIVE = (JobStatus.PENDING, JobStatus.RUNNING)
CANCEL_WHAT = "Please choose one of your waiting submissions to cancel."


LIVE_SECONDS = 1.5
"""While a job waits or runs, the tab looks again this often, so a job scored in 50 ms
shows as FINISHED within about 2 s. It stops as soon as nothing is live."""


def refresh_seconds(ctx: Context) -> float:
    """Poll quickly enough to see a job start and finish, but never hammer the store."""
    return max(1.0, min(ctx.config.leaderboard.refresh_seconds, LIVE_SECONDS))


def revealed(ctx: Context) -> bool:
    """The reveal is published (read from the board's cache: no extra request)."""
    try:
        return ctx.board.get().record is not None
    except HeldoutError:
        return False


def view(ctx: Context, user: str | None) -> tuple[Any, ...]:
    """(quota, table, cancel menu, timer, final-choice boxes, choice note) for `user`;
    empty when signed out."""
    if user is None:
        return (
            SIGN_IN_TO_SEE,
            EMPTY,
            gr.Dropdown(choices=[], value=None),
            gr.Timer(active=False),
            gr.Dropdown(choices=[], value=[]),
            "",
        )
    try:
        entries = ctx.queue.user_jobs(user)
        waiting = any(e.status is JobStatus.PENDING for e in entries)
        positions = ctx.queue.positions() if waiting else {}
        chosen = Selections(ctx.queue).get(user) if has_choice(ctx) else ()
    except HeldoutError:
        log.warning("could not read the jobs of %s", user, exc_info=True)
        return (
            "Your submissions could not be read just now; the page will try again.",
            gr.skip(),
            gr.skip(),
            gr.Timer(active=True),
            gr.skip(),
            gr.skip(),
        )
    table = mine_table(entries, positions, ctx.config.benchmark, revealed(ctx), chosen)
    live = any(e.status in LIVE for e in entries)
    choices = pending_choices(entries)
    return (
        quota_text(ctx, user),
        table,
        gr.Dropdown(choices=choices, value=None),
        gr.Timer(active=live),
        gr.Dropdown(choices=final_choices(entries, ctx), value=list(chosen)),
        choice_note(ctx, chosen),
    )


def has_choice(ctx: Context) -> bool:
    """Final choices matter in a competition: one with a deadline or a reveal."""
    phases = ctx.config.phases
    return phases.end is not None or phases.reveal_at is not None


def final_choices(entries: list[Entry], ctx: Context) -> list[tuple[str, str]]:
    """(label, job id) of the jobs that may be chosen; the public score in the label."""
    bench = ctx.config.benchmark
    found = []
    for e in sorted(entries, key=lambda e: e.job_id, reverse=True):
        if not has_choice(ctx) or not selectable(e, ctx.queue):
            continue
        score = (
            (e.scores or {}).get(bench.primary_metric) if e.status is JobStatus.FINISHED else None
        )
        shown = f", {bench.primary_metric} {score:.4f}" if score is not None else ""
        found.append((f"{cell(e.model, 60)} ({e.job_id}{shown})", e.job_id))
    return found


def choice_note(ctx: Context, chosen: tuple[str, ...]) -> str:
    if not has_choice(ctx):
        return ""
    phases = ctx.config.phases
    n = phases.select_max
    head = (
        f"Choose up to **{n}** submission{'s' if n != 1 else ''} for the final ranking; "
        "your best private score among them counts. With none chosen, your best public "
        f"{'ones count' if n != 1 else 'one counts'}. "
    )
    if not selection_open(phases, ctx.clock()):
        return head + "**Final choices are closed.**"
    until = f"You can change it until {stamp(phases.end)}. " if phases.end else ""
    now = f"Chosen now: {len(chosen)}." if chosen else "Nothing chosen yet."
    return head + until + now


def choose(ctx: Context, job_ids: Any, profile: Any) -> str:
    """Checked by `Selections.save` against the user's own jobs, the limit and the clock."""
    user = require_user(profile, "Please sign in to choose your final submissions.")
    if not has_choice(ctx):
        raise Refusal("This benchmark has no final ranking to choose submissions for.")
    if job_ids is None:
        job_ids = []
    if not isinstance(job_ids, list):
        raise Refusal("Please tick the submissions you want to count.")
    chosen = Selections(ctx.queue).save(user, job_ids)
    if not chosen:
        return "Saved: nothing chosen, so your best public submissions will count."
    return f"Saved your final choice: {', '.join(f'`{j}`' for j in chosen)}."


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
    with gr.Group(visible=has_choice(ctx)):
        picks_note = gr.Markdown(elem_id="final-note")
        # allow_custom_value: gradio would otherwise check the input against the choices
        # it last sent to this browser, and an API caller (with no page) could never
        # choose. `Selections.save` checks every id on the server instead.
        picks = gr.Dropdown(
            label="Final choice",
            choices=[],
            multiselect=True,
            allow_custom_value=True,
            max_choices=ctx.config.phases.select_max,
            elem_id="final-choice",
        )
        save = gr.Button("Save final choice", elem_id="final-save")
    timer = gr.Timer(refresh_seconds(ctx), active=False)
    outputs = [quota, table, menu, timer, picks, picks_note]

    def on_view(profile: gr.OAuthProfile | None) -> tuple[Any, ...]:
        return view(ctx, user_of(profile))

    def on_choose(job_ids: Any, profile: gr.OAuthProfile | None) -> tuple[Any, ...]:
        try:
            message = choose(ctx, job_ids, profile)
        except (Refusal, QueueError) as exc:
            message = sentence(str(exc))
            gr.Warning(html_text(message))
            message = f"**Not saved.** {md_escape(message)}"
        except HeldoutError:
            log.exception("saving a final choice failed")
            message = "**Not saved.** The queue could not be reached; please try again."
        return (message, *view(ctx, user_of(profile)))

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
    save.click(on_choose, inputs=[picks], outputs=[status, *outputs], api_name="final_choice")
    return {"load": (on_view, outputs)}
