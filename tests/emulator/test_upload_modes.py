"""How preupload picks "lfs" or "regular", without a server."""

from __future__ import annotations

import pytest

from heldout.hub_emulator.repos import GITATTRIBUTES
from heldout.hub_emulator.upload_modes import LARGE_FILE, is_binary, lfs_patterns, upload_mode

PATTERNS = lfs_patterns(GITATTRIBUTES)


@pytest.mark.parametrize(
    ("sample", "binary"),
    [
        (b"plain text\n", False),
        ("naïve café".encode(), False),
        ("ends inside a character: é".encode()[:-1], False),  # the 512-byte sample cut it
        (b"PAR1\x15\x04\x15\x00", True),  # a parquet header: NUL bytes
        ("latin-1 é".encode("latin-1") + b" and more", True),
    ],
)
def test_binary_means_a_nul_byte_or_bytes_that_are_not_utf8(sample: bytes, binary: bool) -> None:
    assert is_binary(sample) is binary


def test_upload_mode_by_content_size_and_gitattributes() -> None:
    assert upload_mode("a.json", b"{}", 2, PATTERNS) == "regular"
    assert upload_mode("a.json", b"{}", LARGE_FILE + 1, PATTERNS) == "lfs"
    assert upload_mode("a.json", b"{}", LARGE_FILE, PATTERNS) == "regular"
    assert upload_mode("deep/results.parquet", b"text", 4, PATTERNS) == "lfs"
    assert upload_mode("a.csv", b"\x00", 1, PATTERNS) == "lfs"
    rooted = lfs_patterns(b"data/*.csv filter=lfs diff=lfs merge=lfs -text\n# c filter=lfs\n")
    assert rooted == ["data/*.csv"]
    assert upload_mode("data/x.csv", b"a,b", 3, rooted) == "lfs"
    assert upload_mode("other/data/x.csv", b"a,b", 3, rooted) == "regular"
