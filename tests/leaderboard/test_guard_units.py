"""The web guards' rules without a server: which origins are the board, allowances, sessions."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from heldout.leaderboard.limiter import Allowance
from heldout.leaderboard.sessions import Sessions
from heldout.leaderboard.web_guard import allowed, public_origins


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def headers(**values: str) -> Headers:
    return Headers({k.replace("_", "-"): v for k, v in values.items()})


SPACE = {"SPACE_HOST": "owner-board.hf.space"}


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("https://owner-board.hf.space", "owner-board.hf.space", True),
        ("https://owner-board.hf.space", "10.0.0.7:7860", True),  # SPACE_HOST, proxied Host
        ("http://127.0.0.1:7860", "127.0.0.1:7860", True),
        ("http://127.0.0.1:7861", "127.0.0.1:7860", False),  # another port, another site
        ("https://huggingface.co", "owner-board.hf.space", False),
        ("https://other-board.hf.space", "owner-board.hf.space", False),
        ("https://owner-board.hf.space.evil.com", "owner-board.hf.space", False),
        ("null", "owner-board.hf.space", False),
        ("https://board.example.org", "10.0.0.7:7860", True),  # leaderboard.public_url
    ],
)
def test_which_origins_are_the_board(origin: str, host: str, ok: bool) -> None:
    public = public_origins("https://board.example.org/", SPACE)
    assert allowed(headers(origin=origin, host=host), "POST", public) is ok


def test_requests_without_an_origin() -> None:
    public = public_origins("", {})
    assert allowed(headers(host="x"), "POST", public)  # gradio_client, curl
    assert allowed(headers(host="x", sec_fetch_site="same-origin"), "POST", public)
    cross = {"host": "x", "sec_fetch_site": "cross-site"}
    assert not allowed(headers(**cross, sec_fetch_mode="no-cors"), "GET", public)
    assert not allowed(headers(**cross, sec_fetch_mode="navigate"), "POST", public)
    assert allowed(headers(**cross, sec_fetch_mode="navigate"), "GET", public)


def test_an_allowance_says_when_the_oldest_use_leaves_the_window() -> None:
    clock = Clock()
    allowance = Allowance(3, window=3600, clock=clock)
    for _ in range(3):
        assert allowance.take("alice") is None
        clock.now += 60
    wait = allowance.take("alice")
    assert wait is not None and wait.seconds == pytest.approx(3600 - 180)
    assert allowance.take("bob") is None  # per key
    clock.now += 3600 - 180
    assert allowance.take("alice") is None
    assert allowance.check("alice", 10) is not None  # more than the whole allowance


def test_sessions_end_on_close_and_on_expiry() -> None:
    clock = Clock()
    sessions = Sessions(clock=clock)
    sid = sessions.open("alice", expires_at=clock.now + 100)
    other = sessions.open("alice")
    assert sessions.live(sid) and sessions.live(other) and sid != other
    sessions.close(sid)
    assert not sessions.live(sid) and sessions.live(other)
    clock.now += 15 * 24 * 3600
    assert not sessions.live(other)
    assert not sessions.live(None) and not sessions.live(["not", "a", "sid"])
