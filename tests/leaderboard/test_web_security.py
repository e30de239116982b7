"""The board's web surface over HTTP: foreign origins, logout, uploads, repeated refusals.

Issue 9 items 1, 2 (the rate limit), 3 and 6. The shared app serves the origin and
session checks; a second app with small limits serves the upload caps, so that filling
its upload allowance disturbs no other test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lb_support import FLAGGED_WEB, REVIEWER, Api, App, Setup, job_id_in, sign_in, write_setup

BOARD_HOST = "leaderboard.example"  # not localhost: gradio's CORS would answer anyone
EVIL = "http://attacker.example"


def cookie_header(cookie: str) -> dict[str, str]:
    return {"Cookie": f"session={cookie}"}


def call_start(app: App, name: str, data: list, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{app.url}/gradio_api/call/{name}", json={"data": data}, headers=headers, timeout=30
    )


# ---- item 1: cross-site requests -------------------------------------------------


def test_a_foreign_origin_cannot_approve_or_read_as_a_signed_in_reviewer(
    api: Api, app: App, setup: Setup
) -> None:
    owner = sign_in(app.url, FLAGGED_WEB)
    held = job_id_in(api.submit(owner, "csrf target", setup.predictions(seed=301)))
    rita = sign_in(app.url, REVIEWER)
    before = setup.queue_store().head()
    foreign = {"Host": f"{BOARD_HOST}:{app.port}", "Origin": EVIL, **cookie_header(rita)}

    # The preflight a browser sends first gets no CORS grant at all.
    preflight = httpx.options(
        f"{app.url}/gradio_api/call/review_approve",
        headers={
            **foreign,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers

    # The call itself (and the other ways gradio's client would make it) is refused.
    for name, data in (("review_approve", [held, "csrf"]), ("my_submissions", [])):
        answer = call_start(app, name, data, foreign)
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
    join = httpx.post(
        f"{app.url}/gradio_api/queue/join",
        json={"data": [held, "csrf"], "fn_index": 0, "session_hash": "abc"},
        headers=foreign,
        timeout=30,
    )
    assert join.status_code == 403
    data = httpx.get(
        f"{app.url}/gradio_api/queue/data", params={"session_hash": "abc"}, headers=foreign
    )
    assert data.status_code == 403
    upload = httpx.post(
        f"{app.url}/gradio_api/upload",
        files={"files": ("p.csv", setup.predictions(seed=302))},
        headers=foreign,
        timeout=30,
    )
    assert upload.status_code == 403
    # A cross-site request without an Origin header, as chromium marks a form post or an
    # image: refused as well, unless it is a plain navigation.
    marked = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", **cookie_header(rita)}
    assert call_start(app, "review_approve", [held, "csrf"], marked).status_code == 403
    assert setup.queue_store().head() == before
    assert setup.queue_store().read(f"queue/REVIEW/{held}.json")


@pytest.mark.parametrize("origin", [EVIL, "null", f"http://{BOARD_HOST}.evil:1", "garbage"])
def test_every_foreign_origin_is_refused(app: App, origin: str) -> None:
    headers = {"Host": f"{BOARD_HOST}:{app.port}", "Origin": origin}
    assert call_start(app, "search_board", [""], headers).status_code == 403


def test_the_boards_own_page_and_origin_free_clients_still_work(app: App) -> None:
    own = {"Host": f"{BOARD_HOST}:{app.port}", "Origin": f"http://{BOARD_HOST}:{app.port}"}
    assert call_start(app, "search_board", [""], own).status_code == 200
    # Behind a TLS proxy: the page is https on the default port.
    proxied = {"Host": BOARD_HOST, "Origin": f"https://{BOARD_HOST}"}
    assert call_start(app, "search_board", [""], proxied).status_code == 200
    assert call_start(app, "search_board", [""], {}).status_code == 200  # gradio_client
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert httpx.get(app.url + "/", headers=navigation, timeout=30).status_code == 200


def test_gradio_client_reads_the_board(app: App) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    client = gradio_client.Client(app.url, verbose=False, download_files=False)
    result = client.predict("", api_name="/search_board")
    assert "Rank" in result[0]["headers"]


def test_a_file_named_by_a_link_is_refused_before_gradio_downloads_it(
    app: App, setup: Setup
) -> None:
    """gradio would fetch the link into its cache (no size limit, no sign-in needed):
    a way round the upload gate."""
    before = setup.queue_store().head()
    linked = {
        "path": "https://example.com/predictions.csv",
        "orig_name": "p.csv",
        "meta": {"_type": "gradio.FileData"},
    }
    signed = cookie_header(sign_in(app.url, "linker"))
    for headers in ({}, signed):
        answer = call_start(app, "submit", ["linked", "", linked], headers)
        assert answer.status_code == 400
        assert answer.text == "Files must be uploaded to the board, not linked."
    join = httpx.post(
        f"{app.url}/gradio_api/queue/join",
        json={"data": ["linked", "", linked], "fn_index": 0, "session_hash": "abc"},
        headers=signed,
        timeout=30,
    )
    assert join.status_code == 400
    assert setup.queue_store().head() == before


# ---- item 6: logout ends the session on the server -------------------------------


def test_a_cookie_replayed_after_logout_is_signed_out(api: Api, app: App) -> None:
    cookie = sign_in(app.url, "logout-user")
    assert api.call("my_submissions", [], cookie)[0] != api.call("my_submissions", [], None)[0]
    done = httpx.get(f"{app.url}/logout", headers=cookie_header(cookie), timeout=30)
    assert done.status_code in (302, 307)
    # The captured cookie, sent again as it was before logout:
    replayed = api.call("my_submissions", [], cookie)
    assert replayed[0] == api.call("my_submissions", [], None)[0]
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        api.upload(b"id,prediction\n", cookie=cookie)
    # Signing in again gives a new, working session.
    again = sign_in(app.url, "logout-user")
    assert again != cookie
    assert api.call("my_submissions", [], again)[0] != replayed[0]


# ---- items 2 and 3: uploads and refusals, on a board with small limits ------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, oidc: str) -> Iterator[App]:
    setup = write_setup(tmp_path_factory.mktemp("small-limits"))
    text = setup.board_config.read_text()
    extra = (
        "uploads_per_hour = 4\nupload_mb_per_hour = 0.5\nupload_folder_mb = 0.6\n"
        "refusals_per_hour = 2\n"
    )
    setup.board_config.write_text(text.replace("[limits]\n", "[limits]\n" + extra))
    process = App(setup, oidc)
    process.setup = setup  # type: ignore[attr-defined]
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def upload(app: App, cookie: str | None, *files: bytes) -> httpx.Response:
    return httpx.post(
        f"{app.url}/gradio_api/upload",
        files=[("files", (f"p{n}.csv", content)) for n, content in enumerate(files)],
        headers=cookie_header(cookie) if cookie else {},
        timeout=30,
    )


def upload_folder_size(app: App) -> int:
    folder = Path(app.setup.root) / "gradio-tmp"  # type: ignore[attr-defined]
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_repeated_refused_files_are_rate_limited_and_good_files_still_go_through(
    small: App,
) -> None:
    setup: Setup = small.setup  # type: ignore[attr-defined]
    api = Api(small.url)
    try:
        honest = sign_in(small.url, "honest-submitter")
        assert "as job" in api.submit(honest, "works end to end", setup.predictions(seed=303))

        prober = sign_in(small.url, "prober")
        bad = b"id,prediction\nnot,a,valid,row\n"
        for _ in range(2):
            assert "Not submitted" in api.submit(prober, "bad", bad)
        before = setup.queue_store().head()
        third = api.submit(prober, "good now", setup.predictions(seed=304))
        assert "2 of your files were refused in the last hour" in third
        text = third.replace("\\", "")  # markdown escapes
        assert "you may try again at" in text and "UTC (in 60 minutes)" in text
        assert setup.queue_store().head() == before
    finally:
        api.close()


def test_uploads_are_capped_per_account_in_files_and_bytes(small: App) -> None:
    assert upload(small, None, b"id,prediction\n").status_code == 401
    many = sign_in(small.url, "many-files")
    one_request = upload(small, many, *[b"x" * 10] * 50)  # 50 files in one request
    assert one_request.status_code == 429
    assert "4 files in the last hour" in one_request.text
    assert int(one_request.headers["retry-after"]) > 0
    for n in range(4):
        assert upload(small, many, b"id,prediction\n%d" % n).status_code == 200
    fifth = upload(small, many, b"id,prediction\n")
    assert fifth.status_code == 429 and "you may upload again in" in fifth.text

    big = sign_in(small.url, "big-files")
    quarter = b"x" * (2**18 - 400)
    assert upload(small, big, quarter).status_code == 200
    refused = upload(small, big, quarter, quarter)
    assert refused.status_code == 429 and "0.5 MB in the last hour" in refused.text
    assert upload_folder_size(small) < 2**20


def test_the_upload_folder_has_a_total_cap(small: App) -> None:
    quarter = b"x" * (2**18 - 400)
    answers = [upload(small, sign_in(small.url, f"filler-{n}"), quarter) for n in range(3)]
    assert [a.status_code for a in answers].count(503) >= 1
    full = next(a for a in answers if a.status_code == 503)
    assert "no room for uploads" in full.text
    assert upload_folder_size(small) < 2**20
