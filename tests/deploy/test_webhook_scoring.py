"""Submit -> the Hub's webhook -> the evaluator wakes and scores, all offline.

The evaluator's own folder is downloaded from its deployed Space and run as a worker
that would otherwise not look at the queue for ten minutes: only the webhook can make
it score in time. The score then loads with `datasets.load_dataset`, from the card.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser_support import wait_for
from deploy_helpers import Process, child_env, free_port, run_cli
from huggingface_hub import snapshot_download

from heldout.config import load_config
from heldout.queue.hub_store import HubStore
from heldout.queue.results import Results

pytestmark = pytest.mark.slow
NS = "wally"
REPO = f"{NS}/review-sentiment"


def test_submit_webhook_scored_and_loadable(bench, capsys, emulator, monkeypatch, tmp_path):
    token = f"hf_test_{NS}"
    monkeypatch.setenv("HF_TOKEN", token)
    port = free_port()
    code, out, err = run_cli(
        capsys,
        "deploy",
        "-c",
        str(bench.config),
        "--endpoint",
        emulator.url,
        "--evaluator-url",
        f"http://127.0.0.1:{port}",
    )
    assert code == 0, err
    hook_id = re.search(r"webhook (\w+):", out).group(1)
    space = Path(
        snapshot_download(
            f"{REPO}-evaluator", repo_type="space", local_dir=tmp_path / "ev", token=token
        )
    )
    config = space / "heldout.toml"
    config.write_text(re.sub(r"poll_seconds = \S+", "poll_seconds = 600", config.read_text()))
    secret = emulator.services.state.repo("space", f"{REPO}-evaluator").secrets["WEBHOOK_SECRET"]
    env = child_env(HF_TOKEN=token, HF_ENDPOINT=emulator.url, WEBHOOK_SECRET=secret["value"])
    worker = Process.heldout(
        "worker",
        "-c",
        "heldout.toml",
        "--webhook-host",
        "127.0.0.1",
        "--webhook-port",
        str(port),
        cwd=space,
        env=env,
    )
    try:
        wait_for(
            lambda: worker.alive() and "webhook server listening" in worker.output,
            timeout=90,
            what="the worker's webhook endpoint",
        )
        board = bench.leaderboard / "heldout.toml"
        board.write_text(board.read_text().replace("YOUR-NAME", NS))
        code, out, err = run_cli(
            capsys,
            "submit",
            "-c",
            str(board),
            str(bench.root / "public" / "sample_predictions.csv"),
            "--model",
            "woken by a webhook",
        )
        assert code == 0, err
        results = Results(
            HubStore(f"{REPO}-results", token=token, endpoint=emulator.url),
            load_config(bench.config).benchmark,
        )
        wait_for(
            lambda: "woken by a webhook" in set(results.read()["model"]),
            timeout=60,
            every=0.5,
            what="the score (the worker polls only every 600 s)",
        )
        assert "webhook: the queue changed" in worker.output
    finally:
        worker.stop()
    deliveries = httpx.get(
        f"{emulator.url}/api/settings/webhooks/{hook_id}/deliveries",
        headers={"authorization": f"Bearer {token}"},
    ).json()
    assert deliveries and all(d["ok"] for d in deliveries)

    import datasets

    loaded = datasets.load_dataset(
        f"{REPO}-results", cache_dir=str(tmp_path / "ds"), download_mode="force_redownload"
    )
    assert loaded["train"]["model"] == ["woken by a webhook"]
