"""`heldout reveal --publish-salt`: the salt of the test-set commitment, and optionally
the test set itself, published in the results repo once the reveal has happened.

`heldout deploy` published the salted commitment in the results card and kept the salt
in the benchmark folder (`commitment-salt.txt`). With the salt published next to it,
anyone can run `heldout verify --results REPO --test-set FILE`. The salt is what keeps
the labels of a small test set from being guessed from the commitment, so it goes out
only after the reveal, and only if it is right: the salt and the test set at
`evaluator.truth` must give the commitment the card shows, or nothing is published
(a salt that made `verify` fail would accuse the benchmark wrongly).
"""

from __future__ import annotations

from dataclasses import dataclass

from heldout.commitment import (
    SALT_FILE,
    canonical_file,
    check_hex,
    commit,
    from_card,
    salt_lines,
)
from heldout.config import Config
from heldout.errors import ConfigError, HeldoutError, RevealError
from heldout.queue.jobs import JobQueue
from heldout.queue.reveal import Reveal
from heldout.queue.splits import SPLIT_COLUMN
from heldout.queue.store import Add

CARD = "README.md"
LABELS_PATH = "test-set/canonical.jsonl"  # in the results repo


@dataclass(frozen=True)
class SaltPublished:
    """What the results repo says now; `changed`: this call made the commit."""

    salt: str
    commitment: str
    labels_path: str | None
    changed: bool

    def __post_init__(self) -> None:
        check_hex(self.salt, "the salt")
        check_hex(self.commitment, "the commitment")


def publish_salt(config: Config, queue: JobQueue, labels: bool = False) -> SaltPublished:
    """Check everything, then write the salt (and the test set) in one results commit.
    Refuses, changing nothing, when any check fails; a second call changes nothing."""
    from heldout.evaluator.scoring import load_truth

    if config.evaluator is None or config.source is None:
        raise ConfigError("publishing the salt needs the evaluator's heldout.toml (the test set)")
    if queue.results is None:
        raise ConfigError("publishing the salt needs the results repo (storage.results_repo)")
    path = config.source.parent / SALT_FILE
    if not path.is_file():
        raise HeldoutError(
            f"there is no {SALT_FILE} next to this heldout.toml: `heldout deploy` writes it "
            "there with the commitment. Run this command from the folder you deployed from; "
            "nothing was published"
        )
    salt = check_hex(path.read_text(encoding="utf-8"), f"the salt in {SALT_FILE}")
    bench = config.benchmark
    truth = load_truth(config.evaluator.truth, bench)
    if SPLIT_COLUMN in truth.columns and Reveal(queue).published() is None:
        raise RevealError(
            "the private scores have not been revealed yet, and the salt would let anyone "
            "guess the hidden labels from the commitment: run `heldout reveal --by …` "
            "first; nothing was published"
        )
    found = commit(truth, salt, bench.id_column)
    wanted = LABELS_PATH if labels else None
    outcome: list[SaltPublished] = []

    def change(files: dict[str, bytes | None]) -> list[Add] | None:
        card = (files[CARD] or b"").decode("utf-8")
        committed, shown_salt, shown_labels = from_card(card)
        if committed is None:
            raise HeldoutError(
                "the results card shows no test-set commitment (`heldout deploy` writes it); "
                "nothing was published"
            )
        if found != committed:
            raise HeldoutError(
                f"the salt in {SALT_FILE} and the test set at evaluator.truth do not give the "
                "commitment the results card shows: `heldout verify` would then fail, so "
                "nothing was published. Check that evaluator.truth is the test set deployed"
            )
        labels_path = shown_labels or wanted
        done = shown_salt == salt and labels_path == shown_labels
        outcome[:] = [SaltPublished(salt, committed, labels_path, not done)]
        if done:
            return None
        ops = [Add(CARD, _with_salt(card, salt, labels_path).encode("utf-8"))]
        if wanted and not shown_labels:
            ops.append(Add(LABELS_PATH, canonical_file(truth, bench.id_column)))
        return ops

    queue.results.rewrite_files([CARD], change, "Publish the test-set salt (heldout reveal)")
    return outcome[0]


def _with_salt(card: str, salt: str, labels_path: str | None) -> str:
    """The card with the salt's lines right after the commitment's (replacing old ones)."""
    ours = ("Test-set salt (published", "The test set itself, in the canonical")
    keep: list[str] = []
    for line in card.split("\n"):
        if line.startswith(ours):
            if keep and not keep[-1]:  # with the blank line salt_lines put before it
                keep.pop()
            continue
        keep.append(line)
    at = next(n for n, line in enumerate(keep) if "Test-set commitment (salted" in line) + 1
    return "\n".join(keep[:at] + salt_lines(salt, labels_path) + keep[at:])


__all__ = ["LABELS_PATH", "SaltPublished", "publish_salt"]
