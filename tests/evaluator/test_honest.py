"""Intervals, tied bands and the Ladder, end to end through the queue and the worker."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from heldout.config import Config, load_config
from heldout.evaluator.worker import Worker
from heldout.example import LABELS
from heldout.example.generate import make_predictions
from heldout.leaderboard.ranking import board_table
from heldout.leaderboard.tables import mine_table
from heldout.queue.backends import open_queue
from heldout.queue.jobs import JobQueue
from heldout.queue.results import CI_METHOD
from heldout.queue.reveal import Reveal
from heldout.queue.splits import PUBLIC, metrics_of
from heldout.queue.submission import Submission
from heldout.scaffold import init_benchmark


def bench(root: Path, **review: str) -> tuple[Config, JobQueue, pd.DataFrame]:
    folder = init_benchmark(root, reviewers=("rita",), n_items=1200)
    text = folder.config.read_text()
    text = re.sub(r"submissions_per_day = \d+", "submissions_per_day = 100", text)
    extra = "".join(f'{k} = "{v}"\n' for k, v in review.items())
    folder.config.write_text(text.replace("[review]\n", "[review]\n" + extra))
    config = load_config(folder.config)
    return config, open_queue(config), pd.read_parquet(config.evaluator.truth)


def submit(
    queue: JobQueue, truth: pd.DataFrame, who: str, accuracy: float, seed: int, changed: int = 0
) -> str:
    """A model right `accuracy` of the time; `changed` of its first answers then rotated
    (so two submissions with one seed are near twins)."""
    frame = make_predictions(truth["id"], LABELS, accuracy, seed, truth=truth)
    rotate = {a: b for a, b in zip(LABELS, LABELS[1:] + LABELS[:1], strict=True)}
    frame.loc[: changed - 1, "prediction"] = frame.loc[: changed - 1, "prediction"].map(rotate)
    data = frame.to_csv(index=False).encode()
    return queue.submit(Submission(who, f"{who} {accuracy}", data, "csv")).job_id


def test_every_score_gets_its_interval_and_the_top_rows_their_bands(tmp_path: Path) -> None:
    config, queue, truth = bench(tmp_path / "b")
    jobs = {
        submit(queue, truth, "ann", 0.9, 1): "best",
        submit(queue, truth, "bob", 0.895, 2): "twin",
        submit(queue, truth, "cat", 0.6, 3): "poor",
    }
    Worker(queue, config, worker_id="w").run(once=True)
    rows = queue.results.read().set_index("job_id")
    assert set(rows["ci_method"]) == {CI_METHOD}
    for job in jobs:
        items = [i for i in rows.loc[job, "split_scores"] if i["split"] == PUBLIC]
        assert {i["metric"] for i in items} == {"accuracy", "macro_f1"}  # never private
        for item in items:
            assert item["ci_low"] < item["value"] < item["ci_high"]
            assert 0.01 < item["ci_high"] - item["ci_low"] < 0.15  # 600 public items
    bands = {name: rows.loc[job, "band"] for job, name in jobs.items()}
    assert bands == {"best": 1, "twin": 1, "poor": 2}
    table = board_table(queue.results.read(), config.benchmark)
    assert re.fullmatch(r"0\.\d{4} ± 0\.0\d+", table.loc[0, "macro_f1"])
    assert list(table["Band"]) == ["1", "1", "2"]

    # A new leader: the worker recomputes the bands once the queue is quiet.
    leader = submit(queue, truth, "dan", 0.99, 4)
    Worker(queue, config, worker_id="w2").run(once=True)
    rows = queue.results.read().set_index("job_id")
    assert rows.loc[leader, "band"] == 1
    assert {rows.loc[j, "band"] for j, name in jobs.items() if name != "poor"} == {2}


def test_while_another_worker_holds_jobs_the_bands_wait_for_the_last_one(tmp_path: Path) -> None:
    config, queue, truth = bench(tmp_path / "b")
    first = submit(queue, truth, "ann", 0.9, 1)
    submit(queue, truth, "bob", 0.6, 2)
    Worker(queue, config, worker_id="w").run(once=True)
    held = submit(queue, truth, "cat", 0.5, 3)
    assert [e.job_id for e in open_queue(config).claim("elsewhere").jobs] == [held]
    leader = submit(queue, truth, "dan", 0.99, 4)
    Worker(open_queue(config), config, worker_id="w2").run(once=True)
    rows = queue.results.read().set_index("job_id")
    assert pd.isna(rows.loc[leader, "band"])  # "elsewhere" is still busy: not recomputed yet
    assert rows.loc[first, "band"] == 1

    open_queue(config).release("elsewhere", [held])  # it gives the job back; w3 ends the burst
    Worker(open_queue(config), config, worker_id="w3").run(once=True)
    rows = queue.results.read().set_index("job_id")
    assert rows.loc[leader, "band"] == 1 and rows.loc[first, "band"] == 2


def test_the_ladder_shows_only_significant_gains_and_keeps_the_rest_for_the_reveal(
    tmp_path: Path,
) -> None:
    config, queue, truth = bench(tmp_path / "b", release="ladder")
    first = submit(queue, truth, "eve", 0.7, 1)
    Worker(queue, config, worker_id="w1").run(once=True)
    same = submit(queue, truth, "eve", 0.7, 1, changed=20)  # a tweak: noise-sized change
    better = submit(queue, truth, "eve", 0.9, 3)
    Worker(queue, config, worker_id="w2").run(once=True)

    entries = {e.job_id: e for e in queue.user_jobs("eve")}
    assert entries[first].release.updated and not entries[same].release.updated
    assert entries[better].release.updated and entries[better].release.best_job == better
    rows = queue.results.read().set_index("job_id")
    assert pd.isna(rows.loc[same, "macro_f1"]) and list(rows.loc[same, "split_scores"]) == []
    shown = rows.loc[better, "macro_f1"]
    resolution = entries[better].release.resolution
    assert shown == pytest.approx(round(shown / resolution) * resolution)
    full = entries[better].scores["macro_f1"]
    assert shown != full and abs(shown - full) <= resolution / 2 + 1e-12

    table = mine_table(entries.values(), {}, config.benchmark)
    row = table[table["Job id"] == same].iloc[0]
    assert row["Score"] == "not released"
    assert "did not beat your shown best" in row["Note"]
    board = board_table(queue.results.read(), config.benchmark)
    assert list(board["Job id"]) == [better, first] and list(board["Entries"]) == [3, 3]

    # The reveal publishes the full scores that the Ladder held back.
    Reveal(queue).publish("rita")
    rows = queue.results.read().set_index("job_id")
    assert rows.loc[same, "macro_f1"] == pytest.approx(entries[same].scores["macro_f1"])
    public = metrics_of(entries[same].split_scores, PUBLIC)["macro_f1"]
    revealed = [
        i["value"]
        for i in rows.loc[same, "split_scores"]
        if i["split"] == PUBLIC and i["metric"] == "macro_f1"
    ]
    assert revealed == [pytest.approx(public)]


def test_a_ladder_needs_a_per_example_view(tmp_path: Path) -> None:
    from heldout.errors import ConfigError

    config, queue, _ = bench(tmp_path / "b", release="ladder")

    def plain(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
        return {"accuracy": 0.5, "macro_f1": 0.5}

    with pytest.raises(ConfigError, match="per_example"):
        Worker(queue, config, scorer=plain).prepare()
