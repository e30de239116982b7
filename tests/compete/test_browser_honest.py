"""Honest numbers as a visitor sees them in a real chromium: each score with its 95%
interval, the statistically tied bands, how many entries each submitter has made, the
interval around the best-so-far line of the plot, and the About tab's explanation.

The scores come from the real worker, which alone holds the labels: it computes the
intervals and the bands and publishes them as aggregate columns of the results."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_support import Arena
from browser_support import Visitor, chromium, wait_for
from lb_support import Api, job_id_in, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_a_visitor_sees_intervals_tied_bands_and_entries(
    browser: Any, arena: Arena, artifacts_dir: Path
) -> None:
    api = Api(arena.url)
    cookies = {who: sign_in(arena.url, who) for who in ("ann", "ben", "cy")}
    jobs = {
        "ann": job_id_in(api.submit(cookies["ann"], "ann-strong", arena.predictions(11, 0.92))),
        "ben": job_id_in(api.submit(cookies["ben"], "ben-twin", arena.predictions(12, 0.91))),
        "cy-1": job_id_in(api.submit(cookies["cy"], "cy-first", arena.predictions(13, 0.35))),
        "cy-2": job_id_in(api.submit(cookies["cy"], "cy-second", arena.predictions(14, 0.4))),
    }
    api.close()
    arena.score()

    visitor = Visitor(browser, arena.url)
    page = visitor.page
    page.goto(arena.url)

    def header() -> list[str]:
        head = page.locator("#board").get_by_role("row").first
        return [c.strip() for c in head.get_by_role("columnheader").all_inner_texts()]

    def rows() -> dict[str, list[str]] | None:
        page.locator("#board-refresh").click()
        band_at = header().index("Band")
        found = {}
        for name, job in jobs.items():
            row = page.locator("#board").get_by_role("row").filter(has_text=job)
            if row.count() != 1:
                return None
            found[name] = [c.strip() for c in row.get_by_role("gridcell").all_inner_texts()]
        # Bands are published once the worker's queue is quiet: wait for them too.
        return found if found["ann"][band_at] else None

    shown = wait_for(rows, timeout=60, every=1.0, what="the four scored jobs on the board")
    page.screenshot(path=str(artifacts_dir / "board-honest.png"))

    # Every score reads `0.8517 ± 0.011`: the point and the half-width of its interval.
    for name, cells in shown.items():
        assert any(re.fullmatch(r"0\.\d{4} ± 0\.\d+", c) for c in cells), (name, cells)

    # The band is its own column; the near-twins share the first, the weak rows do not.
    band_at, entries_at = header().index("Band"), header().index("Entries")
    band = {name: cells[band_at] for name, cells in shown.items()}
    assert band["ann"] == band["ben"] == "1", band
    assert band["cy-1"] != "1" and band["cy-2"] != "1", band

    # Entries: how many submissions the row's submitter has made.
    entries = {name: cells[entries_at] for name, cells in shown.items()}
    assert entries["ann"] == entries["ben"] == "1", entries
    assert entries["cy-1"] == entries["cy-2"] == "2", entries

    # The plot shades the 95% interval around the best-so-far line.
    assert page.locator("#progress #progress-interval").count() == 1

    # About says what a band means, in plain words.
    about = visitor.tab("About")
    text = about.get_by_text(re.compile("± 0.011")).first.inner_text()
    assert "band" in about.locator("body").inner_text().lower(), text
    visitor.close()
