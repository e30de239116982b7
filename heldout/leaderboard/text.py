"""Turning values into safe, readable text for the page.

Everything a user typed (model names, descriptions, reasons, ids found in a file)
reaches the page only through these helpers: escaped for Markdown and HTML, or as
plain `str` table cells. Nothing here imports gradio, so it is cheap to test.
"""

from __future__ import annotations

import html
import math
import re
from datetime import datetime, timezone

import pandas as pd

from heldout.queue.entry import parse_iso
from heldout.queue.submission import describe_wait
from heldout.queue.users import Quota

# Every character Markdown (CommonMark + GFM) may treat as syntax.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:])")
_MAX_SHOWN = 300


def md_escape(text: object, limit: int = _MAX_SHOWN) -> str:
    """User text as inert Markdown: no links, no emphasis, no HTML, one line."""
    value = " ".join(str(text).split())  # newlines could start a heading or a list
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    # `<`, `>` and `&` become entities first; quotes stay, since an entity's `#`
    # would otherwise be escaped below and break it.
    value = html.escape(value, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", value)


def html_text(text: object, limit: int = _MAX_SHOWN) -> str:
    """For the few places gradio renders HTML (toasts): plain escaped text."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=True)


def cell(text: object, limit: int = 200) -> str:
    """A `str` table cell: gradio escapes it; we only keep it short and on one line."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def when(moment: datetime | str | None) -> str:
    """A UTC timestamp to the minute: enough to order submissions by eye."""
    if moment is None or (isinstance(moment, float) and math.isnan(moment)):
        return ""
    if isinstance(moment, str):
        moment = parse_iso(moment)
    if isinstance(moment, pd.Timestamp):
        if pd.isna(moment):
            return ""
        moment = moment.to_pydatetime()
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def quota_line(quota: Quota, now: datetime) -> str:
    """One sentence: how many submissions are left today and when the count resets."""
    resets = parse_iso(quota.resets_at)
    plural = "" if quota.limit == 1 else "s"
    return (
        f"You have **{quota.remaining} of {quota.limit}** submission{plural} left today. "
        f"The count resets at {resets:%H:%M} UTC (in {describe_wait(resets, now)})."
    )


HUB_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
HUB_URL = "https://huggingface.co/"


def model_link(name: object) -> str:
    """A Markdown link to the model's Hub page when the name is a Hub id (`org/name`),
    else nothing. The id must match a strict pattern and its text is escaped, so the
    cell can only ever be that one link; the model name itself stays a plain `str` cell."""
    text = str(name or "").strip() if isinstance(name, str) else ""
    if not HUB_MODEL.match(text) or ".." in text:
        return ""
    return f"[{md_escape(text)}]({HUB_URL}{text})"
