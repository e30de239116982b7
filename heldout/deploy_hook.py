"""The Hub webhook that wakes the evaluator when the queue repo changes.

One webhook per queue repo: deploying again finds it (by the repo it watches), points
it at the current evaluator URL, enables it, and keeps its secret, so the evaluator
Space's `WEBHOOK_SECRET` never goes stale. Only when there is none is one created, with
a fresh random secret.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hook:
    id: str
    url: str
    secret: str
    disabled: bool = False


def _watches(info: Any, queue_repo: str) -> bool:
    return any(w.type == "dataset" and w.name == queue_repo for w in info.watched)


def find_webhook(api: Any, queue_repo: str) -> Any | None:
    """The existing webhook on the queue repo, if any (the first, should there be several)."""
    return next((info for info in api.list_webhooks() if _watches(info, queue_repo)), None)


def ensure_webhook(api: Any, queue_repo: str, url: str) -> Hook:
    watched = [{"type": "dataset", "name": queue_repo}]
    info = find_webhook(api, queue_repo)
    if info is None:
        info = api.create_webhook(
            url=url, watched=watched, domains=["repo"], secret=secrets.token_urlsafe(32)
        )
    elif info.url != url or not info.secret or "repo" not in info.domains:
        info = api.update_webhook(
            info.id,
            url=url,
            watched=watched,
            domains=["repo"],
            secret=info.secret or secrets.token_urlsafe(32),
        )
    if info.disabled:
        info = api.enable_webhook(info.id)
    return Hook(info.id, info.url, info.secret, info.disabled)
