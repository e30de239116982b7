"""A competition's timeline: before `start`, open, after `end`, revealed.

Pure functions of the `[phases]` settings and a moment, so every phase is tested with
a clock the test controls, never by sleeping. `JobQueue` passes its own clock in.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from heldout.config import PhasesConfig
from heldout.errors import SubmissionsClosed


class Phase(str, Enum):
    BEFORE = "before"  # not open yet
    OPEN = "open"
    LATE = "late"  # after the end, with post-deadline submissions accepted
    CLOSED = "closed"  # after the end


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def phase_at(phases: PhasesConfig, now: datetime) -> Phase:
    if phases.start is not None and now < phases.start:
        return Phase.BEFORE
    if phases.end is not None and now >= phases.end:
        return Phase.LATE if phases.late else Phase.CLOSED
    return Phase.OPEN


def is_late(phases: PhasesConfig, submitted_at: datetime) -> bool:
    """Submitted at or after the deadline: shown apart, never in the final ranking."""
    return phases.end is not None and submitted_at >= phases.end


def check_open(phases: PhasesConfig, now: datetime) -> None:
    """Refuse a submission outside the competition's open phase, saying when it opens."""
    phase = phase_at(phases, now)
    if phase is Phase.BEFORE:
        assert phases.start is not None
        raise SubmissionsClosed(
            f"submissions open at {stamp(phases.start)} (in {span(phases.start - now)})"
        )
    if phase is Phase.CLOSED:
        assert phases.end is not None
        raise SubmissionsClosed(f"submissions closed at {stamp(phases.end)}")


def selection_open(phases: PhasesConfig, now: datetime) -> bool:
    """Final choices may be changed until the end (always, with no end)."""
    return phases.end is None or now < phases.end


def span(delta: object) -> str:
    """A wait in words: `2 d 3 h`, `5 h 12 min`, `4 min`, `30 s`."""
    seconds = max(0, int(delta.total_seconds()))  # type: ignore[attr-defined]
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def countdown(phases: PhasesConfig, now: datetime, revealed: bool = False) -> str:
    """One line for the board: what happens next, and when. Empty with no timeline."""
    if phases.start is None and phases.end is None and phases.reveal_at is None:
        return ""
    phase = phase_at(phases, now)
    if phase is Phase.BEFORE:
        assert phases.start is not None
        return f"Submissions open in {span(phases.start - now)} ({stamp(phases.start)})."
    if phase is Phase.OPEN:
        if phases.end is None:
            return "Submissions are open."
        return f"Submissions close in {span(phases.end - now)} ({stamp(phases.end)})."
    assert phases.end is not None
    text = f"Submissions closed at {stamp(phases.end)}."
    if phase is Phase.LATE:
        text += " Late submissions are scored on the post-deadline board only."
    if revealed:
        return text + " The final ranking is published."
    if phases.reveal_at is not None and now < phases.reveal_at:
        return text + (
            f" The final ranking is revealed in {span(phases.reveal_at - now)} "
            f"({stamp(phases.reveal_at)})."
        )
    return text + " The final ranking will be published soon."
