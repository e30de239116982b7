"""The Submit tab: check a file completely, then queue it through the group committer.

Everything that can be checked without the queue is checked first (sign-in, name,
size, format, ids against the public list), so a refused file leaves no trace. The
queue then checks what only it can (quota, duplicates) inside its CAS commit.
"""

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import utils as gradio_utils

from heldout.errors import HeldoutError, InvalidPredictions, QueueDelayed, QueueError
from heldout.leaderboard.context import Context
from heldout.leaderboard.identity import Refusal, require_user, user_of
from heldout.leaderboard.text import html_text, md_escape, quota_line
from heldout.predictions import check_ids, detect_format, fingerprint, read_predictions
from heldout.queue.entry import Entry, check_description, check_model_name
from heldout.queue.phases import check_open
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission

log = logging.getLogger(__name__)

NO_FILE = "Please choose a predictions file to upload."
BUSY = "The submission could not be saved just now; please try again in a minute."
UPLOAD_LOST = "The uploaded file could not be read; please upload it again."
SIGNED_OUT_QUOTA = "Sign in to see how many submissions you have left today."


def sentence(message: str) -> str:
    """A refusal as one sentence: capital first letter, full stop at the end."""
    message = message.strip()
    if not message:
        return "The submission was refused."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def uploaded(path: Any) -> Path:
    """The path of a visitor's upload. Any other path (an API caller may name one) is
    refused without being opened: the leaderboard reads only what people uploaded."""
    folder = Path(gradio_utils.get_upload_folder()).resolve()
    resolved = Path(str(path)).resolve()
    if not resolved.is_relative_to(folder):
        raise Refusal(UPLOAD_LOST)
    return resolved


def prepare(ctx: Context, user: str, model: str, description: str, path: Any) -> Submission:
    """A checked `Submission`, or a `Refusal`/`HeldoutError` saying what is wrong."""
    limits = ctx.config.limits
    check_open(ctx.config.phases, ctx.clock())  # the queue checks again in its commit
    if ctx.participants is not None:
        ctx.participants.check(user)
    model = check_model_name(model or "", limits.max_model_name)
    description = check_description(description or "")
    if not path:
        raise Refusal(NO_FILE)
    path = uploaded(path)
    try:
        size = os.stat(path).st_size
    except OSError:
        raise Refusal(UPLOAD_LOST) from None
    if size > limits.max_file_bytes:  # also refused at upload (413); checked again here
        raise Refusal(f"The file is {size / 2**20:.1f} MB; the limit is {limits.max_file_mb:g} MB.")
    fmt = detect_format(path.name, limits.formats)
    try:
        content = path.read_bytes()
    except OSError:
        raise Refusal(UPLOAD_LOST) from None
    max_rows = len(ctx.public_ids) if ctx.public_ids is not None else None
    frame = read_predictions(content, fmt, ctx.config.benchmark, limits.max_file_bytes, max_rows)
    if ctx.public_ids is not None:
        check_ids(frame, ctx.public_ids)
    return Submission(
        submitter=user,
        model=model,
        content=content,
        format=fmt,
        description=description,
        fingerprint=fingerprint(frame),
    )


def submit(ctx: Context, user: str, model: str, description: str, path: Any) -> Entry:
    """Check and queue one file. Refused files (and files refused by the queue: over the
    quota, a repeat) count against the user's hourly allowance, so a stream of crafted
    or oversized submissions costs the board little."""
    wait = ctx.refusals.check(user)
    if wait is not None:
        again = ctx.clock() + timedelta(seconds=wait.seconds)
        raise Refusal(
            f"{ctx.config.limits.refusals_per_hour} of your files were refused in the last "
            f"hour; you may try again at {again:%H:%M} UTC ({wait.sentence()})"
        )
    try:
        return ctx.committer.submit(prepare(ctx, user, model, description, path))
    except (InvalidPredictions, QueueError):  # a bad file, or a good one over the quota
        ctx.refusals.add(user)
        raise


def accepted_message(entry: Entry) -> str:
    text = f"Submitted **{md_escape(entry.model)}** as job `{entry.job_id}`."
    if entry.status is JobStatus.REVIEW:
        text += " A reviewer will look at it before it is scored."
    return text + " Follow it on the **My submissions** tab."


def quota_text(ctx: Context, user: str | None) -> str:
    if user is None:
        return SIGNED_OUT_QUOTA
    try:
        return quota_line(ctx.queue.quota(user), ctx.clock())
    except HeldoutError:
        log.warning("could not read the quota of %s", user, exc_info=True)
        return "Your remaining quota could not be read just now."


def build(ctx: Context) -> dict[str, Any]:
    """The tab's components and events; returns what `app` wires to the page load."""
    formats = ctx.config.limits.formats
    gr.Markdown(
        f"Upload one file with a prediction for every test id "
        f"({', '.join('.' + f for f in formats)}, up to {ctx.config.limits.max_file_mb:g} MB). "
        "The **About** tab describes the format and has an example file."
    )
    quota = gr.Markdown(SIGNED_OUT_QUOTA, elem_id="quota")
    model = gr.Textbox(label="Model name", max_length=ctx.config.limits.max_model_name)
    description = gr.Textbox(label="Description or link (optional)", max_lines=3)
    upload = gr.File(
        label="Predictions file",
        file_types=[f".{f}" for f in formats],
        type="filepath",
        elem_id="predictions-file",
    )
    button = gr.Button("Submit", variant="primary", elem_id="submit-button")
    status = gr.Markdown(elem_id="submit-status")

    def on_submit(
        model_name: str, desc: str, path: Any, profile: gr.OAuthProfile | None
    ) -> tuple[str, str, Any]:
        user = user_of(profile)
        try:
            entry = submit(ctx, require_user(profile), model_name, desc, path)
        except QueueDelayed as exc:  # the Hub's commit quota: nothing broke, nothing written
            message = sentence(str(exc))
            gr.Info(html_text(message))
            return (
                f"**The queue is delayed.** {md_escape(message, 600)}",
                quota_text(ctx, user),
                gr.skip(),
            )
        except (Refusal, InvalidPredictions, QueueError) as exc:
            message = sentence(str(exc))
            gr.Warning(html_text(message))
            return f"**Not submitted.** {md_escape(message, 600)}", quota_text(ctx, user), gr.skip()
        except Exception:  # the page boundary: log it, show a sentence, never a trace
            log.exception("submission by %s failed", user)
            gr.Warning(BUSY)
            return f"**Not submitted.** {BUSY}", quota_text(ctx, user), gr.skip()
        return accepted_message(entry), quota_text(ctx, user), None

    event = button.click(
        on_submit,
        inputs=[model, description, upload],
        outputs=[status, quota, upload],
        api_name="submit",
        concurrency_limit=64,  # let a burst reach the group committer together
        concurrency_id="submit",
    )

    def on_load(profile: gr.OAuthProfile | None) -> str:
        return quota_text(ctx, user_of(profile))

    return {"load": (on_load, [quota]), "event": event}
