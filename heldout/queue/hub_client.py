"""The one HTTP client huggingface_hub shares across the process, as heldout sets it up.

huggingface_hub 2.4 sends every request through one `httpx2.Client`, made by a factory
that `set_client_factory` replaces. heldout installs its own factory once: the stock
client (`default_client_factory`) plus request hooks. These are private-ish hooks of
huggingface_hub; tests/store/test_hf_contract.py checks that they still exist and
behave, and names the version they were checked against.
"""

from __future__ import annotations

import threading

import httpx2
from huggingface_hub import set_client_factory
from huggingface_hub.utils._http import default_client_factory

_timeout_in_use: float | None = None
_lock = threading.Lock()


def use_http_timeout(seconds: float) -> None:
    """Give huggingface_hub's shared HTTP client a timeout; by default it has none.

    Without one, a Hub that stops answering mid-request blocks a worker forever: its
    heartbeat stops too, and with a single worker the queue is stuck. A timed-out
    request is retried like any transient error (a commit is reconciled first). The
    client is shared by the whole process, so this is process-wide and set only once
    per value: replacing the factory closes the current client.
    """
    global _timeout_in_use
    with _lock:
        if _timeout_in_use == seconds:
            return
        _timeout_in_use = seconds

        bounds = httpx2.Timeout(seconds, connect=min(seconds, 10.0)).as_dict()

        def bound(request: httpx2.Request) -> None:
            # HfApi passes `timeout=None` explicitly, which overrides a client default,
            # so the bound is filled in here, just before the request is sent.
            given = request.extensions.get("timeout") or {}
            request.extensions["timeout"] = {k: given.get(k) or v for k, v in bounds.items()}

        def factory() -> httpx2.Client:
            client = default_client_factory()
            client.event_hooks["request"].append(bound)
            return client

        set_client_factory(factory)
