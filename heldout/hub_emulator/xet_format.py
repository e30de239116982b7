"""The Xet protocol's binary objects, read as its public specification describes them.

- hashes: a chunk hash is a keyed blake3 of the chunk; xorb and file hashes are the
  root of an aggregated Merkle tree over `(chunk hash, size)` pairs; a term's
  verification hash is a keyed blake3 of its chunk hashes. Hashes travel as 64 hex
  digits made from four little-endian 64-bit words, not from the 32 bytes in order;
- a xorb: a run of chunks, each an 8-byte header (version 0, compressed size,
  compression scheme, uncompressed size) and its bytes (none, LZ4 frame, or
  byte-grouping-4 then LZ4), optionally followed by a footer that starts `XETBLOB`;
- a shard: a 48-byte header, the file info section (per file: header, terms,
  optional verification entries, optional sha256), the CAS info section (per xorb:
  header and chunk entries), each section closed by a bookend, then an optional footer.

Pure: bytes in, plain data out; a malformed object raises `XetFormatError`, a
`ValueError` whose text says what is wrong and where.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import blake3
import lz4.frame

DATA_KEY = bytes(
    [102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
     157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41]
)  # fmt: skip
INTERNAL_NODE_KEY = bytes(
    [1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
     93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63]
)  # fmt: skip
VERIFICATION_KEY = bytes(
    [127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
     164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195]
)  # fmt: skip
ZERO_KEY = bytes(32)

CHUNK_HEADER = 8
MAX_CHUNK = 128 * 1024
MAX_XORB = 64 * 1024 * 1024
XORB_FOOTER_TAG = b"XETBLOB"
SHARD_HEADER_VERSION = 2
ENTRY = 48
BOOKEND = b"\xff" * 32
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
COMPRESSION_NONE, COMPRESSION_LZ4, COMPRESSION_BG4_LZ4 = 0, 1, 2


class XetFormatError(ValueError):
    """A xorb or shard that does not follow the specification."""


# --------------------------------------------------------------------- hashes
def hash_hex(raw: bytes) -> str:
    """The API's string form of a 32-byte hash: each 8-byte word read little-endian."""
    words = struct.unpack("<4Q", raw)
    return "".join(f"{word:016x}" for word in words)


def hash_raw(text: str) -> bytes:
    """The 32 bytes behind a hash string; raises `XetFormatError` for anything else."""
    if len(text) != 64:
        raise XetFormatError(f"a hash has 64 hex digits, not {len(text)}")
    try:
        return struct.pack("<4Q", *(int(text[i : i + 16], 16) for i in range(0, 64, 16)))
    except ValueError as error:
        raise XetFormatError("a hash has only hex digits") from error


def chunk_hash(data: bytes) -> bytes:
    return blake3.blake3(data, key=DATA_KEY).digest()


def _merge(nodes: list[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_hex(h)} : {size}\n" for h, size in nodes)
    return blake3.blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(s for _, s in nodes)


def _next_cut(nodes: list[tuple[bytes, int]], start: int) -> int:
    """End of the next group: at least 2 nodes, at most 9, cut after a hash whose last
    word is divisible by 4 (the tree's mean branching factor)."""
    left = len(nodes) - start
    if left <= 2:
        return len(nodes)
    end = min(9, left)
    for offset in range(2, end):
        if struct.unpack_from("<Q", nodes[start + offset][0], 24)[0] % 4 == 0:
            return start + offset + 1
    return start + end


def merkle_root(nodes: list[tuple[bytes, int]]) -> bytes:
    """The aggregated Merkle root over (chunk hash, size) pairs; 32 zero bytes for none."""
    if not nodes:
        return bytes(32)
    level = list(nodes)
    while len(level) > 1:
        merged, start = [], 0
        while start < len(level):
            cut = _next_cut(level, start)
            merged.append(_merge(level[start:cut]))
            start = cut
        level = merged
    return level[0][0]


def file_hash(nodes: list[tuple[bytes, int]]) -> bytes:
    if not nodes:
        return bytes(32)
    return blake3.blake3(merkle_root(nodes), key=ZERO_KEY).digest()


def verification_hash(chunk_hashes: list[bytes]) -> bytes:
    return blake3.blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


# ----------------------------------------------------------------------- xorbs
@dataclass(frozen=True)
class Chunk:
    """One chunk of a xorb: where its header starts and ends in the xorb, and its sizes."""

    start: int
    end: int
    scheme: int
    size: int


def parse_chunks(data: bytes, *, stop_at_footer: bool = True) -> list[Chunk]:
    """The chunks of serialized xorb bytes (headers only: nothing is decompressed)."""
    chunks: list[Chunk] = []
    position = 0
    while position < len(data):
        if stop_at_footer and data.startswith(XORB_FOOTER_TAG, position):
            break
        if position + CHUNK_HEADER > len(data):
            raise XetFormatError(f"chunk {len(chunks)}: truncated header at byte {position}")
        version = data[position]
        packed = int.from_bytes(data[position + 1 : position + 4], "little")
        scheme = data[position + 4]
        size = int.from_bytes(data[position + 5 : position + 8], "little")
        if version != 0:
            raise XetFormatError(f"chunk {len(chunks)}: header version {version}, expected 0")
        if scheme not in (COMPRESSION_NONE, COMPRESSION_LZ4, COMPRESSION_BG4_LZ4):
            raise XetFormatError(f"chunk {len(chunks)}: unknown compression scheme {scheme}")
        if size > MAX_CHUNK or packed > MAX_CHUNK:
            raise XetFormatError(f"chunk {len(chunks)}: larger than {MAX_CHUNK} bytes")
        end = position + CHUNK_HEADER + packed
        if end > len(data):
            raise XetFormatError(f"chunk {len(chunks)}: data runs past the end of the xorb")
        chunks.append(Chunk(position, end, scheme, size))
        position = end
    return chunks


def decompress(data: bytes, chunk: Chunk, base: int = 0) -> bytes:
    """The raw bytes of `chunk`, whose header lies at `chunk.start - base` in `data`."""
    body = data[chunk.start - base + CHUNK_HEADER : chunk.end - base]
    try:
        if chunk.scheme == COMPRESSION_NONE:
            raw = bytes(body)
        elif chunk.scheme == COMPRESSION_LZ4:
            raw = lz4.frame.decompress(body)
        else:
            raw = _ungroup4(lz4.frame.decompress(body))
    except RuntimeError as error:  # lz4 reports corrupt frames as RuntimeError
        raise XetFormatError(f"chunk at byte {chunk.start}: cannot decompress: {error}") from error
    if len(raw) != chunk.size:
        raise XetFormatError(
            f"chunk at byte {chunk.start}: {len(raw)} bytes unpacked, header says {chunk.size}"
        )
    return raw


def _ungroup4(grouped: bytes) -> bytes:
    """Undo byte grouping: the four groups hold bytes 0, 1, 2 and 3 of each 4-byte word."""
    n = len(grouped)
    out = bytearray(n)
    start = 0
    for lane in range(4):
        count = len(range(lane, n, 4))
        out[lane::4] = grouped[start : start + count]
        start += count
    return bytes(out)


# ---------------------------------------------------------------------- shards
@dataclass(frozen=True)
class Term:
    """A run of chunks `[start, end)` of one xorb, `size` bytes once unpacked."""

    xorb: str
    size: int
    start: int
    end: int


@dataclass(frozen=True)
class FileInfo:
    file_hash: str
    terms: tuple[Term, ...]
    verification: tuple[bytes, ...]
    sha256: str | None


@dataclass(frozen=True)
class XorbInfo:
    xorb_hash: str
    chunk_hashes: tuple[bytes, ...]
    chunk_sizes: tuple[int, ...]
    bytes_on_disk: int


@dataclass(frozen=True)
class Shard:
    files: tuple[FileInfo, ...]
    xorbs: tuple[XorbInfo, ...]


SHARD_TAG_PREFIX = b"HFRepoMetaData\x00"  # the readable start of the 32-byte magic tag


def parse_shard(data: bytes) -> Shard:
    """Header, file info and CAS info sections of a shard (the footer, if any, is skipped)."""
    if len(data) < ENTRY:
        raise XetFormatError("a shard starts with a 48-byte header")
    if not data.startswith(SHARD_TAG_PREFIX):
        raise XetFormatError("not a shard: the header tag is wrong")
    version, _footer_size = struct.unpack_from("<QQ", data, 32)
    if version != SHARD_HEADER_VERSION:
        raise XetFormatError(f"shard header version {version}, expected {SHARD_HEADER_VERSION}")
    position = ENTRY
    files: list[FileInfo] = []
    while True:
        entry = _entry(data, position, "file info")
        if entry[:32] == BOOKEND:
            position += ENTRY
            break
        flags, count = struct.unpack_from("<II", entry, 32)
        position += ENTRY
        terms = []
        for _ in range(count):
            row = _entry(data, position, "file term")
            _flags, size, start, end = struct.unpack_from("<IIII", row, 32)
            if end <= start:
                raise XetFormatError(f"term at byte {position}: empty chunk range")
            terms.append(Term(hash_hex(row[:32]), size, start, end))
            position += ENTRY
        checks = []
        if flags & FLAG_VERIFICATION:
            for _ in range(count):
                checks.append(bytes(_entry(data, position, "verification")[:32]))
                position += ENTRY
        sha256 = None
        if flags & FLAG_METADATA_EXT:
            # Stored like the other hashes (little-endian words), not as the digest's bytes.
            sha256 = hash_hex(_entry(data, position, "metadata")[:32])
            position += ENTRY
        files.append(FileInfo(hash_hex(entry[:32]), tuple(terms), tuple(checks), sha256))
    xorbs: list[XorbInfo] = []
    while True:
        entry = _entry(data, position, "CAS info")
        position += ENTRY
        if entry[:32] == BOOKEND:
            break
        _flags, count, _raw_bytes, on_disk = struct.unpack_from("<IIII", entry, 32)
        hashes, sizes = [], []
        for _ in range(count):
            row = _entry(data, position, "CAS chunk")
            hashes.append(bytes(row[:32]))
            sizes.append(struct.unpack_from("<I", row, 36)[0])
            position += ENTRY
        xorbs.append(XorbInfo(hash_hex(entry[:32]), tuple(hashes), tuple(sizes), on_disk))
    return Shard(tuple(files), tuple(xorbs))


def _entry(data: bytes, position: int, what: str) -> memoryview:
    if position + ENTRY > len(data):
        raise XetFormatError(f"shard ends inside a {what} entry at byte {position}")
    return memoryview(data)[position : position + ENTRY]
