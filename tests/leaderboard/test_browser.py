"""The leaderboard in a real chromium: the real sign-in flow, real uploads, real rendering.

Every page also records any request for an address other than 127.0.0.1 (blocked and
failed on purpose) and any Content-Security-Policy violation: the app must not try to
reach huggingface.co or a font CDN from a local run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Visitor, chromium, wait_for
from lb_support import FLAGGED, REVIEWER, Api, App, Setup, job_id_in, sign_in

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def predictions_file(setup: Setup, folder: Path, seed: int) -> Path:
    path = folder / f"predictions-{seed}.csv"
    path.write_bytes(setup.predictions(seed=seed))
    return path


def test_signed_out_submit_is_refused_and_writes_nothing(
    browser: Any, app: App, setup: Setup, tmp_path: Path
) -> None:
    visitor = Visitor(browser, app.url)
    before = setup.queue_store().head()
    status = visitor.submit("anonymous", predictions_file(setup, tmp_path, 201))
    assert "Not submitted. Please sign in with Hugging Face before submitting." in status
    assert setup.queue_store().head() == before
    visitor.close()


def test_alice_signs_in_submits_and_watches_her_job_finish(
    browser: Any, app: App, setup: Setup, worker: Any, artifacts: Path, tmp_path: Path
) -> None:
    alice = Visitor(browser, app.url).sign_in("alice")
    shots: dict[str, Path] = {}
    status = alice.submit(HOSTILE, predictions_file(setup, tmp_path, 202))
    assert "as job" in status and HOSTILE in status  # shown as text, not as an image
    job_id = job_id_in(status)
    alice.page.screenshot(path=str(shots.setdefault("submit", artifacts / "submit.png")))

    page = alice.tab("My submissions")
    wait_for(lambda: "PENDING" in alice.table_text("mine"), timeout=20, what="PENDING")
    assert job_id in alice.table_text("mine") and HOSTILE in alice.table_text("mine")
    assert re.search(r"\b\d+ of \d+\b", alice.table_text("mine"))  # its place in line

    worker.start()  # the real evaluator, in its own process, with the private test set
    wait_for(lambda: "FINISHED" in alice.table_text("mine"), timeout=90, what="FINISHED")
    assert re.search(r"accuracy 0\.\d{4}", alice.table_text("mine"))
    page.screenshot(path=str(shots.setdefault("mine", artifacts / "my-submissions.png")))

    alice.tab("Leaderboard")
    wait_for(lambda: HOSTILE in alice.table_text("board"), timeout=30, what="the board row")
    assert alice.pwned() is None
    row = alice.page.locator("#board").get_by_role("row").filter(has_text=job_id)
    assert "alice" in row.inner_text()
    alice.page.screenshot(path=str(shots.setdefault("board", artifacts / "leaderboard.png")))

    alice.tab("About").get_by_text("Submission format").wait_for()
    alice.page.screenshot(path=str(shots.setdefault("about", artifacts / "about.png")))
    assert alice.pwned() is None
    alice.close()


def test_bob_sees_only_his_own_submissions(
    browser: Any, app: App, setup: Setup, tmp_path: Path
) -> None:
    api = Api(app.url)
    others = job_id_in(
        api.submit(sign_in(app.url, "carol"), "carol's model", setup.predictions(seed=203))
    )
    api.close()
    bob = Visitor(browser, app.url).sign_in("bob")
    mine = job_id_in(bob.submit("bob's model", predictions_file(setup, tmp_path, 204)))
    bob.tab("My submissions")
    wait_for(lambda: mine in bob.table_text("mine"), timeout=20, what="bob's job")
    text = bob.table_text("mine")
    assert others not in text and "carol" not in text
    rows = bob.page.locator("#mine").get_by_role("row").all_inner_texts()
    assert len([r for r in rows if re.search(r"\d{8}T\d{6}Z-", r)]) == 1
    assert bob.page.get_by_role("tab", name="Review").count() == 0  # not a reviewer
    assert bob.page.locator("#review-approve, #review-reject").count() == 0
    bob.close()


def test_a_reviewer_approves_a_flagged_job_and_it_reaches_the_board(
    browser: Any, app: App, setup: Setup, worker: Any
) -> None:
    api = Api(app.url)
    held = job_id_in(
        api.submit(sign_in(app.url, FLAGGED), "flagged model", setup.predictions(seed=205))
    )
    assert setup.queue_store().read(f"queue/REVIEW/{held}.json")
    worker.start()
    assert api.call("search_board", ["flagged model"])[0]["data"] == []  # not published
    api.close()

    rita = Visitor(browser, app.url).sign_in(REVIEWER)
    page = rita.tab("Review")
    page.locator("#review-refresh").click()
    wait_for(lambda: held in rita.table_text("review-table"), timeout=20, what="the flagged job")
    assert "listed_account" in rita.table_text("review-table")
    menu = page.get_by_label("Flagged job")
    menu.fill(held)
    menu.press("Enter")
    page.get_by_label("Note or reason").fill("checked by hand")
    page.locator("#review-approve").click()
    # The approval is a CAS commit racing the running worker: give it time on a busy machine.
    page.locator("#review-status").get_by_text("Approved job").wait_for(timeout=60_000)

    rita.tab("Leaderboard")
    wait_for(lambda: "flagged model" in rita.table_text("board"), timeout=90, what="the board")
    rita.close()
