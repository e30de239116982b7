"""Session-wide test setup.

huggingface_hub and datasets read HF_ENDPOINT when they are imported, so the shared
emulator's port is chosen here, before any test module imports them, and the
emulator is started on that port on first use.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EMULATOR_PORT = free_port()
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{EMULATOR_PORT}"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_HUB_ETAG_TIMEOUT"] = "10"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-test-hfhome-")
os.environ["HF_DATASETS_CACHE"] = os.path.join(os.environ["HF_HOME"], "datasets")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
for _name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_ID", "SYSTEM"):
    os.environ.pop(_name, None)
# hf_xet builds three HTTP clients per upload or download, each loading every CA
# certificate it finds; scanning SSL_CERT_DIR (hundreds of files) made each Xet transfer
# about 3x slower (bench/bench_xet.py). The bundle file holds the same certificates.
_CA_BUNDLE = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
if os.path.isfile(_CA_BUNDLE):
    os.environ["SSL_CERT_FILE"] = _CA_BUNDLE
    os.environ.pop("SSL_CERT_DIR", None)


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    """The shared Hub emulator at HF_ENDPOINT. Tests use unique repo names on it."""
    from heldout.hub_emulator import EmulatorServer, EmulatorSettings

    server = EmulatorServer(EmulatorSettings(), port=EMULATOR_PORT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def faults(emulator: object) -> Iterator[object]:
    """The shared emulator's live settings; any fault or quota set is undone afterwards."""
    settings = emulator.settings  # type: ignore[attr-defined]
    saved = dict(vars(settings))
    yield settings
    for key, value in saved.items():
        setattr(settings, key, value)
    from heldout.queue.governor import reset_governor

    reset_governor()  # forget any 429 the faults caused, so later tests do not wait it out
