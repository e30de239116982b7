"""`heldout deploy` against the emulator: cards, self-contained Spaces, secrets, webhook."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from deploy_helpers import run_cli
from huggingface_hub import HfApi, snapshot_download

from heldout.config import load_config
from heldout.evaluator.scoring import fingerprint, load_truth
from heldout.scaffold import BenchmarkFolder

NS = "dora"
SLUG = "review-sentiment"


def _deploy(capsys, bench: BenchmarkFolder, emulator, *extra: str) -> str:
    code, out, err = run_cli(
        capsys,
        "deploy",
        "-c",
        str(bench.config),
        "--endpoint",
        emulator.url,
        "--evaluator-url",
        "http://127.0.0.1:9",
        *extra,
    )
    assert code == 0, err
    return out + err


def _card(api: HfApi, repo_id: str) -> tuple[dict, str]:
    text = Path(api.hf_hub_download(repo_id, "README.md", repo_type="dataset")).read_text()
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


@pytest.fixture()
def deployed(bench, capsys, emulator, monkeypatch) -> tuple[BenchmarkFolder, str]:
    monkeypatch.setenv("HF_TOKEN", f"hf_test_{NS}")
    return bench, _deploy(capsys, bench, emulator)


def test_spaces_are_self_contained_and_pinned(deployed, emulator, tmp_path: Path) -> None:
    api = HfApi(endpoint=emulator.url, token=f"hf_test_{NS}")
    for space in ("leaderboard", "evaluator"):
        folder = Path(
            snapshot_download(f"{NS}/{SLUG}-{space}", repo_type="space", local_dir=tmp_path / space)
        )
        lines = (folder / "requirements.txt").read_text().splitlines()
        wheel = [line for line in lines if line.endswith(".whl")]
        assert wheel == ["./wheels/heldout-0.1.0-py3-none-any.whl"]
        assert (folder / wheel[0]).is_file()  # pip, run from the repo root, finds it
        pins = [line for line in lines if line and not line.startswith(("#", "./"))]
        assert all("==" in pin for pin in pins) and any(p.startswith("gradio==") for p in pins)
        assert "heldout>=" not in "\n".join(lines)
    assert "private/truth.parquet" not in api.list_repo_files(
        f"{NS}/{SLUG}-leaderboard", repo_type="space"
    )


def test_cards_describe_the_datasets(deployed, emulator) -> None:
    bench, _ = deployed
    api = HfApi(endpoint=emulator.url, token=f"hf_test_{NS}")
    meta, body = _card(api, f"{NS}/{SLUG}-results")
    assert meta["license"] == "cc-by-4.0"
    assert meta["pretty_name"] == "Review sentiment results"
    assert meta["configs"][0]["data_files"][0]["path"] == "data/part-*.parquet"
    config = load_config(bench.config)
    truth = load_truth(config.evaluator.truth, config.benchmark)
    assert fingerprint(truth) in body
    assert f"{emulator.url}/spaces/{NS}/{SLUG}-leaderboard" in body
    for column in ("job_id", "primary_score", "macro_f1", "test_fingerprint"):
        assert f"| `{column}` |" in body
    meta, body = _card(api, f"{NS}/{SLUG}-queue")
    assert "private" in body.lower() and "queue/<STATUS>/<job_id>.json" in body


def test_one_webhook_whose_secret_the_evaluator_holds_even_after_redeploy(
    deployed, capsys, emulator
) -> None:
    bench, _ = deployed
    api = HfApi(endpoint=emulator.url, token=f"hf_test_{NS}")
    space = emulator.services.state.repo("space", f"{NS}/{SLUG}-evaluator")
    board = emulator.services.state.repo("space", f"{NS}/{SLUG}-leaderboard")
    hooks = [h for h in api.list_webhooks() if h.watched[0].name == f"{NS}/{SLUG}-queue"]
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook.url == "http://127.0.0.1:9/webhooks/queue" and hook.domains == ["repo"]
    assert space.secrets["WEBHOOK_SECRET"]["value"] == hook.secret
    assert "WEBHOOK_SECRET" not in board.secrets  # the public Space never holds it
    config = Path(
        api.hf_hub_download(f"{NS}/{SLUG}-evaluator", "heldout.toml", repo_type="space")
    ).read_text()
    assert 'webhook_secret_env = "WEBHOOK_SECRET"' in config

    _deploy(capsys, bench, emulator)
    again = [h for h in api.list_webhooks() if h.watched[0].name == f"{NS}/{SLUG}-queue"]
    assert [(h.id, h.secret) for h in again] == [(hook.id, hook.secret)]
    assert space.secrets["WEBHOOK_SECRET"]["value"] == hook.secret
