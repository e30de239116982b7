"""Honest numbers in a real chromium: the interval beside each score, the tied bands,
the interval around the best-so-far line, and the About tab's explanation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Visitor, chromium, wait_for
from lb_support import App, Setup

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_the_board_shows_intervals_bands_and_explains_them(
    browser: Any, app: App, setup: Setup, worker: Any, artifacts: Path, tmp_path: Path
) -> None:
    carol = Visitor(browser, app.url).sign_in("carol")
    jobs = []
    for seed, accuracy in ((301, 0.9), (302, 0.895)):
        path = tmp_path / f"carol-{seed}.csv"
        path.write_bytes(setup.predictions(seed=seed, accuracy=accuracy))
        status = carol.submit(f"carol {accuracy}", path)
        jobs.append(re.search(r"job (\S+)", status).group(1))
    worker.start()
    carol.tab("Leaderboard")

    def rows() -> dict[str, str]:
        board = carol.page.locator("#board")
        return {
            job: board.get_by_role("row").filter(has_text=job).inner_text()
            for job in jobs
            if board.get_by_role("row").filter(has_text=job).count()
        }

    def cells(text: str) -> list[str]:
        return [c.strip() for c in re.split(r"[\t\n]+", text.strip())]

    def both_banded() -> bool:
        found = rows()
        return len(found) == 2 and all(cells(text)[1] == "1" for text in found.values())

    try:
        wait_for(both_banded, timeout=180, what="both rows with their interval and band 1")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the rows read {rows()!r}") from None
    for text in rows().values():
        assert re.search(r"0\.\d{4} ± 0\.0\d+", text)  # e.g. 0.9000 ± 0.019
    assert carol.page.locator("#progress #progress-interval").count() == 1
    carol.page.screenshot(path=str(artifacts / "board-intervals.png"))

    carol.tab("About").get_by_text("How sure are these numbers?").wait_for()
    about = carol.table_text("about")
    assert "cannot be told apart" in about and "95% interval" in about
    carol.close()
