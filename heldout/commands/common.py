"""What every maintainer command needs: the config, the queue, and who is acting."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from heldout.config import Config, load_config
from heldout.errors import HeldoutError, NotAllowed
from heldout.queue.backends import open_queue
from heldout.queue.entry import Entry
from heldout.queue.jobs import JobQueue


def load(args: argparse.Namespace) -> tuple[Config, JobQueue]:
    from heldout.preflight import check_queue_access

    config = load_config(args.config)
    check_queue_access(config, write=False)  # a config that cannot work stops here
    return config, open_queue(config)


def acting_user(config: Config, claimed: str | None, flag: str) -> str:
    """Who is acting. On the Hub the token says so (`whoami`); a flag may only repeat it.
    On the local backend there is no token, so the flag is the identity."""
    if config.storage.backend == "local":
        if not claimed:
            raise HeldoutError(f"{flag} USER is required with the local backend")
        return claimed
    from huggingface_hub import HfApi

    token = config.storage.token()
    if not token:
        raise HeldoutError(f"set {config.storage.token_env} to a Hugging Face token")
    try:
        name = HfApi(endpoint=config.storage.endpoint).whoami(token=token)["name"]
    except Exception as exc:  # any failure here means: we do not know who you are
        raise HeldoutError("could not check the token with the Hub (whoami failed)") from exc
    if claimed and claimed != name:
        raise NotAllowed(f"{flag} {claimed} does not match the token's user {name}")
    return name


def entry_dict(entry: Entry) -> dict[str, Any]:
    data = asdict(entry)
    data["status"] = entry.status.value
    if entry.error:
        data["error"]["kind"] = entry.error.kind.value
    return data


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def short(text: str, width: int) -> str:
    """One line, safe for a terminal: control characters shown escaped, long text cut."""
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= width else text[: width - 1] + "…"
