"""Attacks from another web page, in a real chromium that allows third-party cookies.

Issue 9 items 1 and 6. The board runs on http://127.0.0.1:<port>; the attacker's page
is served from http://localhost:<other port>, another site, so the reviewer's cookie
(SameSite=None) is a third-party cookie there. The browser uses a persistent profile
set to allow third-party cookies, as many visitors' browsers are; checked: with it,
these tests fail on the board before issue 9 (the page approves the job).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import ARGS, CHROMIUM, wait_for
from lb_support import FLAGGED_WEB, REVIEWER, Api, App, Setup, job_id_in, sign_in

pytestmark = pytest.mark.browser

ATTACK_PAGE = b"""<!doctype html><title>cute cats</title><script>
async function call(board, name, data, how) {
  const out = {};
  try {
    const opts = {method: "POST", credentials: "include", body: JSON.stringify({data})};
    if (how === "no-cors") { opts.mode = "no-cors"; opts.headers = {"Content-Type": "text/plain"}; }
    else { opts.headers = {"Content-Type": "application/json"}; }
    const start = await fetch(board + "/gradio_api/call/" + name, opts);
    out.status = start.status;
    if (how === "no-cors") return out;
    const {event_id} = await start.json();
    const stream = await fetch(board + "/gradio_api/call/" + name + "/" + event_id,
                               {credentials: "include"});
    out.read = await stream.text();
  } catch (e) { out.blocked = String(e); }
  return out;
}
window.attack = async (board, job) => ({
  approve: await call(board, "review_approve", [job, "approved by a foreign page"], "cors"),
  quiet: await call(board, "review_approve", [job, "approved by a form"], "no-cors"),
  mine: await call(board, "my_submissions", [], "cors"),
});
</script><p>nothing to see</p>"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(ATTACK_PAGE)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def profile(tmp_path: Path) -> Iterator[Any]:
    """A chromium with a persistent profile that sends third-party cookies."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    folder = tmp_path / "profile"
    (folder / "Default").mkdir(parents=True)
    # chromium's setting "Allow third-party cookies" (its default blocks them headless).
    settings = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
    (folder / "Default" / "Preferences").write_text(json.dumps(settings))
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(folder),
            executable_path=str(CHROMIUM),
            args=[*ARGS, "--disable-features=TrackingProtection3pcd,ThirdPartyStoragePartitioning"],
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


def browser_sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in with Hugging Face").click()
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=f"Logout ({username})").wait_for()


def test_a_foreign_page_cannot_approve_a_job_or_read_a_reviewers_submissions(
    profile: Any, app: App, setup: Setup, attacker: str
) -> None:
    api = Api(app.url)
    try:
        held = job_id_in(
            api.submit(sign_in(app.url, FLAGGED_WEB), "held job", setup.predictions(seed=401))
        )
    finally:
        api.close()
    page = profile.new_page()
    browser_sign_in(page, app.url, REVIEWER)
    cookies = [c for c in profile.cookies(app.url) if c["name"] == "session"]
    assert cookies and cookies[0]["sameSite"] == "None"  # sent from other sites too
    before = setup.queue_store().head()

    page.goto(attacker)
    results = page.evaluate("([board, job]) => window.attack(board, job)", [app.url, held])

    assert setup.queue_store().head() == before, results
    assert setup.queue_store().read(f"queue/REVIEW/{held}.json")
    for name in ("approve", "mine"):
        assert "read" not in results[name], results  # nothing came back to the page
        assert "blocked" in results[name], results
    # Still signed in on the board's own page, and it still works there.
    page.goto(app.url)
    page.get_by_role("button", name=f"Logout ({REVIEWER})").wait_for()
    page.get_by_role("tab", name="Review").click()
    page.locator("#review-refresh").click()
    wait_for(lambda: held in page.locator("#review-table").inner_text(), timeout=30)


def test_logout_in_the_browser_ends_the_session_for_a_copied_cookie(profile: Any, app: App) -> None:
    page = profile.new_page()
    browser_sign_in(page, app.url, "cookie-owner")
    captured = [c for c in profile.cookies(app.url) if c["name"] == "session"]
    assert captured
    page.get_by_role("button", name="Logout (cookie-owner)").click()
    page.get_by_role("button", name="Sign in with Hugging Face").wait_for()

    # Someone who copied the cookie before the logout puts it back.
    profile.add_cookies(captured)
    page.goto(app.url)
    page.get_by_role("button", name="Sign in with Hugging Face").wait_for()
    assert page.get_by_role("button", name="Logout (cookie-owner)").count() == 0
    # And over HTTP, the same copy uploads nothing.
    response = httpx.post(
        f"{app.url}/gradio_api/upload",
        files={"files": ("p.csv", b"id,prediction\n")},
        headers={"Cookie": f"session={captured[0]['value']}"},
        timeout=30,
    )
    assert response.status_code == 401
