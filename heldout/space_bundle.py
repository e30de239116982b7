"""What makes a Space self-contained: a wheel of the running heldout and pinned requirements.

heldout is not on PyPI, so a Space could not `pip install heldout`. Deploy therefore
builds a wheel from the heldout that is running now (the code the maintainer tested),
uploads it into each Space, and writes a `requirements.txt` that points at it by a
path relative to the repo root (a Space runs pip from there), followed by every
dependency pinned to the version installed here: the versions that were tested.

The wheel is written by hand (a wheel is a zip with a `.dist-info` folder), so no
build backend, no network and no `build/` folder in the source tree are needed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import sys
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import heldout

DIST = "heldout"
WHEEL_DIR = "wheels"
_SKIP_PARTS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
# Extras of heldout's own requirements that a Space needs (none: the test tools stay out).
_EXTRAS: tuple[str, ...] = ()


def wheel_name(version: str | None = None) -> str:
    return f"{DIST}-{version or heldout.__version__}-py3-none-any.whl"


def _package_files() -> list[tuple[str, Path]]:
    """Every file of the running `heldout` package, as (path in the wheel, file on disk)."""
    root = Path(heldout.__file__).resolve().parent
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (
            path.is_file()
            and not _SKIP_PARTS & set(rel.parts)
            and path.suffix not in _SKIP_SUFFIXES
        ):
            files.append((f"{DIST}/{rel.as_posix()}", path))
    return files


def _requires() -> list[str]:
    try:
        return list(metadata.distribution(DIST).requires or [])
    except metadata.PackageNotFoundError:  # running from a bare source tree
        return []


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(dest: Path) -> Path:
    """Write the wheel of the running heldout into `dest`; returns its path."""
    version = heldout.__version__
    info = f"{DIST}-{version}.dist-info"
    runtime = [r for r in _requires() if "extra ==" not in r]
    meta = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {version}"]
        + [f"Requires-Dist: {r}" for r in runtime]
    )
    extra_files = {
        f"{info}/METADATA": (meta + "\n").encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: heldout\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\nheldout = heldout.cli:main\n",
    }
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel_name(version)
    record = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in _package_files():
            data = path.read_bytes()
            zf.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data)
            record.append(_record_line(arcname, data))
        for arcname, data in extra_files.items():
            zf.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data)
            record.append(_record_line(arcname, data))
        record.append(f"{info}/RECORD,,")
        zf.writestr(
            zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
            "\n".join(record) + "\n",
        )
    return target


def pinned_requirements() -> list[str]:
    """heldout's runtime dependencies and theirs, each pinned to the installed version."""
    env = default_environment()
    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = []

    def add(spec: str, extras: frozenset[str]) -> None:
        req = Requirement(spec)
        if req.marker is not None and not any(
            req.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""})
        ):
            return
        todo.append((req.name, frozenset(req.extras)))

    for spec in _requires():
        add(spec, frozenset(_EXTRAS))
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed here is not needed
        pins[canonicalize_name(name)] = dist.version
        for spec in dist.requires or []:
            add(spec, extras)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def requirements_text(wheel: str) -> str:
    """The Space's requirements.txt: the wheel by its path from the repo root, then the pins."""
    python = ".".join(map(str, sys.version_info[:2]))
    lines = [
        "# Written by `heldout deploy`: heldout's own wheel (it is not on PyPI), then every",
        f"# dependency pinned to the version tested with it (Python {python}).",
        f"./{WHEEL_DIR}/{wheel}",
        *pinned_requirements(),
    ]
    return "\n".join(lines) + "\n"
