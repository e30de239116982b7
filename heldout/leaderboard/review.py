"""The Review tab: flagged submissions, approved or rejected by configured reviewers.

The tab is hidden unless the signed-in user is a reviewer, but hiding is only for
tidiness: every handler checks the reviewer list itself, returns nothing to anyone
else (flag details name accounts), and `JobQueue.approve/reject` check it once more.
"""

import logging
from typing import Any

import gradio as gr
import pandas as pd

from heldout.errors import HeldoutError, QueueError
from heldout.leaderboard.context import Context
from heldout.leaderboard.identity import Refusal, require_reviewer
from heldout.leaderboard.submit import sentence
from heldout.leaderboard.tables import REVIEW_HEADERS, REVIEW_WIDTHS, review_table
from heldout.leaderboard.text import html_text, md_escape
from heldout.queue.entry import check_job_id
from heldout.queue.status import JobStatus

log = logging.getLogger(__name__)

EMPTY = pd.DataFrame(columns=REVIEW_HEADERS, dtype=object)
CHOOSE = "Please choose a flagged submission first."


def listing(ctx: Context, profile: Any) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The REVIEW queue and the menu of its job ids; refused to non-reviewers."""
    require_reviewer(ctx.config, profile)
    entries = ctx.queue.jobs(JobStatus.REVIEW)
    menu = [
        (f"{e.job_id} ({e.submitter})", e.job_id) for e in sorted(entries, key=lambda e: e.job_id)
    ]
    return review_table(entries, ctx.config.benchmark), menu


def decide(ctx: Context, action: str, job_id: Any, text: str, profile: Any) -> str:
    reviewer = require_reviewer(ctx.config, profile)
    if not isinstance(job_id, str) or not job_id:
        raise Refusal(CHOOSE)
    check_job_id(job_id)
    text = (text or "").strip()
    if action == "approve":
        entry = ctx.queue.approve(job_id, reviewer, note=text)
        where = (
            "published on the board" if entry.status is JobStatus.FINISHED else "queued for scoring"
        )
        return f"Approved job `{job_id}`; it is {where}."
    if not text:
        raise Refusal("Please give a reason for the rejection; the submitter will read it.")
    ctx.queue.reject(job_id, reviewer, text)
    return f"Rejected job `{job_id}`; the submitter will see your reason."


def build(ctx: Context) -> dict[str, Any]:
    gr.Markdown(
        "Submissions held by a review rule. **Approve** sends an unscored job on to be "
        "scored and publishes a scored one; **Reject** fails it with your reason, which "
        "the submitter reads."
    )
    table = gr.Dataframe(
        value=EMPTY,
        headers=REVIEW_HEADERS,
        datatype="str",
        interactive=False,
        wrap=True,
        column_widths=REVIEW_WIDTHS,
        elem_id="review-table",
        label="Waiting for review",
    )
    with gr.Row():
        menu = gr.Dropdown(label="Flagged job", choices=[], allow_custom_value=True, scale=2)
        text = gr.Textbox(label="Note or reason", scale=3)
    with gr.Row():
        approve = gr.Button("Approve", variant="primary", elem_id="review-approve")
        reject = gr.Button("Reject", variant="stop", elem_id="review-reject")
        refresh = gr.Button("Refresh", elem_id="review-refresh")
    status = gr.Markdown(elem_id="review-status")

    def on_list(profile: gr.OAuthProfile | None) -> tuple[Any, Any]:
        try:
            frame, choices = listing(ctx, profile)
        except Refusal:
            return EMPTY, gr.Dropdown(choices=[], value=None)
        except HeldoutError:
            log.warning("could not list the review queue", exc_info=True)
            return gr.skip(), gr.skip()
        return frame, gr.Dropdown(choices=choices, value=None)

    def act(action: str):  # noqa: ANN202
        def handler(job_id: Any, note: str, profile: gr.OAuthProfile | None) -> tuple[Any, ...]:
            try:
                message = decide(ctx, action, job_id, note, profile)
                ctx.board.get(force=True)  # an approval may have published a result
            except (Refusal, QueueError) as exc:
                plain = sentence(str(exc))
                gr.Warning(html_text(plain))
                message = f"**Not done.** {md_escape(plain)}"
            except HeldoutError:
                log.exception("review action %s failed", action)
                message = "**Not done.** The queue could not be reached; please try again."
            return (message, *on_list(profile))

        return handler

    outputs = [table, menu]
    refresh.click(on_list, outputs=outputs, api_name="review_list")
    approve.click(
        act("approve"), inputs=[menu, text], outputs=[status, *outputs], api_name="review_approve"
    )
    reject.click(
        act("reject"), inputs=[menu, text], outputs=[status, *outputs], api_name="review_reject"
    )
    return {"load": (on_list, outputs)}
