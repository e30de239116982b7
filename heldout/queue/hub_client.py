"""The one HTTP client huggingface_hub shares across the process, as heldout sets it up.

huggingface_hub 2.4 sends every request through one `httpx2.Client`, made by a factory
that `set_client_factory` replaces. heldout installs its own factory once: the stock
client (`default_client_factory`) plus event hooks that bound each request's timeout
and count each request in the process's rate governor (`governor.py`). These are
private-ish hooks of huggingface_hub; tests/store/test_hf_contract.py checks that they
still exist and behave, and names the version they were checked against.
"""

from __future__ import annotations

import re
import threading

import httpx2
from huggingface_hub import set_client_factory
from huggingface_hub.utils._http import default_client_factory

from heldout.queue.governor import Kind, governor

_API_REPO = re.compile(r"/api/(?:models|datasets|spaces)/([^/]+/[^/]+)(?:/|$)")
_RESOLVE_REPO = re.compile(r"^/(?:datasets/|spaces/)?([^/]+/[^/]+)/resolve/")
_COMMIT = re.compile(r"^/api/(?:models|datasets|spaces)/[^/]+/[^/]+/commit/")

# heldout's own requests carry this header. For them, a 408, 429 or 5xx answer is
# raised at once (`HubBusy`) instead of being retried inside huggingface_hub
# (`http_backoff` retries those up to 5 times, sleeping `Retry-After` + 1 s per thread):
# heldout's one retry policy and the governor decide when to try again.
STORE_HEADER = "X-Heldout-Store"
RETRIED_BY_HELDOUT = frozenset({408, 429, 500, 502, 503, 504})

_timeout: float | None = None
_installed = False
_lock = threading.Lock()


def use_http_timeout(seconds: float) -> None:
    """Give huggingface_hub's shared HTTP client a timeout; by default it has none.

    Without one, a Hub that stops answering mid-request blocks a worker forever: its
    heartbeat stops too, and with a single worker the queue is stuck. A timed-out
    request is retried like any transient error (a commit is reconciled first). The
    client is shared by the whole process, so this is process-wide and set only once
    per value: replacing the factory closes the current client.
    """
    global _timeout
    with _lock:
        if _installed and _timeout == seconds:
            return
        _timeout = seconds
        _install()


def ensure_client() -> None:
    """Install heldout's client factory (request counting) unless it already is."""
    with _lock:
        if not _installed:
            _install()


class HubBusy(Exception):
    """A 408, 429 or 5xx answer to one of heldout's requests; heldout retries it itself."""

    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"HTTP {response.status_code} from the Hub")
        self.response = response
        self.request = response.request


def classify(method: str, path: str) -> tuple[Kind, str | None]:
    """What the Hub counts a request as (download = a resolve), and the repo it names."""
    resolve = _RESOLVE_REPO.match(path)
    if resolve and "/api/" not in path:
        return "download", resolve.group(1)
    api = _API_REPO.search(path)
    return "api", api.group(1) if api else None


def _install() -> None:
    global _installed
    bounds = (
        httpx2.Timeout(_timeout, connect=min(_timeout, 10.0)).as_dict()
        if _timeout is not None
        else None
    )

    def bound(request: httpx2.Request) -> None:
        # HfApi passes `timeout=None` explicitly, which overrides a client default,
        # so the bound is filled in here, just before the request is sent.
        if bounds is not None:
            given = request.extensions.get("timeout") or {}
            request.extensions["timeout"] = {k: given.get(k) or v for k, v in bounds.items()}

    def counted(request: httpx2.Request) -> None:
        kind, repo = classify(request.method, request.url.path)
        governor().count(kind, _token(request), repo)

    def committed(response: httpx2.Response) -> None:
        request = response.request
        if request.method == "POST" and _COMMIT.match(request.url.path) and response.is_success:
            governor().count("commit", _token(request), classify("POST", request.url.path)[1])

    def busy(response: httpx2.Response) -> None:
        if response.status_code in RETRIED_BY_HELDOUT and STORE_HEADER in response.request.headers:
            response.read()
            raise HubBusy(response)

    def factory() -> httpx2.Client:
        client = default_client_factory()
        client.event_hooks["request"].extend([bound, counted])
        client.event_hooks["response"].extend([committed, busy])
        return client

    set_client_factory(factory)
    _installed = True


def _token(request: httpx2.Request) -> str | None:
    value = request.headers.get("authorization") or ""
    return value[7:] if value.lower().startswith("bearer ") else None
