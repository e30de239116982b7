"""A real chromium for the browser tests: Debian's build, driven by playwright.

`playwright install` needs the internet, so the tests use /usr/bin/chromium with the
flags that keep it off the network. A `Visitor` is one person in one browser context;
it records any request for an address other than 127.0.0.1 (and blocks it), so a page
that tries to reach huggingface.co or a font CDN fails its test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """The browser, or a skip with the reason when chromium or playwright is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for(predicate: Any, timeout: float = 60.0, every: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what or predicate}")


class Visitor:
    """One browser context (one person), recording anything that leaves 127.0.0.1."""

    def __init__(self, browser: Any, url: str) -> None:
        self.url = url
        self.outside: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(20_000)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.goto(url)
        self.page.get_by_role("tab", name="Leaderboard").wait_for()

    def _route(self, route: Any) -> None:
        host = re.sub(r"^[a-z]+://([^/:]+).*$", r"\1", route.request.url)
        if host == "127.0.0.1" or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.outside.append(message.text)

    def sign_in(self, username: str) -> Visitor:
        page = self.page
        page.get_by_role("button", name="Sign in with Hugging Face").click()
        page.get_by_label("Username").fill(username)  # the emulator's sign-in page
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name=f"Logout ({username})").wait_for()
        return self

    def tab(self, name: str) -> Any:
        self.page.get_by_role("tab", name=name).click()
        return self.page

    def submit(self, model: str, path: Path) -> str:
        page = self.tab("Submit")
        page.get_by_label("Model name").fill(model)
        page.locator("#predictions-file input[type=file]").set_input_files(str(path))
        page.locator("#predictions-file").get_by_text(path.name).wait_for()
        before = page.locator("#submit-status").inner_text()
        page.locator("#submit-button").click()

        def answered() -> str:
            text = page.locator("#submit-status").inner_text()
            done = "ubmitted" in text and text != before  # "Submitted …" or "Not submitted …"
            return text if done else ""

        return wait_for(answered, timeout=20, what="the submit status")

    def table_text(self, elem_id: str) -> str:
        return self.page.locator(f"#{elem_id}").inner_text()

    def pwned(self) -> Any:
        return self.page.evaluate("() => window.__pwned")

    def close(self) -> None:
        assert self.outside == [], self.outside
        self.context.close()
