"""The board's pure parts, without a server: ranking, tables, escaping and the cache."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.leaderboard.cache import BoardCache
from heldout.leaderboard.ranking import best_over_time, board_table, columns, rank, search
from heldout.leaderboard.tables import mine_table, note, pending_choices
from heldout.leaderboard.text import md_escape
from heldout.queue.entry import Decision, ErrorKind, JobError, new_entry, new_job_id
from heldout.queue.status import JobStatus

BENCH = BenchmarkConfig(name="t", primary_metric="accuracy", metrics=("accuracy", "macro_f1"))
LOWER = BenchmarkConfig(name="t", primary_metric="loss", higher_is_better=False)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def results(rows: list[tuple[str, float, int]], metric: str = "accuracy") -> pd.DataFrame:
    """(job id, score, minutes after T0) -> a frame shaped like `Results.read()`."""
    return pd.DataFrame(
        {
            "job_id": [r[0] for r in rows],
            "model": [f"model {r[0]}" for r in rows],
            "submitter": ["someone"] * len(rows),
            "description": [""] * len(rows),
            "submitted_at": pd.to_datetime([T0 + timedelta(minutes=r[2]) for r in rows], utc=True),
            "primary_score": [r[1] for r in rows],
            metric: [r[1] for r in rows],
            "macro_f1": [0.5] * len(rows),
        }
    )


def test_ties_go_to_the_earlier_submission_then_the_job_id() -> None:
    frame = results(
        [("d", 0.9, 5), ("c", 0.9, 1), ("b", 0.9, 1), ("a", 0.8, 0), ("e", float("nan"), 0)]
    )
    assert list(rank(frame, BENCH)["job_id"]) == ["b", "c", "d", "a", "e"]
    # The input order never matters: the order is total.
    shuffled = frame.sample(frac=1, random_state=3)
    assert list(rank(shuffled, BENCH)["job_id"]) == ["b", "c", "d", "a", "e"]


def test_lower_is_better_ranks_the_smallest_first() -> None:
    frame = results([("a", 0.3, 0), ("b", 0.1, 1), ("c", 0.1, 0)], metric="loss")
    assert list(rank(frame, LOWER)["job_id"]) == ["c", "b", "a"]


def test_the_table_has_ranks_text_cells_and_only_str_or_number_types() -> None:
    frame = results([("a", 0.81234567, 0), ("b", 0.9, 1)])
    frame.loc[0, "model"] = "<img src=x onerror=alert(1)>\nsecond line"
    table = board_table(frame, BENCH)
    cols = columns(BENCH)
    assert list(table.columns) == cols.headers
    # Never "html" (it runs scripts); the one Markdown column holds only a checked link.
    assert set(cols.datatypes) <= {"str", "number", "markdown"}
    markdown = [h for h, t in zip(cols.headers, cols.datatypes, strict=True) if t == "markdown"]
    assert markdown == ["Model page"]
    assert set(table["Model page"]) == {""}  # neither name is a Hub model id
    assert len(cols.datatypes) == len(cols.headers)
    assert list(table["Rank"]) == [1, 2]
    assert list(table["Job id"]) == ["b", "a"]
    # User text stays exactly as typed (gradio escapes str cells), on one line.
    assert table.loc[1, "Model"] == "<img src=x onerror=alert(1)> second line"
    assert table.loc[1, "accuracy"] == "0.8123"  # no interval computed: the plain score
    assert table.loc[0, "Submitted"] == "2026-01-01 00:01 UTC"


def test_each_row_shows_how_many_entries_its_submitter_has() -> None:
    frame = results([("a", 0.9, 0), ("b", 0.8, 1), ("c", 0.7, 2), ("d", 0.6, 3)])
    frame["submitter"] = ["ten-tries", "once", "ten-tries", "ten-tries"]
    table = board_table(frame, BENCH)
    assert dict(zip(table["Job id"], table["Entries"], strict=True)) == {
        "a": 3,
        "b": 1,
        "c": 3,
        "d": 3,
    }
    assert columns(BENCH).datatypes[columns(BENCH).headers.index("Entries")] == "number"


def test_the_primary_score_shows_its_interval_and_rows_their_band() -> None:
    frame = results([("a", 0.85171, 0), ("b", 0.8412, 1), ("c", 0.6, 2)])
    frame["split_scores"] = [
        [{"split": "public", "metric": "accuracy", "value": 0.85171, "ci_low": 0.8407,
          "ci_high": 0.8627}],
        [{"split": "public", "metric": "accuracy", "value": 0.8412, "ci_low": None,
          "ci_high": None}],
        [],
    ]  # fmt: skip
    frame["band"] = [1, 1, None]
    table = board_table(frame, BENCH)
    assert list(table["accuracy"]) == ["0.8517 ± 0.011", "0.8412", "0.6000"]
    assert list(table["Band"]) == ["1", "1", ""]


def test_an_unreleased_score_counts_as_an_entry_but_takes_no_place() -> None:
    frame = results([("a", 0.9, 0), ("b", float("nan"), 1), ("c", 0.7, 2)])
    frame["submitter"] = ["ladder", "ladder", "other"]
    table = board_table(frame, BENCH)
    assert list(table["Job id"]) == ["a", "c"]
    assert list(table["Entries"]) == [2, 1]


def test_an_empty_board_still_has_its_headers() -> None:
    table = board_table(results([]), BENCH)
    assert table.empty and list(table.columns) == columns(BENCH).headers
    assert best_over_time(results([]), BENCH).empty


def test_best_over_time_keeps_only_improvements_and_extends_to_the_last() -> None:
    frame = results([("a", 0.5, 0), ("b", 0.4, 1), ("c", 0.7, 2), ("d", 0.6, 3)])
    curve = best_over_time(frame, BENCH)
    assert list(curve["best"]) == [0.5, 0.7, 0.7]
    assert list(curve["time"].dt.minute) == [0, 2, 3]


def test_the_plot_shows_the_interval_around_the_best_so_far() -> None:
    from heldout.leaderboard.plot import progress_svg

    frame = results([("a", 0.5, 0), ("b", 0.4, 1), ("c", 0.7, 2), ("d", 0.6, 3)])
    frame["split_scores"] = [
        [{"split": "public", "metric": "accuracy", "value": v, "ci_low": v - 0.02,
          "ci_high": v + 0.02}]
        for v in (0.5, 0.4, 0.7, 0.6)
    ]  # fmt: skip
    curve = best_over_time(frame, BENCH)
    assert list(curve["low"].round(2)) == [0.48, 0.68, 0.68]  # the best row's interval
    assert list(curve["high"].round(2)) == [0.52, 0.72, 0.72]
    assert 'id="progress-interval"' in progress_svg(curve, "accuracy")
    plain = best_over_time(results([("a", 0.5, 0)]), BENCH)
    assert 'id="progress-interval"' not in progress_svg(plain, "accuracy")


def test_markdown_escaping_leaves_no_markup() -> None:
    hostile = "<img src=x onerror=alert(1)> [x](javascript:1) **b** `c` # h\n- item &amp;"
    escaped = md_escape(hostile)
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped
    assert re.search(r"(?<!\\)[\[\]()*`#_-]", escaped) is None  # each one backslashed
    assert "&amp;amp;" in escaped  # a typed entity is shown as typed, not decoded
    # Undoing the escapes gives back the text (on one line).
    plain = html.unescape(escaped.replace("\\", ""))
    assert plain == " ".join(hostile.split())


def entry(model: str, status: JobStatus, **changes: object):  # noqa: ANN201
    made = new_entry(
        job_id=new_job_id(),
        model=model,
        submitter="alice",
        description="",
        sha256="0" * 64,
        size=1,
        fmt="csv",
    )
    return replace(made, status=status, **changes)  # a fixture in any state, not a move


def test_my_submissions_show_place_scores_and_reasons() -> None:
    waiting = entry("w", JobStatus.PENDING)
    done = entry("d", JobStatus.FINISHED, scores={"accuracy": 0.75, "macro_f1": 0.5})
    rejected = entry(
        "r",
        JobStatus.FAILED,
        error=JobError(ErrorKind.REJECTED, "rejected by a reviewer: copied"),
        review=Decision("rejected", "rita", "copied", ""),
    )
    table = mine_table([waiting, done, rejected], {waiting.job_id: 2, "other": 1}, BENCH)
    rows = {row[1]: row for row in table.itertuples(index=False)}
    assert rows["w"][3] == "2 of 2" and rows["w"][2] == "PENDING"
    assert rows["d"][4] == "accuracy 0.7500, macro_f1 0.5000" and rows["d"][3] == ""
    assert rows["r"][6] == "rejected by a reviewer: copied"
    assert pending_choices([waiting, done]) == [(f"w ({waiting.job_id})", waiting.job_id)]


def test_under_the_ladder_my_submissions_say_why_a_score_was_not_released() -> None:
    from heldout.queue.release import Release

    scores = {"accuracy": 0.81234, "macro_f1": 0.7}
    shown = Release(0.81, True, 0.012, 0.01, "j1")
    kept = Release(0.81, False, 0.015, 0.01, "j1")
    released = entry("up", JobStatus.FINISHED, scores=scores, release=shown)
    held = entry("same", JobStatus.FINISHED, scores={**scores, "accuracy": 0.8177}, release=kept)
    table = mine_table([released, held], {}, BENCH)
    rows = {row[1]: row for row in table.itertuples(index=False)}
    assert rows["up"][4] == "accuracy 0.81, macro_f1 0.7"  # rounded to the resolution
    assert rows["same"][4] == "not released"
    assert "0.8177" not in " ".join(map(str, rows["same"]))
    assert "did not beat your shown best (0.81)" in rows["same"][6]
    assert "significant margin" in rows["same"][6]
    # after the reveal, the full scores
    after = mine_table([held], {}, BENCH, revealed=True)
    assert after.iloc[0, 4] == "accuracy 0.8177, macro_f1 0.7000"


def test_flag_details_are_not_shown_to_the_submitter() -> None:
    from heldout.queue.entry import Flag

    held = entry("h", JobStatus.REVIEW, flags=(Flag("shared_file", "same file as bob's"),))
    assert "bob" not in note(held)


def test_a_score_held_for_review_or_rejected_is_not_shown_to_the_submitter() -> None:
    scores = {"accuracy": 0.99, "macro_f1": 0.98}
    held = entry("h", JobStatus.REVIEW, scores=scores)
    rejected = entry(
        "r", JobStatus.FAILED, scores=scores, error=JobError(ErrorKind.REJECTED, "rejected: probe")
    )
    table = mine_table([held, rejected], {}, BENCH)
    assert "0.99" not in table.to_string()
    assert {row[4] for row in table.itertuples(index=False)} == {""}


class FakeStore:
    def __init__(self) -> None:
        self.heads = 0
        self.current = "h1"

    def head(self) -> str:
        self.heads += 1
        return self.current



class FakeResults:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.store = FakeStore()
        self.frame = frame
        self.reads = 0

    def read(self) -> pd.DataFrame:
        self.reads += 1
        return self.frame

    def version(self) -> str:
        return self.store.head()

    def read_file(self, path: str, revision: str | None = None) -> bytes | None:
        return None  # no reveal.json: the competition is not revealed


def test_the_cache_reads_once_per_ttl_and_rebuilds_only_when_the_head_moves() -> None:
    now = [0.0]
    fake = FakeResults(results([("a", 0.5, 0)]))
    cache = BoardCache(fake, BENCH, ttl=10, min_interval=2, clock=lambda: now[0])  # type: ignore[arg-type]
    first = cache.get()
    assert cache.get() is first and fake.store.heads == 1  # within the TTL: no request
    now[0] = 11
    assert cache.get() is first and (fake.store.heads, fake.reads) == (2, 1)  # same head
    fake.store.current = "h2"
    now[0] = 12
    assert cache.get(force=True) is first  # a forced refresh still waits min_interval
    now[0] = 14
    second = cache.get(force=True)
    assert second is not first and second.version == "h2" and fake.reads == 2


def test_search_finds_text_in_the_whole_board_keeping_ranks() -> None:
    frame = results([("j1", 0.9, 0), ("j2", 0.8, 1), ("j3", 0.7, 2), ("j4", 0.6, 3)])
    frame["model"] = ["a.b", "axb", "(x", "Other"]
    table = board_table(frame, BENCH)
    assert list(search(table, ".", 10)["Model"]) == ["a.b"]  # a dot is a dot, not a pattern
    assert list(search(table, "(", 10)["Rank"]) == [3]
    assert list(search(table, "OTHER", 10)["Rank"]) == [4]  # case-insensitive
    assert list(search(table, "j", 2)["Rank"]) == [1, 2]  # job ids match; capped
    assert len(search(table, "  ", 3)) == 3  # no query: the top rows


def test_while_one_visitor_rebuilds_the_others_get_the_last_board() -> None:
    now = [0.0]
    fake = FakeResults(results([("a", 0.5, 0)]))
    cache = BoardCache(fake, BENCH, ttl=1, clock=lambda: now[0])  # type: ignore[arg-type]
    first = cache.get()
    now[0] = 5
    fake.store.current = "h2"
    with cache._lock:  # a rebuild in progress elsewhere
        assert cache.get() is first and fake.reads == 1
    assert cache.get().version == "h2"
