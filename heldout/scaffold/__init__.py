"""`heldout init`: write a ready benchmark folder.

The folder works at once on the local backend, and holds the two Space folders to
deploy. The sample truth goes only under `evaluator/`, where the evaluator reads it:
nothing in `leaderboard/` or in the leaderboard's config can reach it.
"""

from __future__ import annotations

import inspect
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template

from heldout.errors import HeldoutError

_HERE = Path(__file__).parent
PUBLIC_LINES = """# The public list of test ids, never the labels: uploads are checked against it.
public_ids = "public/test_ids.txt"
# A file people can download from the About tab to see the format.
example_predictions = "public/sample_predictions.csv"
"""
LOCAL_STORAGE = '# The folder that holds the queue and the results.\nroot = "data"'
HUB_STORAGE = """# Private: submissions and their status.
queue_repo = "{ns}/{slug}-queue"
# Public: the scores the board shows.
results_repo = "{ns}/{slug}-results\""""
PLACEHOLDER_NS = "YOUR-NAME"


@dataclass(frozen=True)
class BenchmarkFolder:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "heldout.toml"

    @property
    def leaderboard(self) -> Path:
        return self.root / "leaderboard"

    @property
    def evaluator(self) -> Path:
        return self.root / "evaluator"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (slug or "benchmark")[:40]


def _template(template_file: str, **values: str) -> str:
    return Template((_HERE / template_file).read_text(encoding="utf-8")).substitute(values)


def render_config(
    *,
    name: str,
    backend: str,
    public: bool,
    evaluator: dict[str, str] | None,
    reviewers: list[str],
    namespace: str = PLACEHOLDER_NS,
) -> str:
    storage = (
        LOCAL_STORAGE
        if backend == "local"
        else HUB_STORAGE.format(ns=namespace, slug=slugify(name))
    )
    section = _template("evaluator_section.tmpl", **evaluator) if evaluator else ""
    return _template(
        "heldout.toml.tmpl",
        name=name.replace('"', "'"),
        backend=backend,
        storage_lines=storage,
        public_lines=PUBLIC_LINES if public else "",
        reviewers=", ".join(f'"{r}"' for r in reviewers),
        evaluator_section=section,
    )


def init_benchmark(
    dest: Path,
    *,
    name: str = "Review sentiment",
    reviewers: tuple[str, ...] = ("your-hf-username",),
    poll_seconds: float = 2.0,
    n_items: int = 2000,
    public_fraction: float = 0.5,
) -> BenchmarkFolder:
    """Write the benchmark folder. Refuses to overwrite an existing heldout.toml."""
    from heldout.example import scorer as example_scorer
    from heldout.example.generate import write_benchmark

    folder = BenchmarkFolder(Path(dest))
    if folder.config.exists():
        raise HeldoutError(f"{folder.config} already exists; choose an empty folder")
    folder.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_benchmark(Path(tmp), n=n_items, public_fraction=public_fraction)
        _place(Path(tmp) / "private", folder.evaluator / "private")
        _place(Path(tmp) / "public", folder.root / "public")
        _place(Path(tmp) / "public", folder.leaderboard / "public")
    scorer_source = inspect.getsource(example_scorer)
    (folder.evaluator / "scorer.py").write_text(scorer_source, encoding="utf-8")
    people = list(reviewers)
    poll = f"{poll_seconds:g}"
    folder.config.write_text(
        render_config(
            name=name,
            backend="local",
            public=True,
            reviewers=people,
            evaluator={
                "code_dir": "evaluator",
                "truth": "evaluator/private/truth.parquet",
                "poll_seconds": poll,
            },
        ),
        encoding="utf-8",
    )
    _write_spaces(folder, name, people, poll)
    return folder


def _place(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        shutil.copy2(item, dst / item.name)


def _write_spaces(folder: BenchmarkFolder, name: str, reviewers: list[str], poll: str) -> None:
    board, evaluator = folder.leaderboard, folder.evaluator
    (board / "heldout.toml").write_text(
        render_config(name=name, backend="hub", public=True, evaluator=None, reviewers=reviewers),
        encoding="utf-8",
    )
    (evaluator / "heldout.toml").write_text(
        render_config(
            name=name,
            backend="hub",
            public=False,
            reviewers=reviewers,
            evaluator={"code_dir": ".", "truth": "private/truth.parquet", "poll_seconds": poll},
        ),
        encoding="utf-8",
    )
    for space, kind in ((board, "leaderboard"), (evaluator, "evaluator")):
        shutil.copy2(_HERE / f"{kind}_app.py.tmpl", space / "app.py")
        (space / "requirements.txt").write_text("heldout>=0.1\n", encoding="utf-8")
    (board / "README.md").write_text(
        _template(
            "space_readme.tmpl",
            title=f"{name} leaderboard",
            extra_metadata="hf_oauth: true\nhf_oauth_scopes:\n  - openid\n  - profile",
            body="The public leaderboard of this benchmark. Sign in with Hugging Face to submit.",
        ),
        encoding="utf-8",
    )
    (evaluator / "README.md").write_text(
        _template(
            "space_readme.tmpl",
            title=f"{name} evaluator",
            extra_metadata="",
            body="The private evaluator. Keep this Space private: it holds the test set.",
        ),
        encoding="utf-8",
    )
