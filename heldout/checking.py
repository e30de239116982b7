"""`heldout check`: prove a benchmark folder works before anyone submits to it.

It reads the config, imports the scorer, scores the sample predictions against the
sample truth, and says exactly what is wrong when something is.
"""

from __future__ import annotations

from pathlib import Path

from heldout.config import Config
from heldout.errors import ConfigError, HeldoutError


def _need_file(path: Path | None, key: str) -> Path:
    if path is None:
        raise ConfigError(f"{key} is not set")
    if not path.is_file():
        raise ConfigError(f"{key} points at {path}, which does not exist")
    return path


def check_benchmark(config: Config) -> list[str]:
    """Lines to print on success; a `HeldoutError` naming the problem otherwise."""
    from heldout.evaluator.scoring import fingerprint, load_scorer, load_truth, score_predictions
    from heldout.predictions import check_ids, detect_format, load_public_ids, read_predictions

    lines = [f"config: {config.source} is valid ({config.storage.backend} backend)"]
    if config.evaluator is None:
        raise ConfigError("this config has no [evaluator] section; check the maintainer's config")
    bench = config.benchmark
    ids_path = _need_file(bench.public_ids, "benchmark.public_ids")
    sample_path = _need_file(bench.example_predictions, "benchmark.example_predictions")
    truth_path = _need_file(config.evaluator.truth, "evaluator.truth")
    scorer = load_scorer(config.evaluator.scorer, code_dir=config.evaluator.code_dir)
    lines.append(f"scorer: {config.evaluator.scorer} imports")
    truth = load_truth(truth_path, bench)
    public_ids = load_public_ids(ids_path)
    truth_ids = set(truth[bench.id_column])
    if truth_ids != set(public_ids):
        raise HeldoutError(
            f"the public ids ({len(public_ids)}) and the truth's ids ({len(truth_ids)}) differ"
        )
    lines.append(f"test set: {len(truth)} items, fingerprint {fingerprint(truth)[:16]}…")
    content = sample_path.read_bytes()
    frame = read_predictions(
        content, detect_format(sample_path.name), bench, config.limits.max_file_bytes
    )
    check_ids(frame, public_ids)
    scores = score_predictions(frame, truth, scorer, bench)
    missing = [m for m in bench.all_metrics if m not in scores]
    if missing:
        raise HeldoutError(f"the scorer did not return the declared metric(s) {missing}")
    shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(scores.items()))
    lines.append(f"sample predictions ({sample_path.name}): {shown}")
    lines.append("ok: the benchmark is ready")
    return lines
