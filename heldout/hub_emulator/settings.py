"""The emulator's knobs, as one plain mutable dataclass.

Tests change fields (a fault rate, a quota) on a running server and expect the next
request to see the change, so every request reads the live object instead of a copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# Fields that `POST /_emulator/settings` may change, with the type each must have.
LIVE_FIELDS: dict[str, tuple[type, ...]] = {
    "fault_rate": (float, int),
    "lost_reply_rate": (float, int),
    "slow_rate": (float, int),
    "slow_seconds": (float, int),
    "commit_quota_per_hour": (int, type(None)),
    "page_size": (int,),
    "paths_info": (bool,),
}


@dataclass
class EmulatorSettings:
    """Who exists, how the emulated Hub misbehaves, and where it keeps its state."""

    tokens: dict[str, str] = field(default_factory=dict)
    """Extra token -> user name. Any token `hf_test_<name>` is user <name> anyway."""
    orgs: dict[str, list[str]] = field(default_factory=dict)
    """Organisation -> members; members may write in the organisation's namespace."""
    page_size: int = 1000
    """Entries per page of a tree listing, as the Hub's 1000."""
    commit_quota_per_hour: int | None = None
    """Commits allowed per repo in any rolling hour; None means no limit."""
    fault_rate: float = 0.0
    """Fraction of Hub requests answered 500, 503 or 429 before anything is done."""
    lost_reply_rate: float = 0.0
    """Fraction of commits that are applied but answered 500, as if the reply was lost."""
    slow_rate: float = 0.0
    """Fraction of Hub requests delayed by `slow_seconds`."""
    slow_seconds: float = 0.5
    data_dir: Path | None = None
    """Where state is kept across restarts; None keeps everything in memory."""
    oauth_clients: dict[str, str] = field(
        default_factory=lambda: {"heldout-local": "heldout-local-secret"}
    )
    """OpenID Connect client id -> client secret."""
    seed: int | None = None
    """Seed for fault injection and ids, for reproducible runs."""
    paths_info: bool = True
    """False answers `paths-info` with a plain 404, as a Hub-compatible server without it."""

    def __post_init__(self) -> None:
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir)
        validate_live(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update from the admin API, refusing unknown or ill-typed fields."""
        for key, value in changes.items():
            allowed = LIVE_FIELDS.get(key)
            if allowed is None:
                raise ValueError(f"setting {key!r} cannot be changed at run time")
            if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
                raise ValueError(f"setting {key!r} has the wrong type")
        candidate = {f.name: getattr(self, f.name) for f in fields(self)}
        candidate.update(changes)
        validate_live_values(candidate)
        for key, value in changes.items():
            setattr(self, key, value)


def validate_live(settings: EmulatorSettings) -> None:
    validate_live_values({name: getattr(settings, name) for name in LIVE_FIELDS})


def validate_live_values(values: dict[str, Any]) -> None:
    """Rates are fractions and sizes positive; a bad value is refused before it is used."""
    for name in ("fault_rate", "lost_reply_rate", "slow_rate"):
        if not 0.0 <= float(values[name]) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    if float(values["slow_seconds"]) < 0:
        raise ValueError("slow_seconds must not be negative")
    if int(values["page_size"]) < 1:
        raise ValueError("page_size must be at least 1")
    quota = values["commit_quota_per_hour"]
    if quota is not None and int(quota) < 0:
        raise ValueError("commit_quota_per_hour must not be negative")
