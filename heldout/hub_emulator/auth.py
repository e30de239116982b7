"""Who is calling, and what they may read and write, by the Hub's rules.

- A token `hf_test_<name>` is user <name>; `settings.tokens` and tokens issued by the
  OpenID provider add more. Any other token is refused with 401, as the Hub refuses
  an invalid token even on public repos.
- Users write in their own namespace and in their organisations'.
- Public repos are readable by anyone. A private repo is hidden from everyone who may
  not read it: it answers exactly like a missing repo.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from heldout.hub_emulator.errors import AnonymousRepoNotFound, Forbidden, RepoNotFound, Unauthorized
from heldout.hub_emulator.settings import EmulatorSettings

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")
TEST_TOKEN_PREFIX = "hf_test_"
INVALID_TOKEN = "Invalid credentials in Authorization header"


def is_valid_username(name: str) -> bool:
    return bool(USERNAME.match(name))


@dataclass(frozen=True)
class Caller:
    """The user behind a request, or anonymous (`name` None)."""

    name: str | None
    token: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.name is None


ANONYMOUS = Caller(None)


class Access:
    """Token lookup and permission checks against the live settings."""

    def __init__(
        self, settings: EmulatorSettings, issued_token_user: Callable[[str], str | None]
    ) -> None:
        self._settings = settings
        self._issued_token_user = issued_token_user

    def user_for_token(self, token: str) -> str | None:
        user = self._settings.tokens.get(token) or self._issued_token_user(token)
        if user is not None:
            return user
        if token.startswith(TEST_TOKEN_PREFIX):
            name = token[len(TEST_TOKEN_PREFIX) :]
            if is_valid_username(name):
                return name
        return None

    def caller(self, authorization: str | None) -> Caller:
        """The caller named by an `Authorization: Bearer` header; raises for a bad token."""
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(INVALID_TOKEN)
        user = self.user_for_token(token)
        if user is None:
            raise Unauthorized(INVALID_TOKEN)
        return Caller(user, token)

    def orgs_of(self, user: str) -> list[str]:
        return sorted(org for org, members in self._settings.orgs.items() if user in members)

    def may_write_namespace(self, caller: Caller, namespace: str) -> bool:
        if caller.name is None:
            return False
        return caller.name == namespace or caller.name in self._settings.orgs.get(namespace, [])

    def may_read(self, caller: Caller, repo_id: str, private: bool) -> bool:
        return not private or self.may_write_namespace(caller, repo_id.split("/")[0])

    def check_read(self, caller: Caller, repo_id: str, private: bool | None) -> None:
        """Raise what the Hub answers when `repo_id` is missing (`private` None) or hidden."""
        if private is None or not self.may_read(caller, repo_id, private):
            raise hidden(caller)

    def check_write(self, caller: Caller, repo_id: str, private: bool | None) -> None:
        self.check_read(caller, repo_id, private)
        if caller.name is None:
            raise Unauthorized("You must be authenticated to write to a repository.")
        if not self.may_write_namespace(caller, repo_id.split("/")[0]):
            raise Forbidden(f"You don't have the rights to write to {repo_id}.")


def hidden(caller: Caller) -> RepoNotFound:
    """The Hub tells an anonymous caller 401 and a signed-in one 404; both say RepoNotFound."""
    if caller.anonymous:
        return AnonymousRepoNotFound("Repository not found. Invalid username or password.")
    return RepoNotFound("Repository not found")
