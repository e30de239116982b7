"""The evaluator's side of scoring: load the scorer and the private test set, call the
scorer, and refuse a result that could not be published.

A scorer is the benchmark's own code, `score(predictions, truth) -> {metric: float}`.
Whatever goes wrong inside it is the evaluator's fault, never the submitter's, so it
becomes a `ScorerError` that the submitter only sees as a generic sentence.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson

from heldout import commitment
from heldout.config import BenchmarkConfig
from heldout.errors import ConfigError, HeldoutError, InvalidPredictions, ScorerError
from heldout.queue.splits import PUBLIC, SPLIT_COLUMN, SPLITS, SplitScore, from_metrics

Scorer = Callable[[pd.DataFrame, pd.DataFrame], Mapping[str, float]]


def load_scorer(spec: str, code_dir: str | os.PathLike[str] | None = None) -> Scorer:
    """Resolve "module:function" (or "path/to/file.py:function") to a callable.

    `code_dir` is put on the import path while the module is imported, so a benchmark's
    own scorer.py next to its heldout.toml is found without installing it.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ScorerError(f"scorer {spec!r} must look like 'module:function'")
    try:
        local = Path(code_dir or ".") / (module_name.replace(".", "/") + ".py")
        with _on_path(code_dir):
            if module_name.endswith(".py"):
                module = _import_file(Path(code_dir or ".") / module_name)
            elif code_dir is not None and local.is_file():
                # Loaded from its file each time, so an edited scorer.py is seen, and a
                # benchmark's "scorer" can't be confused with a module of that name
                # already imported.
                module = _import_file(local)
            else:
                module = importlib.import_module(module_name)
    except Exception as exc:
        raise ScorerError(
            f"cannot import the scorer {spec!r}: {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ScorerError(f"the scorer {spec!r}: {module_name!r} has no {attr!r}")
    if not callable(target):
        raise ScorerError(f"the scorer {spec!r} is not a function")
    return target


def load_truth(path: str | os.PathLike[str], benchmark: BenchmarkConfig) -> pd.DataFrame:
    """Read the private test set (parquet, csv or jsonl), ids as str, each id once."""
    path = Path(path)
    suffix = path.suffix.lower()
    id_column = benchmark.id_column
    try:
        if suffix == ".parquet":
            truth = pd.read_parquet(path)
        elif suffix == ".csv":
            truth = pd.read_csv(path, dtype={id_column: "str"}, keep_default_na=False)
        elif suffix == ".jsonl":
            truth = pjson.read_json(path).to_pandas()
        else:
            raise ConfigError(f"evaluator.truth must be .parquet, .csv or .jsonl, not {suffix!r}")
    except HeldoutError:
        raise
    except FileNotFoundError:
        raise ConfigError(f"evaluator.truth: no file at {path}") from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConfigError(f"evaluator.truth: cannot read {path}: {exc}") from None
    if id_column not in truth.columns:
        raise ConfigError(f"evaluator.truth has no id column {id_column!r}")
    ids = truth[id_column]
    if len(truth) == 0 or ids.isna().any() or not ids.is_unique:
        raise ConfigError("evaluator.truth must be non-empty, with one unique id per row")
    truth[id_column] = ids.astype("str")
    if SPLIT_COLUMN in truth.columns:
        parts = set(truth[SPLIT_COLUMN].astype("str").unique())
        if parts != set(SPLITS):
            raise ConfigError(
                f"evaluator.truth: the {SPLIT_COLUMN!r} column must hold both 'public' and "
                f"'private' and nothing else; it holds {sorted(parts)}"
            )
        truth[SPLIT_COLUMN] = truth[SPLIT_COLUMN].astype("str")
    return truth.reset_index(drop=True)


@dataclass(frozen=True)
class SplitResult:
    """What one scoring pass yields: the scores the board ranks by (the public split's,
    or the whole set's when there is no split) and every split's scores."""

    scores: dict[str, float]
    split_scores: tuple[SplitScore, ...] = ()


def score_splits(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    scorer: Scorer,
    benchmark: BenchmarkConfig,
) -> SplitResult:
    """Score every split of the test set in one pass over one validated file.

    A test set with no `split` column is scored whole, as before. With one, the scorer
    runs once per split on that split's rows; the public split's scores become the
    entry's `scores` (the live board's), the private ones stay in `split_scores`.
    """
    if SPLIT_COLUMN not in truth.columns:
        return SplitResult(score_predictions(predictions, truth, scorer, benchmark))
    aligned = align(predictions, truth, benchmark.id_column)
    same_order = len(aligned) == len(truth) and aligned[benchmark.id_column].astype(
        "str"
    ).reset_index(drop=True).equals(truth[benchmark.id_column].reset_index(drop=True))
    found: list[SplitScore] = []
    metrics: dict[str, dict[str, float]] = {}
    for part in SPLITS:
        mask = (truth[SPLIT_COLUMN] == part).to_numpy()
        part_truth = truth[mask].drop(columns=[SPLIT_COLUMN]).reset_index(drop=True)
        if same_order:
            part_predictions = aligned[mask].reset_index(drop=True)
        else:
            wanted = (
                aligned[benchmark.id_column].astype("str").isin(part_truth[benchmark.id_column])
            )
            part_predictions = aligned[wanted.to_numpy()].reset_index(drop=True)
        metrics[part] = score_predictions(part_predictions, part_truth, scorer, benchmark)
        found.extend(from_metrics(part, metrics[part]))
    return SplitResult(metrics[PUBLIC], tuple(found))


def score_predictions(
    predictions: pd.DataFrame,
    truth: pd.DataFrame,
    scorer: Scorer,
    benchmark: BenchmarkConfig,
) -> dict[str, float]:
    """Call the scorer on validated predictions and check what it returns.

    The predictions are first put in the truth's row order when they cover the same
    ids (`check_ids` made sure of it), so a scorer's own alignment by id is cheap.
    Both frames are passed as copies: pandas copy-on-write makes that free, and a
    scorer that edits them cannot corrupt the test set kept for the next job.
    """
    aligned = align(predictions, truth, benchmark.id_column)
    return check_result(call_scorer(scorer, aligned, truth, "the scorer"), benchmark)


def call_scorer(
    fn: Callable[..., Any], aligned: pd.DataFrame, truth: pd.DataFrame, what: str
) -> Any:
    """Call one of the maintainer's functions (the scorer, its `per_example`) on copies
    of both frames. What it raises is the evaluator's fault (`ScorerError`), never the
    submitter's, except a refusal of the file it makes on purpose."""
    try:
        return fn(aligned.copy(deep=False), truth.copy(deep=False))
    except (InvalidPredictions, ScorerError):
        raise
    except Exception as exc:
        raise ScorerError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def check_result(result: object, benchmark: BenchmarkConfig) -> dict[str, float]:
    """A dict of metric name to finite float, holding every declared metric."""
    if not isinstance(result, Mapping):
        raise ScorerError(
            f"the scorer returned {type(result).__name__}, not a dict of metric names to numbers"
        )
    metrics: dict[str, float] = {}
    for name, value in result.items():
        if not isinstance(name, str) or not name:
            raise ScorerError(f"the scorer returned a metric named {name!r}; names must be text")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ScorerError(f"the scorer's metric {name!r} is {value!r}, not a number")
        if not math.isfinite(number := float(value)):
            raise ScorerError(f"the scorer's metric {name!r} is {number}, not a finite number")
        metrics[name] = number
    absent = [m for m in benchmark.all_metrics if m not in metrics]
    if absent:
        raise ScorerError(
            f"the scorer's result lacks the declared metric(s) {absent}; it has {sorted(metrics)}"
        )
    return metrics


def fingerprint(truth: pd.DataFrame, id_column: str = "id") -> str:
    """sha256 of the test set in a canonical form, recorded with every result.

    Canonical (see `heldout.commitment`): rows sorted by id, columns by name, each column
    serialised as JSON (so no separator can be faked by a value). Row order, column
    order and the index do not change it; any changed value, id or column does.
    """
    return commitment.fingerprint(truth, id_column)


def align(predictions: pd.DataFrame, truth: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Reorder predictions to the truth's order when both hold the same ids; else as is."""
    if id_column not in predictions.columns or len(predictions) != len(truth):
        return predictions
    ids, wanted = _strings(predictions[id_column]), _strings(truth[id_column])
    if pc.all(pc.equal(ids, wanted)).as_py():
        return predictions.reset_index(drop=True)
    positions = pc.index_in(wanted, value_set=ids)
    if positions.null_count:
        return predictions
    return predictions.iloc[positions.to_numpy()].reset_index(drop=True)


def _strings(values: pd.Series) -> pa.Array:
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else array.cast(pa.string())


@contextmanager
def _on_path(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    entry = str(Path(folder).resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)


def _import_file(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"heldout_scorer_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no Python file at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
