"""Final choice and the reveal in a real chromium: alice marks her final submission on
My submissions, the maintainer reveals, and the board switches to the final ranking.
Also the board's own bullets: Hub model ids link to their page, job ids are whole, and
the plot's time axis reads in UTC on a 24-hour clock."""

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


def test_alice_chooses_her_final_submission_and_sees_the_reveal(
    browser: Any, arena: Arena, artifacts_dir: Path
) -> None:
    api = Api(arena.url)
    alice_cookie, bob_cookie = sign_in(arena.url, "alice"), sign_in(arena.url, "bob")
    first = job_id_in(api.submit(alice_cookie, "alice/first-model", arena.predictions(1, 0.6)))
    second = job_id_in(api.submit(alice_cookie, "second <b>model</b>", arena.predictions(2, 0.7)))
    api.submit(bob_cookie, "bob/model", arena.predictions(3, 0.65))
    api.close()
    arena.score()

    alice = Visitor(browser, arena.url).sign_in("alice")
    page = alice.tab("My submissions")
    wait_for(lambda: second in alice.table_text("mine"), timeout=30, what="her jobs")
    assert "hidden until the reveal" in alice.table_text("mine")
    page.locator("#final-choice input").click()
    page.get_by_role("option", name=re.compile(first)).click()
    page.locator("#final-save").click()
    wait_for(
        lambda: "Saved your final choice" in page.locator("#mine-status").inner_text(),
        timeout=30,
        what="the saved choice",
    )
    row = page.locator("#mine").get_by_role("row").filter(has_text=first)
    wait_for(lambda: "✓" in row.inner_text(), timeout=30, what="the ✓ on her choice")
    assert "at most 2" not in page.locator("#mine-status").inner_text()
    page.screenshot(path=str(artifacts_dir / "final-choice.png"))

    # The board before the reveal: the live ranking, links, whole job ids, a UTC axis.
    alice.tab("Leaderboard")
    wait_for(lambda: first in alice.table_text("board"), timeout=30, what="the board rows")
    link = page.locator("#board a:visible", has_text="alice/first-model").first
    assert link.get_attribute("href") == "https://huggingface.co/alice/first-model"
    assert page.locator("#board a", has_text="model</b>").count() == 0  # not a Hub id
    assert "second <b>model</b>" in alice.table_text("board")  # shown as text
    cell = page.locator("#board :visible", has_text=re.compile(f"^{first}$")).last
    cut = cell.evaluate("e => e.scrollWidth > e.clientWidth + 1")
    page.screenshot(path=str(artifacts_dir / "board-competition.png"))
    assert not cut, "the job id is cut off"
    stamp = page.locator(
        "#board :visible", has_text=re.compile(r"^2\d{3}-\d\d-\d\d \d\d:\d\d UTC$")
    )
    assert not stamp.last.evaluate("e => e.scrollWidth > e.clientWidth + 1"), "a time is cut off"
    ticks = page.locator("#progress text.x-tick").all_text_contents()
    assert ticks and all(re.fullmatch(r"[A-Z][a-z]{2} \d{2}( \d{2}:\d{2})?", t) for t in ticks)
    assert "submitted (UTC)" in (page.locator("#progress svg").text_content() or "")
    assert "Submissions close in" in page.locator("#board-countdown").inner_text()
    assert not page.locator("#final-board").is_visible()

    record = arena.reveal()
    assert record.counted["alice"] == (first,)
    page.locator("#board-refresh").click()
    final = page.locator("#final-board")
    final.wait_for(state="visible", timeout=60_000)
    wait_for(lambda: "alice" in final.inner_text(), timeout=30, what="the final ranking")
    assert "Final ranking" in page.locator("#final-caption").inner_text()
    header = final.get_by_role("row").first.inner_text()
    assert "Public rank" in header and "Change" in header and "(private)" in header
    alice_row = final.get_by_role("row").filter(has_text="alice").inner_text()
    assert first in alice_row and second not in alice_row  # her choice counts, not her best
    page.screenshot(path=str(artifacts_dir / "final-ranking.png"))

    page = alice.tab("My submissions")  # selecting the tab refreshes it
    try:
        wait_for(
            lambda: (
                "hidden until the reveal" not in alice.table_text("mine")
                and alice.table_text("mine").count("accuracy 0.") >= 4
            ),  # public and private
            timeout=30,
            what="the private scores on My submissions",
        )
    finally:
        page.screenshot(path=str(artifacts_dir / "mine-revealed.png"))
    assert alice.pwned() is None
    alice.close()
