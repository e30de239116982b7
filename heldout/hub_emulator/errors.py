"""Errors the emulated Hub answers with, each carrying the Hub's status and error code.

The state layer raises these without knowing about HTTP; `hub_response.error_response`
turns one into the Hub's answer: JSON `{"error": ...}` plus the `X-Error-Code` and
`X-Error-Message` headers that `huggingface_hub` uses to pick its exception class.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the emulator answers; `status` is the HTTP status."""

    status = 500
    code: str | None = None

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(HubError):
    status = 400


class Unauthorized(HubError):
    """No token, or a token the Hub does not know."""

    status = 401


class Forbidden(HubError):
    """The caller is known and may see the repo, but may not do this."""

    status = 403


class RepoNotFound(HubError):
    """Missing, or private and hidden from the caller; the two look the same on purpose."""

    status = 404
    code = "RepoNotFound"


class AnonymousRepoNotFound(RepoNotFound):
    """What the Hub answers an anonymous caller for a missing or private repo."""

    status = 401


class RevisionNotFound(HubError):
    status = 404
    code = "RevisionNotFound"


class EntryNotFound(HubError):
    status = 404
    code = "EntryNotFound"


class NotFound(HubError):
    """A route the emulator does not serve."""

    status = 404


class MethodNotAllowed(HubError):
    status = 405


class RepoExists(HubError):
    """Carries the repo URL: without `url` in the body, `create_repo(exist_ok=True)` fails."""

    status = 409

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class StaleParent(HubError):
    """`parentCommit` is no longer the head of the branch: the compare-and-swap failed."""

    status = 412


class RangeNotSatisfiable(HubError):
    status = 416


class RateLimited(HubError):
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class InjectedFault(HubError):
    """A failure the emulator made up on purpose (fault injection or a lost reply)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message, headers=headers)
        self.status = status
