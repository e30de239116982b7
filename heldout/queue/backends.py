"""Open the queue and results stores that heldout.toml names."""

from __future__ import annotations

from heldout.config import Config
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.store import Store


def open_stores(config: Config) -> tuple[Store, Store]:
    """(queue store, results store) for the configured backend."""
    s = config.storage
    if s.backend == "local":
        from heldout.queue.local_store import LocalStore

        assert s.root is not None  # checked when the config was read
        return LocalStore(s.root / "queue"), LocalStore(s.root / "results")
    from heldout.queue.governor import Limits, governor
    from heldout.queue.hub_store import HubStore

    governor().configure(
        Limits(
            api_calls_5min=s.api_calls_per_5min,
            downloads_5min=s.downloads_per_5min,
            commits_hour=s.commits_per_hour,
        )
    )
    token = s.token()
    return tuple(  # type: ignore[return-value]
        HubStore(
            repo,
            token=token,
            endpoint=s.endpoint,
            retry_seconds=s.retry_seconds,
            http_timeout=s.http_timeout_seconds,
        )
        for repo in (s.queue_repo, s.results_repo)
    )


def open_queue(config: Config) -> JobQueue:
    queue_store, results_store = open_stores(config)
    return JobQueue(queue_store, config, Results(results_store, config.benchmark))
