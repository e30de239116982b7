"""What every tab's handlers share: the config, the queue, one group committer, the board.

One `Context` per app, made by `create_app`; nothing lives in module globals, so two
apps (or two tests) in one process never share state.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from heldout.config import Config
from heldout.leaderboard.cache import BoardCache
from heldout.leaderboard.limiter import Allowance
from heldout.leaderboard.participants import Participants, gated_repo
from heldout.predictions import load_public_ids
from heldout.queue.entry import utcnow
from heldout.queue.group import GroupCommitter
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results

log = logging.getLogger(__name__)


@dataclass
class Context:
    config: Config
    queue: JobQueue
    committer: GroupCommitter
    board: BoardCache
    public_ids: pd.Index | None
    clock: Callable[[], datetime] = utcnow
    refusals: Allowance = field(default_factory=lambda: Allowance(20))  # refused files per user
    participants: Participants | None = None  # set when participation is gated


def public_config(config: Config) -> Config:
    """The config without its private `[evaluator]` section, so the app never holds the
    path to the test set even when started with a maintainer's full config."""
    if config.evaluator is None:
        return config
    log.warning("ignoring the [evaluator] section: the leaderboard never reads the test set")
    return dataclasses.replace(config, evaluator=None)


def make_context(config: Config, queue: JobQueue) -> Context:
    if queue.results is None:
        raise ValueError("the leaderboard's queue needs a results store to show the board")
    results: Results = queue.results
    ids_path = config.benchmark.public_ids
    public_ids = load_public_ids(ids_path) if ids_path is not None else None
    board = BoardCache(
        results, config.benchmark, ttl=config.leaderboard.cache_seconds, phases=config.phases
    )
    return Context(
        config=config,
        queue=queue,
        committer=GroupCommitter(queue),
        board=board,
        public_ids=public_ids,
        clock=queue.clock,
        refusals=Allowance(config.limits.refusals_per_hour),
        participants=Participants(config) if gated_repo(config) else None,
    )
