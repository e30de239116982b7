"""Client errors of huggingface_hub, translated into heldout's error family at one boundary."""

from __future__ import annotations

from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from heldout.errors import AccessDenied, Conflict, InvalidPath, NotFound, StoreError
from heldout.queue.retry import causes, describe, http_status


def translate(exc: Exception, what: str) -> Exception:
    """A heldout error for a client error. The message never carries the token."""
    for error in causes(exc):
        if isinstance(error, LocalEntryNotFoundError) and error.__cause__ is not None:
            continue  # the download fell back to the cache; the cause says why
        if isinstance(error, RevisionNotFoundError):
            return NotFound(f"{what}: no such revision")
        if isinstance(error, EntryNotFoundError):
            return NotFound(f"{what}: no such file")
        if isinstance(error, RepositoryNotFoundError):
            return NotFound(f"{what}: no such repo, or this token may not see it")
    status = http_status(exc)
    if status == 412:
        return Conflict(f"{what}: the branch moved past the parent commit")
    if status in (401, 403):
        return AccessDenied(f"{what}: this token may not do that (HTTP {status})")
    if status == 404:
        return NotFound(f"{what}: not found")
    if isinstance(exc, ValueError):
        return InvalidPath(f"{what}: the client refused the request ({exc})")
    said = getattr(exc, "server_message", None)
    detail = f": {str(said)[:200]}" if said else ""
    return StoreError(f"{what} failed ({describe(exc)}){detail}")
