"""`heldout doctor -c …`: check a deployed benchmark, and name each problem with its fix.

It checks what `heldout deploy` set up, by reading it back from the Hub:

- the token: accepted, not read-only, and its user may write in the namespace;
- the two datasets and two Spaces exist, with the right visibility;
- the Spaces have their secrets, the leaderboard its `hf_oauth` metadata, and each
  Space a requirements.txt whose heldout wheel is in the repo;
- the webhook on the queue exists, is enabled, points at the evaluator, and its last
  deliveries succeeded;
- the test set cannot be reached from the leaderboard Space or either dataset: no file
  there has the test set's content, and the leaderboard's config has no [evaluator].

Reading only: the doctor changes nothing. Each check is a small pure function of what
was read, so the rules are easy to test and to extend.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from heldout.config import Config
from heldout.deploy import WEBHOOK_PATH, WEBHOOK_SECRET_ENV, DeployPlan, RepoPlan, plan_deploy
from heldout.errors import HeldoutError

RECENT_DELIVERIES = 5


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        return (
            f"ok       {self.what}"
            if self.ok
            else f"PROBLEM  {self.what}\n         fix: {self.fix}"
        )


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class Doctor:
    """The checks, run against one deployment through one `HfApi`."""

    def __init__(self, api: Any, plan: DeployPlan, config: Config, token: str) -> None:
        self.api = api
        self.plan = plan
        self.config = config
        self.token = token
        self.present: set[str] = set()

    def run(self) -> Iterator[Finding]:
        yield from self.token_checks()
        for repo in self.plan.repos:
            yield from self.repo_checks(repo)
        if self.plan.leaderboard.repo_id in self.present:
            yield from self.space_checks(self.plan.leaderboard, ["HF_TOKEN"], oauth=True)
        if self.plan.evaluator.repo_id in self.present:
            yield from self.space_checks(self.plan.evaluator, ["HF_TOKEN", WEBHOOK_SECRET_ENV])
        if self.plan.queue.repo_id in self.present:
            yield from self.webhook_checks()
        yield from self.leak_checks()

    # ------------------------------------------------------------- the token
    def token_checks(self) -> Iterator[Finding]:
        try:
            me = self.api.whoami()
        except Exception:
            yield Finding(False, "the Hub refused the token", "set HF_TOKEN to a valid write token")
            return
        role = ((me.get("auth") or {}).get("accessToken") or {}).get("role")
        if role == "read":
            yield Finding(
                False,
                "the token is read-only; the Spaces and deploy must write",
                "create a write token at https://huggingface.co/settings/tokens",
            )
        ns = self.plan.namespace
        writable = {me["name"]} | {
            o["name"]
            for o in me.get("orgs") or []
            if o.get("roleInOrg") in (None, "write", "admin")
        }
        if ns in writable:
            yield Finding(True, f"the token ({me['name']}) may write in {ns}")
        else:
            yield Finding(
                False,
                f"the token's user {me['name']} cannot write in {ns}",
                f"use a token of {ns} or of a member with write access",
            )

    # ------------------------------------------------------------- the repos
    def repo_checks(self, repo: RepoPlan) -> Iterator[Finding]:
        try:
            info = self.api.repo_info(repo.repo_id, repo_type=repo.repo_type)
        except Exception:
            yield Finding(
                False,
                f"{repo.repo_type} {repo.repo_id} does not exist (or this token cannot read it)",
                f"run heldout deploy -c {self.config.source}",
            )
            return
        self.present.add(repo.repo_id)
        want = "private" if repo.private else "public"
        if bool(info.private) == repo.private:
            yield Finding(True, f"{repo.repo_type} {repo.repo_id} exists and is {want}")
        else:
            yield Finding(
                False,
                f"{repo.repo_type} {repo.repo_id} is {'private' if info.private else 'public'}, "
                f"but must be {want}",
                f"make it {want} in its settings, or run heldout deploy again",
            )

    # ------------------------------------------------------------ the Spaces
    def space_checks(
        self, space: RepoPlan, secrets: list[str], oauth: bool = False
    ) -> Iterator[Finding]:
        try:
            have = set(self.api.get_space_secrets(space.repo_id))
        except Exception:
            have = None
        if have is None:
            yield Finding(False, f"cannot list the secrets of {space.repo_id}", "check the token")
        else:
            missing = [key for key in secrets if key not in have]
            if missing:
                yield Finding(
                    False,
                    f"{space.repo_id} lacks the secret(s) {', '.join(missing)}",
                    "run heldout deploy again (it sets them), or add them in the Space's settings",
                )
            else:
                yield Finding(True, f"{space.repo_id} has its secrets ({', '.join(secrets)})")
        files = set(self.api.list_repo_files(space.repo_id, repo_type="space"))
        if oauth:
            meta = self._front_matter(space.repo_id) if "README.md" in files else {}
            if meta.get("hf_oauth") is True:
                yield Finding(True, f"{space.repo_id} signs people in (hf_oauth: true)")
            else:
                yield Finding(
                    False,
                    f"{space.repo_id}'s README.md lacks `hf_oauth: true`: nobody can sign in",
                    "add `hf_oauth: true` to its README metadata, or run heldout deploy again",
                )
        wheels = self._wheels(space.repo_id, files)
        if wheels and all(w in files for w in wheels):
            yield Finding(True, f"{space.repo_id} installs heldout from {wheels[0]}")
        else:
            yield Finding(
                False,
                f"{space.repo_id}'s requirements.txt does not point at a heldout wheel in the repo",
                "run heldout deploy again (it uploads the wheel and writes requirements.txt)",
            )

    def _download(self, repo_id: str, path: str, repo_type: str = "space") -> bytes:
        local = self.api.hf_hub_download(repo_id, path, repo_type=repo_type)
        return Path(local).read_bytes()

    def _front_matter(self, repo_id: str) -> dict:
        text = self._download(repo_id, "README.md").decode("utf-8", "replace")
        if not text.startswith("---"):
            return {}
        try:
            meta = yaml.safe_load(text[3 : text.find("\n---", 3)])
        except yaml.YAMLError:
            return {}
        return meta if isinstance(meta, dict) else {}

    def _wheels(self, repo_id: str, files: set[str]) -> list[str]:
        if "requirements.txt" not in files:
            return []
        lines = self._download(repo_id, "requirements.txt").decode("utf-8", "replace").splitlines()
        return [ln.strip().removeprefix("./") for ln in lines if ln.strip().endswith(".whl")]

    # ------------------------------------------------------------ the webhook
    def webhook_checks(self) -> Iterator[Finding]:
        from heldout.deploy_hook import find_webhook

        queue = self.plan.queue.repo_id
        try:
            hook = find_webhook(self.api, queue)
        except Exception:
            yield Finding(
                False,
                "cannot list webhooks with this token",
                "use a token that may manage webhooks",
            )
            return
        if hook is None:
            yield Finding(
                False,
                f"no webhook watches {queue}: the evaluator only polls",
                "run heldout deploy again (it creates the webhook)",
            )
            return
        if hook.disabled:
            yield Finding(
                False,
                f"the webhook {hook.id} on {queue} is disabled",
                "enable it, or run heldout deploy again",
            )
        elif not (hook.url or "").endswith(WEBHOOK_PATH):
            yield Finding(
                False,
                f"the webhook {hook.id} points at {hook.url}, not an evaluator's {WEBHOOK_PATH}",
                "run heldout deploy again",
            )
        else:
            yield Finding(True, f"the webhook {hook.id} on {queue} -> {hook.url}")
        yield from self._deliveries(hook.id)

    def _deliveries(self, hook_id: str) -> Iterator[Finding]:
        from huggingface_hub.utils import get_session

        url = f"{self.api.endpoint}/api/settings/webhooks/{hook_id}/deliveries"
        response = get_session().get(url, headers={"authorization": f"Bearer {self.token}"})
        if response.status_code != 200:
            yield Finding(
                True,
                "the webhook's deliveries cannot be read through the API; see its activity at "
                f"https://huggingface.co/settings/webhooks/{hook_id}",
            )
            return
        recent = response.json()[:RECENT_DELIVERIES]
        failed = [d for d in recent if not d.get("ok")]
        if not recent:
            yield Finding(True, "the webhook has not delivered anything yet (no commit since)")
        elif failed:
            last = failed[0]
            why = (
                f"HTTP {last['status']}"
                if last.get("status")
                else (last.get("error") or "no answer")
            )
            yield Finding(
                False,
                f"{len(failed)} of the webhook's last {len(recent)} deliveries failed ({why})",
                "check that the evaluator Space is running and that its WEBHOOK_SECRET is the "
                "webhook's secret (run heldout deploy again to set both)",
            )
        else:
            yield Finding(True, f"the webhook's last {len(recent)} deliveries succeeded")

    # ------------------------------------------------------------- the leaks
    def leak_checks(self) -> Iterator[Finding]:
        assert self.config.evaluator is not None
        truth = self.config.evaluator.truth.read_bytes()
        blob, sha = git_blob_id(truth), hashlib.sha256(truth).hexdigest()
        for repo in (self.plan.leaderboard, self.plan.queue, self.plan.results):
            if repo.repo_id not in self.present:
                continue
            hits = [
                entry.path
                for entry in self.api.list_repo_tree(
                    repo.repo_id, repo_type=repo.repo_type, recursive=True
                )
                if getattr(entry, "blob_id", None) == blob
                or (getattr(entry, "lfs", None) is not None and entry.lfs.sha256 == sha)
            ]
            if hits:
                yield Finding(
                    False,
                    f"the test set is in {repo.repo_id}: {', '.join(hits[:3])}",
                    "delete it from that repo now, and treat the test set as public "
                    "(it stays in the repo's history)",
                )
            else:
                yield Finding(True, f"the test set is not in {repo.repo_id}")
        if self.plan.leaderboard.repo_id in self.present:
            text = self._download(self.plan.leaderboard.repo_id, "heldout.toml").decode(
                "utf-8", "replace"
            )
            if "\n[evaluator]" in "\n" + text:
                yield Finding(
                    False,
                    f"{self.plan.leaderboard.repo_id}'s heldout.toml has an [evaluator] section",
                    "remove it: the public Space must not know where the test set is",
                )


def run(
    config: Config,
    *,
    namespace: str | None,
    endpoint: str | None,
    say: Callable[[str], None] = print,
) -> int:
    """Print one line per check; 0 when all are fine, 1 otherwise."""
    from huggingface_hub import HfApi

    token = config.storage.token()
    if not token:
        raise HeldoutError(f"set {config.storage.token_env} to the token you deployed with")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        user = api.whoami()["name"]
    except Exception as exc:
        raise HeldoutError("the Hub did not accept the token (whoami failed)") from exc
    plan = plan_deploy(config, namespace or user, endpoint=endpoint)
    findings = list(Doctor(api, plan, config, token).run())
    for finding in findings:
        say(finding.line())
    problems = sum(not f.ok for f in findings)
    say(f"{problems} problem(s) found" if problems else "all good: the benchmark is wired up")
    return 1 if problems else 0
