"""`heldout deploy`: two datasets and two Spaces on the Hub, with the right visibility.

Planning (which repos, which privacy) is pure and kept apart from the calls, so it can
be read and tested without a network.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from heldout.config import Config
from heldout.errors import HeldoutError
from heldout.scaffold import PLACEHOLDER_NS, slugify


@dataclass(frozen=True)
class RepoPlan:
    repo_id: str
    repo_type: str  # "dataset" or "space"
    private: bool
    folder: Path | None = None  # uploaded as the repo's content


@dataclass(frozen=True)
class DeployPlan:
    namespace: str
    queue: RepoPlan
    results: RepoPlan
    leaderboard: RepoPlan
    evaluator: RepoPlan

    @property
    def repos(self) -> tuple[RepoPlan, ...]:
        return (self.queue, self.results, self.leaderboard, self.evaluator)


def plan_deploy(config: Config, namespace: str) -> DeployPlan:
    if config.source is None:
        raise HeldoutError("deploy needs a heldout.toml on disk, next to its Space folders")
    root = config.source.parent
    for name in ("leaderboard", "evaluator"):
        if not (root / name / "heldout.toml").is_file():
            raise HeldoutError(
                f"no {name}/heldout.toml next to the config; run `heldout init` first"
            )
    slug = slugify(config.benchmark.name)
    return DeployPlan(
        namespace=namespace,
        queue=RepoPlan(f"{namespace}/{slug}-queue", "dataset", private=True),
        results=RepoPlan(f"{namespace}/{slug}-results", "dataset", private=False),
        leaderboard=RepoPlan(
            f"{namespace}/{slug}-leaderboard", "space", False, root / "leaderboard"
        ),
        evaluator=RepoPlan(f"{namespace}/{slug}-evaluator", "space", True, root / "evaluator"),
    )


def _staged(folder: Path, namespace: str, tmp: Path) -> Path:
    """A copy of a Space folder with the placeholder namespace filled in."""
    staged = tmp / folder.name
    shutil.copytree(folder, staged, ignore=shutil.ignore_patterns("__pycache__", "data"))
    config = staged / "heldout.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(PLACEHOLDER_NS, namespace))
    return staged


def deploy(
    plan: DeployPlan, token: str, endpoint: str | None, say: Callable[[str], None] = print
) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    with tempfile.TemporaryDirectory() as tmp:
        for repo in plan.repos:
            api.create_repo(
                repo.repo_id,
                repo_type=repo.repo_type,
                private=repo.private,
                exist_ok=True,
                space_sdk="gradio" if repo.repo_type == "space" else None,
            )
            say(f"{repo.repo_type:<8} {repo.repo_id}  ({'private' if repo.private else 'public'})")
            if repo.folder is not None:
                api.upload_folder(
                    repo_id=repo.repo_id,
                    repo_type=repo.repo_type,
                    folder_path=_staged(repo.folder, plan.namespace, Path(tmp)),
                    commit_message="Deploy with heldout",
                )
    for space in (plan.leaderboard, plan.evaluator):
        try:
            api.add_space_secret(space.repo_id, "HF_TOKEN", token)
            say(f"set the secret HF_TOKEN on {space.repo_id}")
        except Exception:  # the Hub may refuse (permissions); the maintainer can set it by hand
            say(f"could not set secrets on {space.repo_id}: add HF_TOKEN in its settings by hand")
