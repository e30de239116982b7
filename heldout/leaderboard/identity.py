"""Who is asking: from the OAuth session only.

gradio fills a `gr.OAuthProfile` parameter from the signed session cookie, never from
the request body. `gr.OAuthToken`, by contrast, can be supplied by any API caller, and
form fields are whatever the caller typed, so neither is ever used for identity.
Every handler calls `user_of` itself: uploads and API calls are not gated by the
Login button.
"""

from __future__ import annotations

from typing import Any

from heldout.config import Config
from heldout.errors import InvalidSubmission
from heldout.queue.entry import check_username

SIGN_IN_TO_SUBMIT = "Please sign in with Hugging Face before submitting."
SIGN_IN_TO_SEE = "Sign in with Hugging Face to see your submissions."
NOT_A_REVIEWER = "Only the benchmark's reviewers can review submissions."


class Refusal(Exception):
    """A request we turn down, with one sentence the person can act on."""


def user_of(profile: Any) -> str | None:
    """The signed-in Hub user name, or None when signed out (or the name is unusable)."""
    if profile is None:
        return None
    name = getattr(profile, "username", None)
    try:
        return check_username(name)
    except InvalidSubmission:
        return None


def require_user(profile: Any, message: str = SIGN_IN_TO_SUBMIT) -> str:
    user = user_of(profile)
    if user is None:
        raise Refusal(message)
    return user


def is_reviewer(config: Config, user: str | None) -> bool:
    return user is not None and user in config.review.reviewers


def require_reviewer(config: Config, profile: Any) -> str:
    """Checked on every review action; `JobQueue` checks again on its side."""
    user = user_of(profile)
    if not is_reviewer(config, user):
        raise Refusal(NOT_A_REVIEWER)
    assert user is not None
    return user
