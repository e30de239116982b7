"""`heldout deploy`: two datasets and two Spaces on the Hub, wired together.

- the queue (private) and results (public) datasets, each with its dataset card;
- the leaderboard (public) and evaluator (private) Spaces, each self-contained: a
  wheel of the running heldout in `wheels/` and a `requirements.txt` that points at it,
  with every other dependency pinned to the tested version (`space_bundle`);
- the Spaces' secrets (`HF_TOKEN`, and the evaluator's `WEBHOOK_SECRET`);
- a Hub webhook on the queue repo that wakes the evaluator (`deploy_hook`).

Planning (which repos, which privacy, which URL) is pure and kept apart from the calls,
so it can be read and tested without a network. Running it again updates everything in
place: same repos, same webhook, same secret.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from heldout.config import Config
from heldout.errors import ConfigError, HeldoutError
from heldout.scaffold import PLACEHOLDER_NS, slugify

HUB = "https://huggingface.co"
WEBHOOK_SECRET_ENV = "WEBHOOK_SECRET"
WEBHOOK_PATH = "/webhooks/queue"  # served by heldout.evaluator.webhook


@dataclass(frozen=True)
class RepoPlan:
    repo_id: str
    repo_type: str  # "dataset" or "space"
    private: bool
    folder: Path | None = None  # uploaded as the repo's content

    @property
    def label(self) -> str:
        return f"{self.repo_type:<8} {self.repo_id}  ({'private' if self.private else 'public'})"


@dataclass(frozen=True)
class DeployPlan:
    namespace: str
    queue: RepoPlan
    results: RepoPlan
    leaderboard: RepoPlan
    evaluator: RepoPlan
    webhook_url: str  # the evaluator Space's webhook endpoint
    hub: str = HUB  # the Hub's web address, for links in cards

    @property
    def repos(self) -> tuple[RepoPlan, ...]:
        return (self.queue, self.results, self.leaderboard, self.evaluator)

    @property
    def spaces(self) -> tuple[RepoPlan, RepoPlan]:
        return (self.leaderboard, self.evaluator)


def space_host(repo_id: str) -> str:
    """The host a Space is served at: `ns-name.hf.space`, lower case, dashes for the rest."""
    return re.sub(r"[^a-z0-9]+", "-", repo_id.lower()).strip("-") + ".hf.space"


def plan_deploy(
    config: Config,
    namespace: str,
    *,
    evaluator_url: str | None = None,
    endpoint: str | None = None,
) -> DeployPlan:
    if config.source is None:
        raise HeldoutError("deploy needs a heldout.toml on disk, next to its Space folders")
    if config.evaluator is None:
        raise ConfigError(
            f"{config.source.name} has no [evaluator] section: deploy from the maintainer's "
            "heldout.toml (the one `heldout init` wrote at the top of the folder)"
        )
    root = config.source.parent
    for name in ("leaderboard", "evaluator"):
        if not (root / name / "heldout.toml").is_file():
            raise HeldoutError(
                f"no {name}/heldout.toml next to the config; run `heldout init` first"
            )
    slug = slugify(config.benchmark.name)
    evaluator_id = f"{namespace}/{slug}-evaluator"
    base = (evaluator_url or f"https://{space_host(evaluator_id)}").rstrip("/")
    return DeployPlan(
        namespace=namespace,
        queue=RepoPlan(f"{namespace}/{slug}-queue", "dataset", private=True),
        results=RepoPlan(f"{namespace}/{slug}-results", "dataset", private=False),
        leaderboard=RepoPlan(
            f"{namespace}/{slug}-leaderboard", "space", False, root / "leaderboard"
        ),
        evaluator=RepoPlan(evaluator_id, "space", True, root / "evaluator"),
        webhook_url=base if base.endswith(WEBHOOK_PATH) else base + WEBHOOK_PATH,
        hub=(endpoint or HUB).rstrip("/"),
    )


def stage_space(folder: Path, plan: DeployPlan, wheel: Path, tmp: Path) -> Path:
    """A copy of a Space folder as it is uploaded: the namespace filled in, the wheel
    beside it and requirements.txt pointing at it."""
    from heldout.space_bundle import WHEEL_DIR, requirements_text

    staged = tmp / folder.name
    shutil.copytree(folder, staged, ignore=shutil.ignore_patterns("__pycache__", "data", WHEEL_DIR))
    config = staged / "heldout.toml"
    text = config.read_text(encoding="utf-8").replace(PLACEHOLDER_NS, plan.namespace)
    config.write_text(text, encoding="utf-8")
    (staged / WHEEL_DIR).mkdir()
    shutil.copy2(wheel, staged / WHEEL_DIR / wheel.name)
    (staged / "requirements.txt").write_text(requirements_text(wheel.name), encoding="utf-8")
    return staged


def deploy(
    plan: DeployPlan,
    config: Config,
    token: str,
    endpoint: str | None,
    say: Callable[[str], None] = print,
) -> None:
    from huggingface_hub import CommitOperationAdd, HfApi

    from heldout.cards import CardLinks, queue_card, results_card
    from heldout.commitment import card_lines, commit_for_deploy
    from heldout.deploy_hook import ensure_webhook
    from heldout.evaluator.scoring import fingerprint, load_truth
    from heldout.space_bundle import WHEEL_DIR, build_wheel

    assert config.evaluator is not None  # checked by plan_deploy
    api = HfApi(endpoint=endpoint, token=token)
    for repo in plan.repos:
        api.create_repo(
            repo.repo_id,
            repo_type=repo.repo_type,
            private=repo.private,
            exist_ok=True,
            space_sdk="gradio" if repo.repo_type == "space" else None,
        )
        if api.repo_info(repo.repo_id, repo_type=repo.repo_type).private != repo.private:
            api.update_repo_settings(repo.repo_id, private=repo.private, repo_type=repo.repo_type)
        say(repo.label)

    links = CardLinks(plan.hub, plan.leaderboard.repo_id, plan.results.repo_id, plan.queue.repo_id)
    truth = load_truth(config.evaluator.truth, config.benchmark)
    cards = {
        plan.results: results_card(
            config.benchmark,
            links,
            fingerprint(truth, config.benchmark.id_column),
            license=config.benchmark.license,
            # the salted commitment to the test set; the salt stays in the benchmark folder
            extra_lines=card_lines(
                commit_for_deploy(truth, config.source.parent, config.benchmark.id_column)
            ),
        ),
        plan.queue: queue_card(config.benchmark, links),
    }
    for repo, card in cards.items():
        api.create_commit(
            repo.repo_id,
            [CommitOperationAdd("README.md", card.encode("utf-8"))],
            commit_message="Dataset card (heldout deploy)",
            repo_type=repo.repo_type,
        )
        say(f"wrote the dataset card of {repo.repo_id}")

    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp) / "dist")
        say(f"built {wheel.name}")
        for space in plan.spaces:
            assert space.folder is not None
            api.upload_folder(
                repo_id=space.repo_id,
                repo_type="space",
                folder_path=stage_space(space.folder, plan, wheel, Path(tmp)),
                commit_message="Deploy with heldout",
                delete_patterns=[f"{WHEEL_DIR}/*.whl"],
            )
            say(f"uploaded {space.folder.name}/ to {space.repo_id}")

    secrets: dict[str, dict[str, str]] = {s.repo_id: {"HF_TOKEN": token} for s in plan.spaces}
    try:
        hook = ensure_webhook(api, plan.queue.repo_id, plan.webhook_url)
        secrets[plan.evaluator.repo_id][WEBHOOK_SECRET_ENV] = hook.secret
        say(f"webhook {hook.id}: commits to {plan.queue.repo_id} -> {plan.webhook_url}")
    except Exception as exc:  # the token may not manage webhooks; polling still works
        say(
            f"could not create the webhook ({type(exc).__name__}); the evaluator will poll. "
            "Fix: use a token that may manage webhooks and deploy again"
        )
    for space_id, values in secrets.items():
        try:
            for key, value in values.items():
                api.add_space_secret(space_id, key, value)
            say(f"set the secret(s) {', '.join(values)} on {space_id}")
        except Exception:  # the Hub may refuse (permissions); the maintainer can set it by hand
            say(f"could not set secrets on {space_id}: add {', '.join(values)} in its settings")
