"""heldout.toml, read once into one typed, frozen object.

Every setting of every part lives here, so no module keeps its own constants. A
missing, mistyped, unknown or contradictory setting is a `ConfigError` at start that
names the key, never a surprise later.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from heldout.errors import ConfigError


@dataclass(frozen=True)
class BenchmarkConfig:
    """What the benchmark is. Everything here is public and the leaderboard may show it."""

    name: str
    primary_metric: str
    higher_is_better: bool = True
    metrics: tuple[str, ...] = ()
    description: str = ""
    id_column: str = "id"
    prediction_column: str = "prediction"
    labels: tuple[str, ...] = ()
    public_ids: Path | None = None
    example_predictions: Path | None = None
    citation: str = ""
    license: str = "cc-by-4.0"  # the results dataset's license (a Hub license id)
    # The share of test items `heldout init` puts in the public split (the rest is private).
    public_fraction: float = 0.5

    @property
    def all_metrics(self) -> tuple[str, ...]:
        """Every metric the scorer reports; the primary one always among them."""
        return self.metrics or (self.primary_metric,)


@dataclass(frozen=True)
class StorageConfig:
    """Where the queue and the results live: a local folder, or two Hub dataset repos."""

    backend: Literal["local", "hub"] = "local"
    root: Path | None = None
    queue_repo: str | None = None
    results_repo: str | None = None
    token_env: str = "HF_TOKEN"
    endpoint: str | None = None
    retry_seconds: float = 60.0
    http_timeout_seconds: float = 60.0
    # The Hub's free tier; the process-wide rate governor shows spending against these.
    api_calls_per_5min: int = 1000
    downloads_per_5min: int = 5000
    commits_per_hour: int = 128

    def token(self) -> str | None:
        """Read at call time, from the environment only, so it is never written anywhere."""
        return os.environ.get(self.token_env) or None


@dataclass(frozen=True)
class LimitsConfig:
    submissions_per_day: int = 5
    max_file_mb: float = 20.0
    formats: tuple[str, ...] = ("csv", "jsonl", "parquet")
    max_model_name: int = 100
    refusals_per_hour: int = 20  # refused files per account per hour, then a wait
    uploads_per_hour: int = 30  # files per signed-in account per hour
    upload_mb_per_hour: float | None = None  # per account; default 5 x max_file_mb
    upload_folder_mb: float | None = None  # all uploads kept; default 50 x max_file_mb
    # "everyone", or "gated:NS/DATASET": only accounts whose access request to that gated
    # dataset was accepted may submit.
    participants: str = "everyone"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def upload_bytes_per_hour(self) -> int:
        mb = (
            self.upload_mb_per_hour if self.upload_mb_per_hour is not None else 5 * self.max_file_mb
        )
        return int(mb * 1024 * 1024)

    @property
    def upload_folder_bytes(self) -> int:
        mb = self.upload_folder_mb if self.upload_folder_mb is not None else 50 * self.max_file_mb
        return int(mb * 1024 * 1024)


@dataclass(frozen=True)
class QueueConfig:
    lease_seconds: float = 300.0
    max_attempts: int = 3
    claim_batch: int = 8


@dataclass(frozen=True)
class ReviewConfig:
    reviewers: tuple[str, ...] = ()
    flag_accounts: tuple[str, ...] = ()
    flag_shared_files: bool = True
    score_threshold: float | None = None
    max_jump: float | None = None
    # "ladder": a submitter's shown score changes only on a significant gain (Blum & Hardt)
    release: Literal["all", "ladder"] = "all"
    band_level: float = 0.05  # tied bands (Holm-corrected); the Ladder's total, spent per k
    band_rows: int = 20  # the top rows of the board that get tied bands


@dataclass(frozen=True)
class EvaluatorConfig:
    """Private: only the evaluator's own heldout.toml has this section."""

    scorer: str
    truth: Path
    code_dir: Path | None = None  # put on the import path for the scorer; default: config folder
    poll_seconds: float = 2.0  # the fastest poll, while work is flowing
    score_timeout_seconds: float = 600.0
    webhook_secret_env: str | None = None
    idle_poll_seconds: float = 30.0  # polls slow down to this when the queue is idle
    webhook_poll_seconds: float = 300.0  # ... or to this when a webhook wakes the worker
    direct_seconds: float = 20.0  # score before claiming when a batch takes less; 0: always lease


@dataclass(frozen=True)
class LeaderboardConfig:
    cache_seconds: float = 5.0
    refresh_seconds: float = 10.0
    port: int = 7860
    public_url: str = ""  # e.g. https://board.example.org; pages from it may call the board


@dataclass(frozen=True)
class PhasesConfig:
    """A competition's timeline, in UTC. No `start`/`end`: submissions are always open."""

    start: datetime | None = None
    end: datetime | None = None
    reveal_at: datetime | None = None
    late: bool = False  # after `end`, accept submissions on a separate post-deadline board
    select_max: int = 2  # submissions each submitter may mark as their final choice


@dataclass(frozen=True)
class Config:
    benchmark: BenchmarkConfig
    storage: StorageConfig = field(default_factory=StorageConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    leaderboard: LeaderboardConfig = field(default_factory=LeaderboardConfig)
    evaluator: EvaluatorConfig | None = None
    phases: PhasesConfig = field(default_factory=PhasesConfig)
    source: Path | None = None

    def __post_init__(self) -> None:
        _check(self)


_SECTIONS: dict[str, type] = {
    "benchmark": BenchmarkConfig,
    "storage": StorageConfig,
    "limits": LimitsConfig,
    "queue": QueueConfig,
    "review": ReviewConfig,
    "evaluator": EvaluatorConfig,
    "leaderboard": LeaderboardConfig,
    "phases": PhasesConfig,
}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read heldout.toml. Relative paths in it are relative to its own folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
    return config_from_dict(raw, base_dir=path.parent.resolve(), source=path.resolve())


def config_from_dict(
    raw: dict[str, Any], base_dir: Path | None = None, source: Path | None = None
) -> Config:
    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}] in heldout.toml")
    if "benchmark" not in raw:
        raise ConfigError("missing section [benchmark]")
    base = base_dir or Path.cwd()
    built = {
        name: _build(cls, raw[name], name, base) for name, cls in _SECTIONS.items() if name in raw
    }
    return Config(**built, source=source)


def _build(cls: type, table: Any, section: str, base: Path) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in names:
            raise ConfigError(f"unknown key {section}.{key}")
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{section}.{f.name}"
        if f.name in table:
            values[f.name] = _coerce(table[f.name], hints[f.name], key, base)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing setting {key}")
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str, base: Path) -> Any:
    """Check one value against its annotation; resolve paths against the config's folder."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, options[0], key, base)
    if origin is Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(a) for a in typing.get_args(hint))
            raise ConfigError(f"{key} must be one of {allowed}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of strings")
        return tuple(value)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key} must be a path")
        return (base / value).resolve()
    if hint is datetime:
        return parse_moment(value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string")
        return value
    raise ConfigError(f"{key} has a type heldout cannot read")  # pragma: no cover


def parse_moment(value: Any, key: str) -> datetime:
    """A TOML date-time or an ISO 8601 string; an offset is required, or it is UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise ConfigError(f"{key} must be a date and time such as 2026-12-01T00:00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _check(config: Config) -> None:
    """Rules that span several keys."""
    b = config.benchmark
    if b.metrics and b.primary_metric not in b.metrics:
        raise ConfigError("benchmark.primary_metric must be one of benchmark.metrics")
    for metric in b.all_metrics:
        if not metric.isidentifier():
            raise ConfigError(f"benchmark.metrics: {metric!r} must be a plain identifier")
    s = config.storage
    if s.backend == "local" and s.root is None:
        raise ConfigError("storage.root is required when storage.backend is 'local'")
    if s.backend == "hub":
        for key in ("queue_repo", "results_repo"):
            if not getattr(s, key):
                raise ConfigError(f"storage.{key} is required when storage.backend is 'hub'")
        if s.queue_repo == s.results_repo:
            raise ConfigError("storage.queue_repo and storage.results_repo must differ")
    if s.retry_seconds <= 0 or s.http_timeout_seconds <= 0:
        raise ConfigError("storage.retry_seconds and storage.http_timeout_seconds must be positive")
    for key in ("api_calls_per_5min", "downloads_per_5min", "commits_per_hour"):
        if getattr(s, key) < 1:
            raise ConfigError(f"storage.{key} must be at least 1")
    lim = config.limits
    if lim.submissions_per_day < 1:
        raise ConfigError("limits.submissions_per_day must be at least 1")
    if lim.max_file_mb <= 0:
        raise ConfigError("limits.max_file_mb must be positive")
    if min(lim.refusals_per_hour, lim.uploads_per_hour) < 1:
        raise ConfigError("limits.refusals_per_hour and limits.uploads_per_hour must be at least 1")
    if lim.upload_bytes_per_hour < lim.max_file_bytes:
        raise ConfigError("limits.upload_mb_per_hour must be at least limits.max_file_mb")
    if lim.upload_folder_bytes < lim.upload_bytes_per_hour:
        raise ConfigError("limits.upload_folder_mb must be at least limits.upload_mb_per_hour")
    bad = set(lim.formats) - {"csv", "jsonl", "parquet"}
    if bad or not lim.formats:
        raise ConfigError("limits.formats must list some of 'csv', 'jsonl', 'parquet'")
    q = config.queue
    if q.lease_seconds <= 0:
        raise ConfigError("queue.lease_seconds must be positive")
    if q.max_attempts < 1:
        raise ConfigError("queue.max_attempts must be at least 1")
    if q.claim_batch < 1:
        raise ConfigError("queue.claim_batch must be at least 1")
    r = config.review
    if r.max_jump is not None and r.max_jump <= 0:
        raise ConfigError("review.max_jump must be positive")
    if not 0 < r.band_level < 0.5:
        raise ConfigError("review.band_level must be between 0 and 0.5 (0.05 is usual)")
    if not 2 <= r.band_rows <= 200:
        raise ConfigError("review.band_rows must be between 2 and 200")
    if not 0.0 < b.public_fraction < 1.0:
        raise ConfigError("benchmark.public_fraction must be between 0 and 1")
    who = lim.participants
    if who != "everyone" and not (who.startswith("gated:") and who.count("/") == 1):
        raise ConfigError('limits.participants must be "everyone" or "gated:NS/DATASET"')
    p = config.phases
    if p.select_max < 1:
        raise ConfigError("phases.select_max must be at least 1")
    if p.start and p.end and p.end <= p.start:
        raise ConfigError("phases.end must be after phases.start")
    if p.reveal_at and p.end and p.reveal_at < p.end:
        raise ConfigError("phases.reveal_at must not be before phases.end")
    if p.late and p.end is None:
        raise ConfigError("phases.late needs phases.end")
    if config.evaluator is not None and ":" not in config.evaluator.scorer:
        raise ConfigError("evaluator.scorer must look like 'module:function'")
    if config.evaluator is not None:
        ev = config.evaluator
        for name in ("poll_seconds", "idle_poll_seconds", "webhook_poll_seconds"):
            if getattr(ev, name) <= 0:
                raise ConfigError(f"evaluator.{name} must be positive")
        if ev.direct_seconds < 0:
            raise ConfigError("evaluator.direct_seconds must not be negative")
