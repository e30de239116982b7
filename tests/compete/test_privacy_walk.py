"""The privacy walk: before the reveal, no private score is anywhere a visitor or a
submitter can reach. Walked as an attacker would:

- every Gradio endpoint the app lists (`/gradio_api/info?all_endpoints=true`, so the
  undocumented ones too), called signed out, as two submitters and as a reviewer, with
  real and junk arguments; their answers and their error messages;
- the rendered page and the app's config (initial values of every component);
- the results repo: every file at every commit of its history, read anonymously with
  the real huggingface_hub client, parquet decoded to values.

Then the reveal, and the same walk must now find the private scores: the walk is able
to see a leak, so its silence before means something.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from app_support import Arena
from huggingface_hub import HfApi, hf_hub_download
from lb_support import Api, ApiError, job_id_in, sign_in

from heldout.queue.splits import PRIVATE, PUBLIC
from heldout.queue.status import JobStatus

pytestmark = pytest.mark.slow

PEOPLE = ("alice", "bob", "rita")  # rita is a reviewer


def forms(value: float) -> set[str]:
    return {repr(value), f"{value:.4f}", f"{value:.6f}"}


def _numbers(scores: Any, split: str) -> set[float]:
    """A split's values and the bounds of their intervals."""
    found = set()
    for item in scores:
        if item.split == split:
            found |= {v for v in (item.value, item.ci_low, item.ci_high) if v is not None}
    return found


def secrets_of(arena: Arena) -> tuple[set[str], set[float]]:
    """The private scores (and their interval bounds) as text a page could show and as
    numbers a file could hold, minus anything that equals (or is part of) a public
    number: on a small test set a public interval bound can equal a private score."""
    entries = arena.queue().jobs(JobStatus.FINISHED)
    private = {v for e in entries for v in _numbers(e.split_scores, PRIVATE)}
    public = {v for e in entries for v in _numbers(e.split_scores, PUBLIC)}
    public_text = {f for v in public for f in forms(v)}
    text = {f for v in private for f in forms(v) if not any(f in p for p in public_text)}
    return text, private - public


def walk_values(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from walk_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk_values(item)
    else:
        yield value


def results_history(arena: Arena, tmp: Path) -> tuple[list[str], list[float], int]:
    """Every file at every commit of the results repo, as an anonymous visitor reads it."""
    api = HfApi(endpoint=arena.hub, token=False)
    repo = arena.repos[1]
    texts: list[str] = []
    numbers: list[float] = []
    commits = api.list_repo_commits(repo, repo_type="dataset", token=False)
    for commit in commits:
        for name in api.list_repo_files(
            repo, repo_type="dataset", revision=commit.commit_id, token=False
        ):
            path = hf_hub_download(
                repo,
                name,
                repo_type="dataset",
                revision=commit.commit_id,
                endpoint=arena.hub,
                token=False,
                cache_dir=str(tmp / "hf-cache"),
            )
            raw = Path(path).read_bytes()
            if name.endswith(".parquet"):
                rows = pq.read_table(io.BytesIO(raw)).to_pylist()
                for row in rows:
                    texts.extend(f"split:{i['split']}" for i in row.get("split_scores") or [])
                for value in walk_values(rows):
                    if isinstance(value, float) and math.isfinite(value):
                        numbers.append(value)
                    texts.append(str(value))
            else:
                texts.append(raw.decode("utf-8", "replace"))
    return texts, numbers, len(commits)


def call_everything(arena: Arena, cookies: dict[str | None, str | None]) -> list[str]:
    """Every listed endpoint, for every identity, with real and junk arguments."""
    info = httpx.get(f"{arena.url}/gradio_api/info?all_endpoints=true", timeout=30).json()
    endpoints = info["named_endpoints"]
    assert {"/board", "/my_submissions", "/final_choice", "/submit"} <= set(endpoints)
    api = Api(arena.url)
    jobs = {e.job_id for e in arena.queue().jobs()}
    seen: list[str] = []
    try:
        for cookie in cookies.values():
            for name, spec in endpoints.items():
                for attempt in arguments(api, arena, spec["parameters"], jobs):
                    try:
                        seen.append(json.dumps(api.call(name.lstrip("/"), attempt, cookie)))
                    except ApiError as exc:  # what an error tells the caller is walked too
                        seen.append(str(exc))
    finally:
        api.close()
    return seen


def arguments(api: Api, arena: Arena, params: list[dict[str, Any]], jobs: set[str]) -> list[list]:
    if not params:
        return [[]]
    real, junk = [], []
    for p in params:
        kind = p["component"]
        if kind == "File":
            uploader = sign_in(arena.url, "walker")  # uploads need a session
            real.append(api.upload(arena.predictions(seed=999, accuracy=0.5), cookie=uploader))
            junk.append(None)
        elif kind == "Checkboxgroup":
            real.append(sorted(jobs)[:2])
            junk.append(["0.5", "../../etc/passwd"])
        elif kind == "Dropdown":
            real.append(sorted(jobs)[0] if jobs else "")
            junk.append("20260101T000000Z-deadbeef")
        else:
            real.append("probe")
            junk.append("")
    return [real, junk]


def pages(arena: Arena, cookies: dict[str | None, str | None]) -> list[str]:
    found = []
    for cookie in cookies.values():
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        for path in ("/", "/config", "/gradio_api/info?all_endpoints=true"):
            found.append(httpx.get(arena.url + path, headers=headers, timeout=30).text)
    return found


def leaks(corpus: list[str], secrets: set[str]) -> list[str]:
    return sorted({s for s in secrets for text in corpus if s in text})


def test_no_private_score_reaches_any_public_surface_before_the_reveal(
    arena: Arena, tmp_path: Path
) -> None:
    api = Api(arena.url)
    cookies: dict[str | None, str | None] = {None: None}
    for person in PEOPLE:
        cookies[person] = sign_in(arena.url, person)
    alice_jobs = [
        job_id_in(api.submit(cookies["alice"], f"alice/model-{n}", arena.predictions(n, acc)))
        for n, acc in ((1, 0.62), (2, 0.71))
    ]
    api.submit(cookies["bob"], "bob-model", arena.predictions(3, 0.66))
    arena.score()
    chosen = api.call("final_choice", [alice_jobs[:1]], cookies["alice"])[0]
    assert "Saved your final choice" in chosen

    text_secrets, number_secrets = secrets_of(arena)
    assert len(text_secrets) >= 6 and len(number_secrets) >= 3  # enough to look for

    mine = api.mine(cookies["alice"])
    private_col = mine["headers"].index("Private score")
    assert {row[private_col] for row in mine["data"]} == {"hidden until the reveal"}

    corpus = call_everything(arena, cookies) + pages(arena, cookies)
    texts, numbers, commits = results_history(arena, tmp_path)
    assert commits >= 2
    assert leaks(corpus, text_secrets) == []
    assert leaks(texts, text_secrets) == []
    assert f"split:{PRIVATE}" not in texts  # no private item in any row of any commit
    assert sorted(set(numbers) & number_secrets) == []

    # The reveal publishes them, and the same walk finds them: it can see a leak.
    arena.reveal()
    after_texts, after_numbers, _ = results_history(arena, tmp_path)
    assert number_secrets <= set(after_numbers)
    assert f"split:{PRIVATE}" in after_texts
    mine = api.mine(cookies["alice"])
    assert any(s in json.dumps(mine) for s in text_secrets)
    board = json.dumps(api.call("board", [""]))
    assert any(s in board for s in text_secrets)
    api.close()
