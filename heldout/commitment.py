"""A salted commitment to the test set, published at launch and checkable by anyone.

At `heldout deploy` the maintainer publishes

    commitment = sha256( b"heldout-commitment-v1\\n" + salt + b"\\n" + canonical(test set) )

in the results dataset card, and keeps the salt (64 hex digits, random) to themselves.
Without the salt the commitment tells nothing about the labels, even for a small test
set. At the reveal the maintainer may publish the salt (and the labels); then
`heldout verify` lets anyone check that the test set used is the one committed to at
launch. Every result row carries the test set's (unsalted) fingerprint besides.

The canonical encoding (docs/API.md has it too) is the one of the fingerprint: the rows
sorted by id; then, for each column in the order of its name (ids, labels, the split
and whatever else the file holds), the compact UTF-8 JSON of `[name, [value, …]]`, with
missing values as `null`. The file's format, its row order and its column order do not
change it; any changed id, label or split does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from heldout.errors import HeldoutError

COMMITMENT_VERSION = b"heldout-commitment-v1\n"
FINGERPRINT_VERSION = b"heldout-truth-v1\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class CommitmentError(HeldoutError, ValueError):
    """A commitment or a salt that is not what `heldout deploy` publishes."""


def canonical_chunks(truth: pd.DataFrame, id_column: str = "id") -> Iterator[bytes]:
    """The test set's canonical encoding, one column at a time."""
    ordered = truth.sort_values(id_column, kind="stable", ignore_index=True)
    for name in sorted(map(str, ordered.columns)):
        column = ordered[name]
        values = column.astype(object).where(column.notna(), None).tolist()
        text = json.dumps([name, values], ensure_ascii=False, separators=(",", ":"), default=str)
        yield text.encode("utf-8")


def fingerprint(truth: pd.DataFrame, id_column: str = "id") -> str:
    """sha256 of the canonical test set, unsalted: the `test_fingerprint` of every row."""
    digest = hashlib.sha256(FINGERPRINT_VERSION)
    for chunk in canonical_chunks(truth, id_column):
        digest.update(chunk)
    return digest.hexdigest()


def new_salt() -> str:
    return secrets.token_hex(32)


def check_hex(value: str, what: str) -> str:
    value = value.strip().lower()
    if not _HEX64.fullmatch(value):
        raise CommitmentError(f"{what} must be 64 hexadecimal digits (as the card shows it)")
    return value


def commit(truth: pd.DataFrame, salt: str, id_column: str = "id") -> str:
    """The salted commitment to this test set."""
    digest = hashlib.sha256(COMMITMENT_VERSION + check_hex(salt, "the salt").encode() + b"\n")
    for chunk in canonical_chunks(truth, id_column):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Verdict:
    matches: bool
    fingerprint: str  # of the test set checked: compare it with the rows' test_fingerprint

    def sentence(self) -> str:
        if self.matches:
            return "match: this test set is the one committed to"
        return (
            "MISMATCH: this test set (or this salt) is not the one committed to; "
            "the benchmark's test set differs from this file"
        )


def verify(truth: pd.DataFrame, commitment: str, salt: str, id_column: str = "id") -> Verdict:
    expected = check_hex(commitment, "the commitment")
    found = commit(truth, salt, id_column)
    return Verdict(hmac.compare_digest(found, expected), fingerprint(truth, id_column))


def card_lines(commitment: str) -> list[str]:
    """The results card's lines for the commitment (`cards.results_card(extra_lines=…)`)."""
    return [
        "",
        f"Test-set commitment (salted SHA-256): `{commitment}`. At the reveal the "
        "maintainer may publish the salt; then anyone can check the test set with "
        "`heldout verify --commitment … --test-set FILE --salt …`.",
    ]


SALT_FILE = "commitment-salt.txt"
COMMITMENT_LINE = re.compile(r"Test-set commitment \(salted SHA-256\): `([0-9a-f]{64})`")
SALT_LINE = re.compile(r"Test-set salt \(published at the reveal\): `([0-9a-f]{64})`")
LABELS_LINE = re.compile(r"The test set itself, in the canonical encoding: `([^`]+)`")


def salt_lines(salt: str, labels_path: str | None) -> list[str]:
    """The results card's lines once the salt (and the test set) are published."""
    lines = [
        "",
        f"Test-set salt (published at the reveal): `{check_hex(salt, 'the salt')}`. Check "
        "the commitment with `heldout verify --results <this dataset> --test-set FILE`.",
    ]
    if labels_path:
        lines += [
            "",
            f"The test set itself, in the canonical encoding: `{labels_path}` (one line per "
            "column, `[name, [values…]]`, rows sorted by id; the lines joined with no "
            "separator are the bytes the commitment hashes).",
        ]
    return lines


def from_card(text: str) -> tuple[str | None, str | None, str | None]:
    """What a results card says: (commitment, salt, path of the published test set)."""
    found = [rx.search(text) for rx in (COMMITMENT_LINE, SALT_LINE, LABELS_LINE)]
    commitment, salt, labels = (m.group(1) if m else None for m in found)
    return commitment, salt, labels


def canonical_file(truth: pd.DataFrame, id_column: str = "id") -> bytes:
    """The canonical encoding as a file: one chunk (column) per line."""
    return b"".join(chunk + b"\n" for chunk in canonical_chunks(truth, id_column))


def read_canonical(data: bytes) -> pd.DataFrame:
    """A test set back from `canonical_file` (raises CommitmentError if it is not one)."""
    columns: dict[str, list[object]] = {}
    try:
        for line in data.split(b"\n"):  # (not splitlines: a value may hold U+2028)
            if line.strip():
                name, values = json.loads(line.decode("utf-8"))
                columns[str(name)] = list(values)
        frame = pd.DataFrame(columns)
    except (ValueError, TypeError) as exc:
        raise CommitmentError(
            "this file is not a test set in the canonical encoding (one JSON "
            "[name, [values…]] per line, every column of one length)"
        ) from exc
    if frame.empty:
        raise CommitmentError("this canonical test set file has no rows")
    return frame


def commit_for_deploy(truth: pd.DataFrame, folder: Path, id_column: str = "id") -> str:
    """The commitment `heldout deploy` publishes. The salt is made once and kept in
    `folder`/commitment-salt.txt (readable by its owner only, never uploaded): the same
    test set deployed twice keeps one commitment, and the salt is there for the reveal."""
    path = Path(folder) / SALT_FILE
    if path.exists():
        salt = check_hex(path.read_text(encoding="utf-8"), f"the salt in {path.name}")
    else:
        salt = new_salt()
        path.write_text(salt + "\n", encoding="utf-8")
        path.chmod(0o600)
    return commit(truth, salt, id_column)


def rescore_line(old: str | None, new: str, when: str, by: str) -> str:
    """One line of the card's record of test-set changes."""
    before = f"`{old[:16]}…`" if old else "an unrecorded test set"
    return (
        f"- {when}: the test set was replaced ({before} -> `{new[:16]}…`) and every "
        f"submission re-scored on the new one, by {by}."
    )


__all__ = [
    "CommitmentError",
    "Verdict",
    "canonical_chunks",
    "canonical_file",
    "card_lines",
    "check_hex",
    "commit",
    "commit_for_deploy",
    "fingerprint",
    "from_card",
    "new_salt",
    "read_canonical",
    "rescore_line",
    "salt_lines",
    "verify",
]
