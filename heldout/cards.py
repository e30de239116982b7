"""Dataset cards (README.md) for the results and queue repos.

The results card's YAML front matter is what the Hub's viewer and
`datasets.load_dataset("ns/name")` read: `configs` points at the parquet buckets the
evaluator writes (`data/part-*.parquet`), so a freshly deployed, still empty repo and a
busy one load the same way. The body says what each column means, links the
leaderboard Space, and names the test set's fingerprint, so anyone can check which
test set a score came from.

Pure: text in, text out. Other parts add lines to the results card through
`extra_lines` (for example a commitment to the test set), never by editing the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from heldout.config import BenchmarkConfig
from heldout.queue.results import DATA_FOLDER, results_schema

COLUMNS = {
    "job_id": "The submission's job id in the queue (time-sortable, never built from user text).",
    "model": "The model name the submitter gave.",
    "submitter": "The Hugging Face account that submitted (from sign-in only).",
    "description": "The submitter's short description.",
    "submitted_at": "When the file was submitted (UTC).",
    "finished_at": "When scoring finished (UTC).",
    "primary_metric": "The metric that ranks the leaderboard.",
    "primary_score": "The value of the primary metric.",
    "split_scores": "Scores per split of the test set, with intervals where computed.",
    "band": "Tied band on the live board (1 = top): rows of a band cannot be told apart.",
    "ci_method": "How the intervals in split_scores were computed (method, B, seed).",
    "predictions_sha256": "sha256 of the submitted predictions file.",
    "test_fingerprint": "sha256 fingerprint of the test set the score was computed on.",
    "evaluator_version": "The heldout version that scored it.",
    "schema_version": "Version of this table's schema.",
}


@dataclass(frozen=True)
class CardLinks:
    """Where the card points: the Hub's web address and the repos of this benchmark."""

    hub: str  # e.g. https://huggingface.co
    leaderboard_space: str
    results_repo: str
    queue_repo: str

    def space_url(self) -> str:
        return f"{self.hub.rstrip('/')}/spaces/{self.leaderboard_space}"


def _front_matter(meta: dict) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def results_card(
    benchmark: BenchmarkConfig,
    links: CardLinks,
    fingerprint: str,
    *,
    license: str = "cc-by-4.0",
    extra_lines: Sequence[str] = (),
) -> str:
    """The results repo's README. `extra_lines` go in the "Integrity" section, as given."""
    meta = {
        "license": license,
        "pretty_name": f"{benchmark.name} results",
        "tags": ["heldout", "leaderboard", "evaluation"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"{DATA_FOLDER}/part-*.parquet"}],
            }
        ],
    }
    metrics = {m: f"Metric `{m}` on the private test set." for m in benchmark.all_metrics}
    rows = [
        f"| `{field.name}` | {COLUMNS.get(field.name) or metrics.get(field.name, '')} |"
        for field in results_schema(benchmark)
    ]
    direction = "higher" if benchmark.higher_is_better else "lower"
    lines = [
        f"# {benchmark.name}: results",
        "",
        f"Scores of the submissions to the [{benchmark.name} leaderboard]({links.space_url()}), "
        "one row per scored submission, written by its private evaluator (heldout). Only aggregate scores are published; "
        "the test set stays private.",
        "",
        f"The board ranks by `{benchmark.primary_metric}` ({direction} is better).",
        "",
        "```python",
        "from datasets import load_dataset",
        f'results = load_dataset("{links.results_repo}")',
        "```",
        "",
        "## Columns",
        "",
        "| column | meaning |",
        "| --- | --- |",
        *rows,
        "",
        "## Integrity",
        "",
        f"Test-set fingerprint: `{fingerprint}`. Every row's `test_fingerprint` names the "
        "test set it was scored on; a different value means a different test set.",
        *extra_lines,
        "",
    ]
    return _front_matter(meta) + "\n" + "\n".join(lines)


def queue_card(benchmark: BenchmarkConfig, links: CardLinks) -> str:
    """The queue repo's README: private, and what it holds."""
    meta = {"pretty_name": f"{benchmark.name} submission queue", "tags": ["heldout"]}
    body = f"""# {benchmark.name}: submission queue (private)

This dataset is **private** and must stay private. It is the job queue of the
[{benchmark.name} leaderboard]({links.space_url()}): the leaderboard writes each
submission here and the evaluator claims and scores it. Public scores are in
[{links.results_repo}]({links.hub.rstrip("/")}/datasets/{links.results_repo}).

It holds:

- `queue/<STATUS>/<job_id>.json`: one entry per submission; the folder is its status
  (PENDING, RUNNING, FINISHED, FAILED, REVIEW);
- `predictions/<job_id>.<ext>`: the uploaded prediction files, written once;
- `users/<username>.json`: each submitter's jobs and daily quota.

Every change is one commit; do not edit files here by hand while the evaluator runs.
"""
    return _front_matter(meta) + "\n" + body
