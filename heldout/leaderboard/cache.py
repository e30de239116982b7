"""The board, built once and shared by every visitor until the results change.

Each page load and each timer tick asks for the board. Within `ttl` seconds it costs
nothing; after that, one `head()` call tells whether the results repo moved, and only
then is the table rebuilt. One lock makes the rebuild single-flight: a hundred
visitors arriving after the TTL expire cause one read, not a hundred. A forced
refresh (the Refresh button) still waits `min_interval` between reads, so nobody can
spend the Hub's API quota by clicking.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from heldout.config import BenchmarkConfig, PhasesConfig
from heldout.errors import StoreError
from heldout.leaderboard.competition import final_table, late_mask
from heldout.leaderboard.ranking import best_over_time, board_table
from heldout.queue.results import Results
from heldout.queue.reveal import RECORD, RevealRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Board:
    """One built board. `version` is the results head it was read at (or older)."""

    version: str
    table: pd.DataFrame
    curve: pd.DataFrame
    built_at: float
    build_seconds: float
    late: pd.DataFrame | None = None  # post-deadline results, outside the final ranking
    final: pd.DataFrame | None = None  # the final ranking, once the reveal is published
    record: RevealRecord | None = None

    @property
    def rows(self) -> int:
        return len(self.table)


class BoardCache:
    def __init__(
        self,
        results: Results,
        benchmark: BenchmarkConfig,
        ttl: float,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        phases: PhasesConfig | None = None,
    ) -> None:
        self.results = results
        self.benchmark = benchmark
        self.phases = phases or PhasesConfig()
        self.ttl = ttl
        self.min_interval = min(min_interval, ttl)
        self.clock = clock
        self._lock = threading.Lock()
        self._board: Board | None = None
        self._checked_at = float("-inf")

    def get(self, force: bool = False) -> Board:
        """The current board; re-checks the repo only when the TTL (or floor) has passed.

        While one thread rebuilds, the others keep getting the previous board instead of
        waiting for it (at 100,000 results a rebuild takes most of a second).
        """
        wait = self.min_interval if force else self.ttl
        board = self._board
        if board is not None and self.clock() - self._checked_at < wait:
            return board
        if not self._lock.acquire(blocking=board is None):
            return board  # type: ignore[return-value]  # someone is refreshing it now
        try:
            board = self._board
            if board is not None and self.clock() - self._checked_at < wait:
                return board  # another thread refreshed it while we waited
            try:
                return self._refresh(board)
            except StoreError:
                if board is None:
                    raise
                # The Hub is down or slow: keep showing what we have and try later.
                log.warning("could not refresh the board; showing the last one", exc_info=True)
                self._checked_at = self.clock()
                return board
        finally:
            self._lock.release()

    def _refresh(self, board: Board | None) -> Board:
        # The head is read before the data, so `version` is never newer than the table;
        # if the repo moves in between, the next check sees a new head and rebuilds.
        head = self.results.version()
        self._checked_at = self.clock()
        if board is not None and board.version == head:
            return board
        started = time.perf_counter()
        frame = self.results.read()
        late = late_mask(frame, self.phases)
        live = frame[~late] if late.any() else frame
        table = board_table(live, self.benchmark)
        curve = best_over_time(live, self.benchmark)
        record = self._record(head)
        built = Board(
            head,
            table,
            curve,
            self.clock(),
            time.perf_counter() - started,
            late=board_table(frame[late], self.benchmark) if late.any() else None,
            final=final_table(frame, record, self.benchmark, self.phases) if record else None,
            record=record,
        )
        self._board = built
        return built

    def _record(self, head: str) -> RevealRecord | None:
        data = self.results.read_file(RECORD, revision=head)
        return None if data is None else RevealRecord.from_json(data)
