"""The best-score-over-time plot, drawn on the server as SVG with a UTC time axis.

gradio's LinePlot leaves the time axis to Vega-Lite in the visitor's browser: a 12-hour
clock in the browser's own time zone, and ticks every few seconds when submissions
came close together. Here the axis is chosen on the server: dates, a 24-hour clock in
UTC, and a tick step from a fixed ladder so there are at most about eight ticks.

The SVG holds only numbers, dates and the metric's name (from the config, escaped):
no text a visitor typed ever reaches it.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pandas as pd

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 16, 46
MAX_TICKS = 8
MINUTE, HOUR, DAY = 60, 3600, 86400
STEPS = [
    60, 300, 600, 900, 1800, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
]  # fmt: skip
MIN_SPAN = 2 * HOUR  # a few submissions minutes apart still get a readable axis
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def time_ticks(first: datetime, last: datetime) -> tuple[datetime, datetime, list[datetime]]:
    """(axis start, axis end, ticks): the span padded to at least `MIN_SPAN`, ticks on
    round UTC moments (whole minutes, hours or days), at most `MAX_TICKS` of them."""
    first, last = first.astimezone(timezone.utc), last.astimezone(timezone.utc)
    span = (last - first).total_seconds()
    if span < MIN_SPAN:
        middle = first + (last - first) / 2
        first, last = (
            middle - timedelta(seconds=MIN_SPAN / 2),
            middle + timedelta(seconds=MIN_SPAN / 2),
        )
        span = MIN_SPAN
    step = next((s for s in STEPS if span / s <= MAX_TICKS), STEPS[-1])
    start = int((first - EPOCH).total_seconds())
    tick = EPOCH + timedelta(seconds=-(-start // step) * step)
    ticks = []
    while tick <= last:
        ticks.append(tick)
        tick += timedelta(seconds=step)
    return first, last, ticks


def tick_label(tick: datetime, step_seconds: float) -> str:
    """`Nov 29` for whole days; `Nov 29 20:30` otherwise (24-hour clock, UTC)."""
    if step_seconds >= DAY:
        return f"{tick:%b %d}"
    return f"{tick:%b %d %H:%M}"


def _band(curve: pd.DataFrame, n: int) -> list[tuple[float, float]]:
    """(low, high) per point when the curve carries intervals (NaN where one lacks)."""
    if "low" not in curve.columns or "high" not in curve.columns:
        return []
    pairs = [(float(lo), float(hi)) for lo, hi in zip(curve["low"], curve["high"], strict=True)]
    return pairs if len(pairs) == n and any(lo == lo for lo, _ in pairs) else []


def progress_svg(
    curve: pd.DataFrame, metric: str, time_col: str = "time", y_col: str = "best"
) -> str:
    """The step line of the best score so far; a note instead when nothing is scored."""
    title = html.escape(f"Best {metric} over time (UTC)")
    if curve.empty:
        return f'<div id="progress-empty"><p>{title}: no scored submissions yet.</p></div>'
    times = [
        pd.Timestamp(t).tz_localize("UTC") if pd.Timestamp(t).tzinfo is None else pd.Timestamp(t)
        for t in curve[time_col]
    ]
    times = [t.to_pydatetime() for t in times]
    values = [float(v) for v in curve[y_col]]
    band = _band(curve, len(values))
    start, end, ticks = time_ticks(min(times), max(times))
    finite = [v for pair in band for v in pair if v == v] if band else []
    low, high = min(values + finite), max(values + finite)
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    span = (end - start).total_seconds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + plot_w * (t - start).total_seconds() / span

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    step = (ticks[1] - ticks[0]).total_seconds() if len(ticks) > 1 else span
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{title}" style="width:100%;max-width:{WIDTH}px">',
        f"<title>{title}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
        'stroke="currentColor" stroke-opacity="0.5"/>',
    ]
    for tick in ticks:
        tx = x(tick)
        label = tick_label(tick, step)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{TOP + plot_h}" '
            'stroke="currentColor" stroke-opacity="0.12"/>'
            f'<text class="x-tick" x="{tx:.1f}" y="{TOP + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" fill="currentColor">{label}</text>'
        )
    for n in range(5):
        value = low + (high - low) * n / 4
        parts.append(
            f'<text class="y-tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="currentColor">{value:.3f}</text>'
        )
    points: list[str] = []
    for n, (t, v) in enumerate(zip(times, values, strict=True)):
        if n:
            points.append(f"{x(t):.1f},{y(values[n - 1]):.1f}")  # a step: best holds until beaten
        points.append(f"{x(t):.1f},{y(v):.1f}")
    if band:
        upper, lower = [], []
        for n, t in enumerate(times):
            lo, hi = band[n]
            if lo != lo:  # no interval for this point: the band breaks off here
                continue
            if n and band[n - 1][0] == band[n - 1][0]:
                upper.append(f"{x(t):.1f},{y(band[n - 1][1]):.1f}")
                lower.append(f"{x(t):.1f},{y(band[n - 1][0]):.1f}")
            upper.append(f"{x(t):.1f},{y(hi):.1f}")
            lower.append(f"{x(t):.1f},{y(lo):.1f}")
        if upper:
            outline = " ".join(upper + lower[::-1])
            parts.append(
                f'<polygon id="progress-interval" fill="#ff7c00" fill-opacity="0.18" '
                f'stroke="none" points="{outline}"><title>95% interval of the best score'
                "</title></polygon>"
            )
    parts.append(
        f'<polyline fill="none" stroke="#ff7c00" stroke-width="2" points="{" ".join(points)}"/>'
    )
    for t, v in zip(times, values, strict=True):
        parts.append(
            f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3.5" fill="#ff7c00">'
            f"<title>{t:%Y-%m-%d %H:%M} UTC: {v:.4f}</title></circle>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" font-size="12" text-anchor="middle" '
        'fill="currentColor">submitted (UTC)</text></svg>'
    )
    return "".join(parts)
