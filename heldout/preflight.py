"""Refuse, at start, a config that cannot work: one line naming the key and the fix.

Without this, a fresh `heldout init` folder's worker spent a minute retrying the
placeholder repo `YOUR-NAME/…-queue` against huggingface.co, then logged a traceback
and exited 0. Every command that opens the queue calls `check_queue_access` first:
a placeholder name costs no request; otherwise two cheap ones (whoami, repo_info),
each answered once, never retried. A queue lost *later* is the worker's business: it
keeps retrying politely, as before.
"""

from __future__ import annotations

from heldout.config import Config
from heldout.errors import ConfigError
from heldout.scaffold import PLACEHOLDER_NS

PREFLIGHT_TIMEOUT = 15.0
HUB = "https://huggingface.co"


def check_names(config: Config) -> None:
    """No request: the repo names must not be the placeholders `heldout init` wrote."""
    s = config.storage
    if s.backend != "hub":
        return
    for key in ("queue_repo", "results_repo"):
        value = getattr(s, key) or ""
        if value.split("/")[0] == PLACEHOLDER_NS:
            raise ConfigError(
                f"storage.{key} is still the placeholder {value!r} in {_where(config)}: "
                f"run `heldout deploy -c <your heldout.toml>`, which fills in your namespace, "
                f"or replace {PLACEHOLDER_NS} with your Hugging Face user or organisation"
            )


def check_queue_access(config: Config, *, write: bool) -> None:
    """The queue repo exists, this token may read it (and write it, when `write`)."""
    check_names(config)
    s = config.storage
    if s.backend != "hub":
        return
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    token = s.token()
    if not token:
        raise ConfigError(
            f"storage.token_env: set ${s.token_env} to a Hugging Face token that can "
            f"{'write' if write else 'read'} {s.queue_repo}"
        )
    hub = s.endpoint or HUB
    api = HfApi(endpoint=s.endpoint, token=token)
    timeout = min(PREFLIGHT_TIMEOUT, s.http_timeout_seconds)
    try:
        role = _token_role(api.whoami(token=token))
        api.repo_info(s.queue_repo, repo_type="dataset", timeout=timeout)
    except RepositoryNotFoundError:
        raise ConfigError(
            f"storage.queue_repo: {s.queue_repo} does not exist on {hub}, or the token in "
            f"${s.token_env} cannot read it: run `heldout deploy`, or fix the name or the token"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "no answer"
        if status == 401:
            raise ConfigError(
                f"storage.token_env: {hub} refused the token in ${s.token_env} (401): "
                "create a new token at https://huggingface.co/settings/tokens"
            ) from None
        raise ConfigError(
            f"storage.endpoint: {hub} answered {status} for {s.queue_repo}; try again later"
        ) from None
    except (OSError, ValueError) as exc:  # connection refused, DNS, TLS, timeouts
        raise ConfigError(
            f"storage.endpoint: cannot reach {hub} ({type(exc).__name__}): check the network, "
            "or storage.endpoint"
        ) from None
    except Exception as exc:  # httpx2's transport errors are not OSErrors
        if type(exc).__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore", "httpcore2"):
            raise
        raise ConfigError(
            f"storage.endpoint: cannot reach {hub} ({type(exc).__name__}): check the network, "
            "or storage.endpoint"
        ) from None
    if write and role == "read":
        raise ConfigError(
            f"storage.token_env: the token in ${s.token_env} is read-only, and this command "
            f"writes to {s.queue_repo}: use a token with write access"
        )


def _token_role(whoami: dict) -> str | None:
    return ((whoami.get("auth") or {}).get("accessToken") or {}).get("role")


def _where(config: Config) -> str:
    return config.source.name if config.source is not None else "the config"
