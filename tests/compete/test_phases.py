"""Phases, countdown, config checks and the time axis: pure functions, a clock we set."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from heldout.config import PhasesConfig, config_from_dict
from heldout.errors import ConfigError, SubmissionsClosed
from heldout.leaderboard.about import about_markdown
from heldout.leaderboard.plot import progress_svg, tick_label, time_ticks
from heldout.queue.phases import Phase, check_open, countdown, is_late, phase_at

UTC = timezone.utc
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 12, 8, 17, 30, tzinfo=UTC)
PHASES = PhasesConfig(start=START, end=END, reveal_at=END + timedelta(days=1))


def test_each_phase_and_its_refusal_names_the_time() -> None:
    before = START - timedelta(hours=2, minutes=5)
    assert phase_at(PHASES, before) is Phase.BEFORE
    with pytest.raises(SubmissionsClosed) as refused:
        check_open(PHASES, before)
    assert str(refused.value) == "submissions open at 2026-12-01 09:00 UTC (in 2 h 5 min)"
    assert phase_at(PHASES, START) is Phase.OPEN
    check_open(PHASES, END - timedelta(seconds=1))
    assert phase_at(PHASES, END) is Phase.CLOSED
    with pytest.raises(SubmissionsClosed, match="closed at 2026-12-08 17:30 UTC"):
        check_open(PHASES, END)
    late = PhasesConfig(end=END, late=True)
    assert phase_at(late, END) is Phase.LATE
    check_open(late, END + timedelta(days=3))  # accepted, on the post-deadline board
    assert is_late(late, END) and not is_late(late, END - timedelta(microseconds=1))
    assert phase_at(PhasesConfig(), START) is Phase.OPEN  # no timeline: always open


def test_the_countdown_says_what_comes_next() -> None:
    assert countdown(PhasesConfig(), START) == ""
    assert countdown(PHASES, START - timedelta(days=1, hours=3)) == (
        "Submissions open in 1 d 3 h (2026-12-01 09:00 UTC)."
    )
    assert countdown(PHASES, END - timedelta(minutes=42)) == (
        "Submissions close in 42 min (2026-12-08 17:30 UTC)."
    )
    after = countdown(PHASES, END + timedelta(hours=1))
    assert after.startswith("Submissions closed at 2026-12-08 17:30 UTC.")
    assert "revealed in 23 h 0 min (2026-12-09 17:30 UTC)" in after
    assert countdown(PHASES, END + timedelta(days=2), revealed=True).endswith(
        "The final ranking is published."
    )


def config(**phases: object) -> object:
    return config_from_dict(
        {
            "benchmark": {"name": "b", "primary_metric": "m"},
            "storage": {"root": "/tmp/x"},
            "phases": phases,
        }
    )


def test_phases_config_reads_toml_dates_and_iso_text_in_utc() -> None:
    got = config(start="2026-12-01T10:00:00+01:00", end=END, select_max=3).phases
    assert got.start == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert got.end == END and got.select_max == 3 and got.late is False


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ({"start": "next tuesday"}, "phases.start must be a date and time"),
        ({"start": END, "end": START}, "phases.end must be after phases.start"),
        ({"end": END, "reveal_at": START}, "reveal_at must not be before phases.end"),
        ({"late": True}, "phases.late needs phases.end"),
        ({"select_max": 0}, "select_max must be at least 1"),
        ({"finish": END}, "unknown key phases.finish"),
    ],
)
def test_bad_phases_are_refused_at_start(phases: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**phases)


def test_participants_setting_is_checked() -> None:
    raw = {"benchmark": {"name": "b", "primary_metric": "m"}, "storage": {"root": "/tmp/x"}}
    with pytest.raises(ConfigError, match="limits.participants"):
        config_from_dict({**raw, "limits": {"participants": "gated:nope"}})
    got = config_from_dict({**raw, "limits": {"participants": "gated:org/people"}})
    assert got.limits.participants == "gated:org/people"


def test_the_time_axis_is_utc_24_hour_with_round_ticks() -> None:
    # Two submissions 30 s apart at 20:30 UTC: before, "08:30" and a tick every 5 s.
    first = datetime(2026, 11, 29, 20, 30, 5, tzinfo=UTC)
    start, end, ticks = time_ticks(first, first + timedelta(seconds=30))
    step = (ticks[1] - ticks[0]).total_seconds()
    assert step >= 60 * 5 and 3 <= len(ticks) <= 8
    labels = [tick_label(t, step) for t in ticks]
    assert "Nov 29 20:30" in labels
    assert all(t.second == 0 and t.minute % 5 == 0 for t in ticks)
    # Days apart: whole days, labelled by date.
    _, _, days = time_ticks(first, first + timedelta(days=40))
    day_step = (days[1] - days[0]).total_seconds()
    assert day_step >= 86400 and all(t.hour == 0 and t.minute == 0 for t in days)
    assert tick_label(days[0], day_step) == f"{days[0]:%b %d}"


def test_the_plot_shows_utc_times_and_only_numbers() -> None:
    curve = pd.DataFrame(
        {
            "time": pd.to_datetime(["2026-11-29 20:30:00", "2026-11-29 20:30:30"]),
            "best": [0.5, 0.61],
        }
    )
    svg = progress_svg(curve, "accuracy<script>")
    assert "Nov 29 20:30" in svg and "08:30" not in svg
    assert "2026-11-29 20:30 UTC: 0.6100" in svg  # the hover text of a point
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_about_tab_explains_the_competition() -> None:
    plain = config()
    assert "How the competition runs" not in about_markdown(plain)
    text = about_markdown(config(start=START, end=END, late=True, select_max=1))
    assert "Submissions open at 2026-12-01 09:00 UTC and close at 2026-12-08 17:30 UTC." in text
    assert "**public** part ranks the live board" in text
    assert "choose up to 1 of your submissions" in text
    assert "best public submission counts" in text
    assert "post-deadline board" in text
