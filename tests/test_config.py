"""heldout.toml: every bad setting is named at start, and a good one reads as typed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from heldout.config import config_from_dict, load_config
from heldout.errors import ConfigError

BASE = {"benchmark": {"name": "b", "primary_metric": "acc"}, "storage": {"root": "data"}}


def with_(section: str, **values: object) -> dict:
    raw = {k: dict(v) for k, v in BASE.items()}
    raw.setdefault(section, {}).update(values)
    return raw


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "heldout.toml").write_text(
        '[benchmark]\nname = "b"\nprimary_metric = "acc"\npublic_ids = "public/ids.txt"\n'
        '[storage]\nroot = "data"\n'
    )
    config = load_config(tmp_path / "heldout.toml")
    assert config.storage.root == tmp_path / "data"
    assert config.benchmark.public_ids == tmp_path / "public" / "ids.txt"
    assert config.evaluator is None
    assert config.benchmark.all_metrics == ("acc",)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"storage": {"root": "d"}}, "missing section [benchmark]"),
        (
            {"benchmark": {"name": "b"}, "storage": {"root": "d"}},
            "missing setting benchmark.primary_metric",
        ),
        (with_("benchmark", primary_metirc="x"), "unknown key benchmark.primary_metirc"),
        ({**BASE, "storag": {}}, "unknown section [storag]"),
        (
            with_("limits", submissions_per_day="5"),
            "limits.submissions_per_day must be a whole number",
        ),
        (with_("limits", submissions_per_day=0), "limits.submissions_per_day must be at least 1"),
        (with_("limits", formats=["xlsx"]), "limits.formats"),
        (with_("storage", backend="s3"), "storage.backend must be one of"),
        (with_("storage", backend="hub"), "storage.queue_repo is required"),
        (
            with_("storage", backend="hub", queue_repo="a/q", results_repo="a/q"),
            "storage.queue_repo and storage.results_repo must differ",
        ),
        (
            {"benchmark": BASE["benchmark"], "storage": {"backend": "local"}},
            "storage.root is required",
        ),
        (
            with_("benchmark", metrics=["f1"]),
            "benchmark.primary_metric must be one of benchmark.metrics",
        ),
        (with_("benchmark", metrics=["acc", "f-1"]), "must be a plain identifier"),
        (with_("review", reviewers="alice"), "review.reviewers must be a list of strings"),
        (with_("queue", lease_seconds=-1), "queue.lease_seconds must be positive"),
        (with_("storage", http_timeout_seconds=0), "storage.http_timeout_seconds must be positive"),
        (with_("storage", commits_per_hour=0), "storage.commits_per_hour must be at least 1"),
        (with_("storage", api_calls_per_5min=1.5), "storage.api_calls_per_5min must be a whole"),
        (with_("storage", downloads_per_5min="many"), "storage.downloads_per_5min must be a whole"),
        (with_("storage", api_calls_per_5mins=10), "unknown key storage.api_calls_per_5mins"),
        (
            with_("evaluator", scorer="no_colon", truth="t.parquet"),
            "evaluator.scorer must look like",
        ),
        (with_("evaluator", scorer="m:f"), "missing setting evaluator.truth"),
        (with_("review", release="best"), "review.release must be one of 'all', 'ladder'"),
        (with_("review", band_level=0.5), "review.band_level must be between 0 and 0.5"),
        (with_("review", band_level=0), "review.band_level must be between 0 and 0.5"),
        (with_("review", band_rows=1), "review.band_rows must be between 2 and 200"),
        (
            with_("evaluator", scorer="m:f", truth="t.parquet", idle_poll_seconds=0),
            "evaluator.idle_poll_seconds must be positive",
        ),
        (
            with_("evaluator", scorer="m:f", truth="t.parquet", direct_seconds=-1),
            "evaluator.direct_seconds must not be negative",
        ),
    ],
)
def test_bad_settings_are_named(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    assert message in str(info.value)


def test_the_release_rule_and_band_level_have_defaults_and_can_be_set() -> None:
    config = config_from_dict(BASE)
    assert (config.review.release, config.review.band_level, config.review.band_rows) == (
        "all",
        0.05,
        20,
    )
    config = config_from_dict(with_("review", release="ladder", band_level=0.01))
    assert (config.review.release, config.review.band_level) == ("ladder", 0.01)


def test_unreadable_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file at"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[benchmark\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_the_token_is_read_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_from_dict(
        with_("storage", backend="hub", queue_repo="a/q", results_repo="a/r", root="x")
    )
    monkeypatch.setenv("HF_TOKEN", "hf_test_alice")
    assert config.storage.token() == "hf_test_alice"
    assert "hf_test_alice" not in repr(config)


def test_upload_and_refusal_limits_default_from_the_file_size() -> None:
    limits = config_from_dict(with_("limits", max_file_mb=2)).limits
    assert limits.upload_bytes_per_hour == 10 * 2**20
    assert limits.upload_folder_bytes == 100 * 2**20
    assert (limits.uploads_per_hour, limits.refusals_per_hour) == (30, 20)
    with pytest.raises(ConfigError, match="limits.upload_mb_per_hour must be at least"):
        config_from_dict(with_("limits", max_file_mb=2, upload_mb_per_hour=1))
    with pytest.raises(ConfigError, match="limits.upload_folder_mb must be at least"):
        config_from_dict(with_("limits", upload_mb_per_hour=30, upload_folder_mb=20))
    with pytest.raises(ConfigError, match="must be at least 1"):
        config_from_dict(with_("limits", refusals_per_hour=0))


def test_rate_limits_default_to_the_hubs_free_tier_and_reach_the_governor() -> None:
    from heldout.queue.backends import open_stores
    from heldout.queue.governor import governor, reset_governor

    hub = with_("storage", backend="hub", queue_repo="a/q", results_repo="a/r", root="x")
    s = config_from_dict(hub).storage
    assert (s.api_calls_per_5min, s.downloads_per_5min, s.commits_per_hour) == (1000, 5000, 128)
    hub["storage"].update(api_calls_per_5min=2500, downloads_per_5min=12000, commits_per_hour=64)
    try:
        open_stores(config_from_dict(hub))  # opening does not touch the network
        budget = governor().snapshot()
        assert (budget.api_limit_5min, budget.downloads_limit_5min) == (2500, 12000)
        assert budget.commits_limit_hour == 64
    finally:
        from heldout.queue.governor import Limits

        reset_governor(Limits())
