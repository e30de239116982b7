"""`heldout doctor` on a healthy deployment, then on each way it can be broken."""

from __future__ import annotations

from pathlib import Path

import httpx
from browser_support import wait_for
from deploy_helpers import run_cli
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

NS = "doc"
Q, R, B, E = (
    f"{NS}/review-sentiment-{s}" for s in ("queue", "results", "leaderboard", "evaluator")
)


def test_doctor_names_each_problem_with_its_fix(bench, capsys, emulator, receiver, monkeypatch):
    token = f"hf_test_{NS}"
    monkeypatch.setenv("HF_TOKEN", token)
    deploy = ("deploy", "-c", str(bench.config), "--endpoint", emulator.url)
    code, _, err = run_cli(capsys, *deploy, "--evaluator-url", receiver.url.removesuffix("/hook"))
    assert code == 0, err
    api = HfApi(endpoint=emulator.url, token=token)
    hook = api.list_webhooks()[0]
    # The receiver stands in for the evaluator; one commit to the queue is delivered.
    api.create_commit(
        Q, [CommitOperationAdd("probe.txt", b"1")], commit_message="probe", repo_type="dataset"
    )
    wait_for(lambda: receiver.calls, timeout=20, what="a delivery")

    def doctor(*extra: str) -> tuple[int, list[str]]:
        code, out, err = run_cli(
            capsys, "doctor", "-c", str(bench.config), "--endpoint", emulator.url, *extra
        )
        problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
        fixes = [line for line in out.splitlines() if line.strip().startswith("fix:")]
        assert len(fixes) == len(problems), out
        return code, problems

    def broken(expected: str) -> None:
        code, problems = doctor()
        assert code == 1 and len(problems) == 1 and expected in problems[0], problems

    assert doctor() == (0, [])

    api.update_repo_settings(R, private=True, repo_type="dataset")
    broken(f"dataset {R} is private, but must be public")
    api.update_repo_settings(R, private=False, repo_type="dataset")

    api.update_repo_settings(Q, private=False, repo_type="dataset")
    broken(f"dataset {Q} is public, but must be private")
    api.update_repo_settings(Q, private=True, repo_type="dataset")

    api.delete_space_secret(E, "WEBHOOK_SECRET")
    broken(f"{E} lacks the secret(s) WEBHOOK_SECRET")
    api.add_space_secret(E, "WEBHOOK_SECRET", hook.secret)

    readme = api.hf_hub_download(B, "README.md", repo_type="space")
    text = Path(readme).read_text(encoding="utf-8")
    api.upload_file(
        path_or_fileobj=text.replace("hf_oauth: true", "hf_oauth: false").encode(),
        path_in_repo="README.md",
        repo_id=B,
        repo_type="space",
    )
    broken("lacks `hf_oauth: true`")
    api.upload_file(
        path_or_fileobj=text.encode(), path_in_repo="README.md", repo_id=B, repo_type="space"
    )

    api.disable_webhook(hook.id)
    broken(f"the webhook {hook.id} on {Q} is disabled")
    api.enable_webhook(hook.id)

    receiver.status = 500
    api.create_commit(
        Q, [CommitOperationAdd("probe.txt", b"2")], commit_message="probe", repo_type="dataset"
    )
    wait_for(lambda: len(receiver.calls) == 2, timeout=20, what="the failing delivery")

    def recorded() -> bool:
        rows = httpx.get(
            f"{emulator.url}/api/settings/webhooks/{hook.id}/deliveries",
            headers={"authorization": f"Bearer {token}"},
        ).json()
        return len(rows) == 2

    wait_for(recorded, timeout=10, what="the failure on record")
    broken("1 of the webhook's last 2 deliveries failed (HTTP 500)")
    receiver.status = 200
    api.create_commit(
        Q, [CommitOperationAdd("probe.txt", b"3")], commit_message="probe", repo_type="dataset"
    )
    wait_for(lambda: len(receiver.calls) == 3, timeout=20, what="a good delivery")
    api.delete_webhook(hook.id)
    broken(f"no webhook watches {Q}")
    code, _, err = run_cli(capsys, *deploy, "--evaluator-url", receiver.url.removesuffix("/hook"))
    assert code == 0, err

    truth = bench.evaluator / "private" / "truth.parquet"
    api.upload_file(
        path_or_fileobj=str(truth), path_in_repo="data/x.parquet", repo_id=R, repo_type="dataset"
    )
    broken(f"the test set is in {R}: data/x.parquet")
    api.create_commit(
        R, [CommitOperationDelete("data/x.parquet")], commit_message="oops", repo_type="dataset"
    )

    assert doctor() == (0, [])
    # Someone else's token: it may not write there, and cannot see the private repos.
    monkeypatch.setenv("HF_TOKEN", "hf_test_eve")
    code, problems = doctor("--namespace", NS)
    assert code == 1 and f"the token's user eve cannot write in {NS}" in problems[0]
    assert any(f"dataset {Q} does not exist" in p for p in problems)
