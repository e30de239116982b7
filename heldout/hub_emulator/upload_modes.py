"""How the Hub answers `preupload`: which files must travel outside git ("lfs").

The Hub sends a file through LFS (and so, for `huggingface_hub` with `hf_xet`, through
Xet) when it is binary, when it is larger than 10 MiB (git pushes of larger files
are refused with "files larger than 10 MiB"), or when the repo's `.gitattributes`
tracks its name with `filter=lfs`. Everything else is "regular": inline in the commit.

Pure: the caller passes the sample the client sent and the `.gitattributes` text.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

LARGE_FILE = 10 * 1024 * 1024
"""Files larger than this many bytes always go through LFS."""


def is_binary(sample: bytes) -> bool:
    """A NUL byte or bytes that are not UTF-8 make a file binary.

    The sample is the file's first 512 bytes, so a character cut at its end is not a sign.
    """
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        cut_at_end = error.reason == "unexpected end of data" and error.end == len(sample)
        return not cut_at_end
    return False


def lfs_patterns(gitattributes: bytes) -> list[str]:
    """The patterns a `.gitattributes` file marks `filter=lfs`."""
    patterns = []
    for line in gitattributes.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def tracked(path: str, patterns: list[str]) -> bool:
    """Whether git would apply one of `patterns` to `path` (a pattern without a slash
    matches the file name in any folder; one with a slash matches from the root)."""
    name = path.rpartition("/")[2]
    for pattern in patterns:
        if "/" in pattern.strip("/"):
            if fnmatchcase(path, pattern.lstrip("/")):
                return True
        elif fnmatchcase(name, pattern.strip("/")):
            return True
    return False


def upload_mode(path: str, sample: bytes, size: int, patterns: list[str]) -> str:
    if size > LARGE_FILE or is_binary(sample) or tracked(path, patterns):
        return "lfs"
    return "regular"
