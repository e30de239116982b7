"""The app's endpoints called directly over HTTP, as an attacker or a script would.

Identity can only come from the signed session cookie; these tests try every other
way in (no cookie, a forged cookie, a token in the body, another user's job id) and
check that nothing is written.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import itsdangerous
import pytest
from lb_support import (
    FLAGGED_API,
    MAX_FILE_MB,
    PER_DAY,
    REVIEWER,
    Api,
    ApiError,
    App,
    Setup,
    job_id_in,
    sign_in,
)

from heldout.queue.status import JobStatus


def queue_entries(setup: Setup, status: JobStatus) -> list[str]:
    return sorted(p.rsplit("/", 1)[-1] for p in setup.queue_store().list(f"queue/{status.value}"))


def test_submit_without_a_session_is_refused(api: Api, setup: Setup, app: App) -> None:
    before = setup.queue_store().head()
    content = setup.predictions(seed=101)
    upload = httpx.post(f"{api.url}/gradio_api/upload", files={"files": ("p.csv", content)})
    assert upload.status_code == 401
    assert upload.text == "Please sign in with Hugging Face before uploading a file."
    # The handler checks too, even given a file that someone signed in uploaded.
    file = api.upload(content, cookie=sign_in(app.url, "uploader"))
    status = api.call("submit", ["anonymous model", "", file], None)[0]
    assert "Please sign in with Hugging Face before submitting" in status
    assert setup.queue_store().head() == before


def forged_cookie(username: str) -> str:
    """A session cookie in gradio's format, signed with a key the server does not have."""
    info = {
        "oauth_info": {
            "access_token": "hf_test_" + username,
            "expires_at": int(time.time()) + 3600,
            "userinfo": {
                "preferred_username": username,
                "name": username,
                "profile": "",
                "picture": "",
            },
        }
    }
    data = base64.b64encode(json.dumps(info).encode())
    return itsdangerous.TimestampSigner("not-the-server-secret").sign(data).decode()


def test_forged_identity_makes_no_submitter_and_no_reviewer(
    api: Api, setup: Setup, app: App
) -> None:
    mallory = sign_in(app.url, FLAGGED_API)
    held = job_id_in(api.submit(mallory, "held for review", setup.predictions(seed=102)))
    assert held in [p.removesuffix(".json") for p in queue_entries(setup, JobStatus.REVIEW)]
    before = setup.queue_store().head()
    token = {"token": f"hf_test_{REVIEWER}", "scope": "openid profile", "expires_at": 2**31}

    # A forged cookie: the signature does not match, so the session is empty.
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        api.upload(setup.predictions(seed=103), cookie=forged_cookie("alice"))
    file = api.upload(setup.predictions(seed=103), cookie=mallory)
    status = api.call("submit", ["forged", "", file], forged_cookie("alice"))[0]
    assert "Please sign in" in status
    message = api.call("review_approve", [held, "ok"], forged_cookie(REVIEWER))[0]
    assert "Only the benchmark's reviewers" in message

    # An OAuth token in the request body, where gradio would inject gr.OAuthToken.
    file = api.upload(setup.predictions(seed=104), cookie=mallory)
    status = api.call("submit", ["with token", "", file, token], None)[0]
    assert "Please sign in" in status
    message = api.call("review_approve", [held, "ok", token], None)[0]
    assert "Only the benchmark's reviewers" in message
    # The same token next to a real but ordinary session does not promote its owner.
    message = api.call("review_approve", [held, "ok", token], mallory)[0]
    assert "Only the benchmark's reviewers" in message

    assert setup.queue_store().head() == before
    assert setup.queue_store().read(f"queue/REVIEW/{held}.json")


def test_review_actions_of_a_non_reviewer_change_nothing(api: Api, setup: Setup, app: App) -> None:
    owner = sign_in(app.url, FLAGGED_API)
    held = job_id_in(api.submit(owner, "needs review", setup.predictions(seed=105)))
    bob = sign_in(app.url, "bob-api")
    before = setup.queue_store().head()

    listing = api.call("review_list", [], bob)[0]
    assert listing["data"] == []  # flagged jobs (and their flags) are not shown to bob
    approve = api.call("review_approve", [held, "looks fine"], bob)[0]
    reject = api.call("review_reject", [held, "no"], bob)[0]
    own_approve = api.call("review_approve", [held, "mine"], owner)[0]
    for message in (approve, reject, own_approve):
        assert message.startswith("**Not done.**")
        assert "Only the benchmark's reviewers can review submissions" in message
    assert setup.queue_store().head() == before

    # The reviewer, for contrast, sees the job and its flag.
    rita = sign_in(app.url, REVIEWER)
    table = api.call("review_list", [], rita)[0]
    row = next(r for r in table["data"] if r[0] == held)
    assert row[2] == FLAGGED_API and "listed_account" in row[3]


def test_pages_may_only_talk_to_this_server(api: Api) -> None:
    """In Space mode gradio's page would fetch huggingface.co and Google Fonts."""
    response = httpx.get(api.url + "/", timeout=30)
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "default-src 'self'" in policy
    assert "huggingface.co" not in policy
    config = httpx.get(api.url + "/config", timeout=30).json()
    assert config.get("space_id") is None  # no Space header to draw


def test_upload_over_the_size_limit_is_refused_with_413(api: Api, app: App) -> None:
    too_big = b"id,prediction\n" + b"x" * int(MAX_FILE_MB * 2**20 + 1)
    response = httpx.post(
        f"{api.url}/gradio_api/upload",
        files={"files": ("big.csv", too_big)},
        headers={"Cookie": f"session={sign_in(app.url, 'big-uploader')}"},
        timeout=30,
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad\x00name", "control characters"),
        ("right\u202eto-left", "control characters"),
        ("", "please give your model a name"),
        ("x" * 500, "the limit is 100"),
    ],
)
def test_hostile_model_names_are_refused(
    api: Api, setup: Setup, app: App, name: str, expected: str
) -> None:
    cookie = sign_in(app.url, "hostile-names")
    before = setup.queue_store().head()
    status = api.submit(cookie, name, setup.predictions(seed=106))
    assert status.startswith("**Not submitted.**")
    assert expected.lower() in status.lower()
    assert setup.queue_store().head() == before


def test_markup_in_a_model_name_is_kept_as_text(api: Api, setup: Setup, app: App) -> None:
    cookie = sign_in(app.url, "markup-user")
    name = "<script>alert(1)</script> [link](javascript:alert(1)) **bold**"
    status = api.submit(cookie, name, setup.predictions(seed=107), description="<b>hi</b>")
    assert "as job" in status
    assert "<script>" not in status and "&lt;script&gt;" in status
    assert "](javascript" not in status  # the link syntax is escaped
    table = api.mine(cookie)
    # A plain string cell, exactly as typed: the browser shows it as text.
    assert [row[1] for row in table["data"]] == [name]


def test_a_file_with_wrong_ids_is_refused_before_anything_is_written(
    api: Api, setup: Setup, app: App
) -> None:
    cookie = sign_in(app.url, "wrong-ids")
    before = setup.queue_store().head()
    content = setup.predictions(seed=108).replace(b"ex-00001,", b"<img src=x>,", 1)
    status = api.submit(cookie, "wrong ids", content)
    assert "not in the test set" in status and "&lt;img src=x&gt;" in status
    assert setup.queue_store().head() == before


def test_a_burst_of_submissions_gets_answers_limits_and_few_commits(
    api: Api, setup: Setup, app: App
) -> None:
    users = [f"burst-{n}" for n in range(10)]
    cookies = {user: sign_in(app.url, user) for user in users}
    files = {
        (user, k): api.upload(setup.predictions(seed=1000 + 10 * n + k), cookie=cookies[user])
        for n, user in enumerate(users)
        for k in range(5)
    }
    store = setup.queue_store()
    commits_before = len(store.history())

    def one(key: tuple[str, int]) -> str:
        user, k = key
        client = Api(app.url)
        try:
            return client.call("submit", [f"{user} model {k}", "", files[key]], cookies[user])[0]
        finally:
            client.close()

    with ThreadPoolExecutor(len(files)) as pool:
        answers = dict(zip(files, pool.map(one, files), strict=True))

    commits = len(store.history()) - commits_before
    print(f"burst: {len(files)} submissions in {commits} commits")
    for user in users:
        mine = [answers[(user, k)] for k in range(5)]
        accepted = [a for a in mine if "as job" in a]
        refused = [a for a in mine if "submissions for today" in a]
        assert len(accepted) == PER_DAY and len(refused) == 5 - PER_DAY, mine
    assert commits <= 12, f"{commits} commits for {len(files)} submissions"


def test_a_submitter_cancels_only_their_own_waiting_job(
    api: Api, setup: Setup, app: App, worker: object
) -> None:
    if getattr(worker, "process", None) is not None:
        pytest.skip("the worker is already running, so a job would not stay PENDING")
    dora = sign_in(app.url, "dora")
    job = job_id_in(api.submit(dora, "to cancel", setup.predictions(seed=109)))
    eve = sign_in(app.url, "eve")
    before = setup.queue_store().head()
    refused = api.call("cancel", [job], eve)[0]
    assert "Not cancelled" in refused and "only cancel your own" in refused
    assert api.call("cancel", [job], None)[0].startswith("**Not cancelled.** Please sign in")
    assert setup.queue_store().head() == before

    quota_before = api.call("my_submissions", [], dora)[0]
    done = api.call("cancel", [job], dora)
    assert done[0] == f"Cancelled job `{job}`; it no longer counts against today's quota."
    row = next(r for r in done[2]["data"] if r[0] == job)
    assert row[2] == "FAILED" and row[6] == "cancelled by the submitter"
    assert done[1] != quota_before  # the slot came back
    assert "Not cancelled" in api.call("cancel", [job], dora)[0]  # only PENDING jobs


def test_a_rejection_needs_a_reason_and_the_submitter_reads_it(
    api: Api, setup: Setup, app: App
) -> None:
    owner = sign_in(app.url, FLAGGED_API)
    held = job_id_in(api.submit(owner, "to reject", setup.predictions(seed=110)))
    rita = sign_in(app.url, REVIEWER)
    no_reason = api.call("review_reject", [held, "  "], rita)[0]
    assert "Please give a reason" in no_reason
    done = api.call("review_reject", [held, "copied from <b>someone</b>"], rita)[0]
    assert done == f"Rejected job `{held}`; the submitter will see your reason."
    row = next(r for r in api.mine(owner)["data"] if r[0] == held)
    assert row[2] == "FAILED"
    assert row[6] == "rejected by a reviewer: copied from <b>someone</b>"  # a str cell


@pytest.mark.parametrize("target", ["sample", "/etc/passwd"])
def test_a_server_path_in_place_of_an_upload_is_refused(
    api: Api, setup: Setup, app: App, target: str
) -> None:
    """A caller may name any path in the file field; only uploaded files may be read."""
    cookie = sign_in(app.url, "path-prober")
    path = str(setup.sample) if target == "sample" else target
    before = setup.queue_store().head()
    forged = {"path": path, "orig_name": "predictions.csv", "meta": {"_type": "gradio.FileData"}}
    try:
        status = api.call("submit", ["probe", "", forged], cookie)[0]
    except ApiError:
        status = "refused by gradio"
    assert "as job" not in status
    assert "root:" not in status and path not in status
    assert setup.queue_store().head() == before
