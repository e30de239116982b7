"""The emulated Xet CAS: which xorbs and files it holds, checked the way the spec allows.

- A xorb is accepted only if its chunks parse, unpack to the sizes their headers
  give, and their Merkle root equals the hash it was uploaded under.
- A shard is accepted only if every term names a stored xorb and a chunk range inside
  it, with the right unpacked size and verification hash; the file's bytes, put back
  together from the xorbs, must hash to the file hash the shard claims, and to its
  sha256 when the shard carries one. Those bytes are handed back, so that `resolve`
  can serve them to readers that do not speak Xet.
- A reconstruction (whole file or a byte range) is planned from the terms: which chunk
  ranges of which xorbs, at which byte ranges of the stored xorbs.

Pure bookkeeping: bytes come in through arguments, nothing here reads or writes disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from heldout.hub_emulator.xet_format import (
    MAX_XORB,
    Chunk,
    Term,
    XetFormatError,
    chunk_hash,
    decompress,
    file_hash,
    hash_hex,
    merkle_root,
    parse_chunks,
    parse_shard,
    verification_hash,
)


@dataclass(frozen=True)
class StoredXorb:
    chunks: tuple[Chunk, ...]
    hashes: tuple[bytes, ...]
    size: int


@dataclass(frozen=True)
class XetFile:
    file_hash: str
    sha256: str
    size: int
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class PlannedTerm:
    """One term of a reconstruction answer, with the xorb bytes `[first, last]` it needs."""

    xorb: str
    start: int
    end: int
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class Plan:
    offset_into_first_range: int
    terms: tuple[PlannedTerm, ...]


def index_xorb(data: bytes) -> tuple[str, StoredXorb]:
    """The hash a xorb's contents give, and its chunk index; raises if it is malformed."""
    if len(data) > MAX_XORB:
        raise XetFormatError(f"a xorb is at most {MAX_XORB} bytes")
    chunks = parse_chunks(data)
    if not chunks:
        raise XetFormatError("a xorb holds at least one chunk")
    hashes = tuple(chunk_hash(decompress(data, chunk)) for chunk in chunks)
    root = merkle_root([(h, c.size) for h, c in zip(hashes, chunks, strict=True)])
    return hash_hex(root), StoredXorb(tuple(chunks), hashes, chunks[-1].end)


class CasIndex:
    """Xorbs by hash, files by Xet hash, the Xet hash of each file sha256, and the repos
    (`(type, id)`) that uploaded or hold each file: a CAS token reads only its repo's."""

    def __init__(self) -> None:
        self.xorbs: dict[str, StoredXorb] = {}
        self.files: dict[str, XetFile] = {}
        self.by_sha256: dict[str, str] = {}
        self.owners: dict[str, set[tuple[str, str]]] = {}

    def add_xorb(self, xorb_hash: str, stored: StoredXorb) -> None:
        self.xorbs[xorb_hash] = stored

    def add_file(self, file: XetFile) -> None:
        self.files[file.file_hash] = file
        self.by_sha256.setdefault(file.sha256, file.file_hash)

    def add_owner(self, file_hash: str, repo: tuple[str, str]) -> None:
        self.owners.setdefault(file_hash, set()).add(repo)

    def check_shard(
        self, data: bytes, read_xorb: Callable[[str], bytes]
    ) -> list[tuple[XetFile, bytes]]:
        """Each file the shard describes, with its bytes; raises `XetFormatError` if any
        part of the shard disagrees with the stored xorbs."""
        shard = parse_shard(data)
        cache: dict[str, bytes] = {}
        result = []
        for info in shard.files:
            if info.verification and len(info.verification) != len(info.terms):
                raise XetFormatError(f"file {info.file_hash}: one verification entry per term")
            parts: list[bytes] = []
            nodes: list[tuple[bytes, int]] = []
            for number, term in enumerate(info.terms):
                stored = self.xorbs.get(term.xorb)
                if stored is None:
                    raise XetFormatError(
                        f"file {info.file_hash}: xorb {term.xorb} was never uploaded"
                    )
                if term.end > len(stored.chunks):
                    raise XetFormatError(
                        f"file {info.file_hash}: chunks past the end of {term.xorb}"
                    )
                chunks = stored.chunks[term.start : term.end]
                if sum(chunk.size for chunk in chunks) != term.size:
                    raise XetFormatError(f"file {info.file_hash}: term {number} has the wrong size")
                hashes = stored.hashes[term.start : term.end]
                if (
                    info.verification
                    and verification_hash(list(hashes)) != info.verification[number]
                ):
                    raise XetFormatError(
                        f"file {info.file_hash}: term {number} fails its verification hash"
                    )
                if term.xorb not in cache:
                    cache[term.xorb] = read_xorb(term.xorb)
                parts.extend(decompress(cache[term.xorb], chunk) for chunk in chunks)
                nodes.extend((h, chunk.size) for h, chunk in zip(hashes, chunks, strict=True))
            if hash_hex(file_hash(nodes)) != info.file_hash:
                raise XetFormatError(f"file {info.file_hash}: the chunks hash to another file")
            content = b"".join(parts)
            sha256 = hashlib.sha256(content).hexdigest()
            if info.sha256 is not None and info.sha256 != sha256:
                raise XetFormatError(f"file {info.file_hash}: the sha256 does not match the bytes")
            result.append((XetFile(info.file_hash, sha256, len(content), info.terms), content))
        return result

    def plan(self, file_hash_text: str, first: int, last: int) -> Plan:
        """The chunk runs that cover file bytes `[first, last]` (inclusive, within the file)."""
        file = self.files[file_hash_text]
        planned: list[PlannedTerm] = []
        offset = 0
        position = 0  # file offset of the current chunk
        for term in file.terms:
            stored = self.xorbs[term.xorb]
            chosen: list[int] = []
            for index in range(term.start, term.end):
                size = stored.chunks[index].size
                if position + size > first and position <= last:
                    if not planned and not chosen:
                        offset = first - position
                    chosen.append(index)
                position += size
            if chosen:
                start, end = chosen[0], chosen[-1] + 1
                planned.append(
                    PlannedTerm(
                        xorb=term.xorb,
                        start=start,
                        end=end,
                        size=sum(c.size for c in stored.chunks[start:end]),
                        first=stored.chunks[start].start,
                        last=stored.chunks[end - 1].end - 1,
                    )
                )
            if position > last:
                break
        return Plan(offset, tuple(planned))


Run = tuple[int, int, int, int]
"""A run of chunks of one xorb: `(chunk start, chunk end, first byte, last byte)`."""


def runs_by_xorb(terms: tuple[PlannedTerm, ...]) -> dict[str, list[Run]]:
    """The distinct chunk runs a plan needs from each xorb, ascending (one pass)."""
    runs: dict[str, set[Run]] = {}
    for t in terms:
        runs.setdefault(t.xorb, set()).add((t.start, t.end, t.first, t.last))
    return {xorb: sorted(found) for xorb, found in runs.items()}


def merged(runs: list[Run]) -> list[Run]:
    """Ascending runs of one xorb, merged where they overlap or touch."""
    out: list[Run] = []
    for run in runs:
        if out and run[0] <= out[-1][1]:
            last = out[-1]
            if run[1] > last[1]:
                out[-1] = (last[0], run[1], last[2], run[3])
        else:
            out.append(run)
    return out
