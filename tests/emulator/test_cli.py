"""`python -m heldout.hub_emulator` starts, answers, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from heldout.hub_emulator.__main__ import load_users


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_module_serves_until_sigint(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text('[tokens]\nhf_carol = "carol"\n\n[orgs]\nbench-org = ["carol"]\n')
    port = free_port()
    command = [sys.executable, "-m", "heldout.hub_emulator", "--port", str(port)]
    command += ["--users-file", str(users), "--data-dir", str(tmp_path / "data")]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=30)
        assert first_line, "the emulator printed nothing within 30 s"
        url = f"http://127.0.0.1:{port}"
        assert f"HF_ENDPOINT={url}" in first_line[0] and "hf_test_<name>" in first_line[0]
        me = httpx.get(f"{url}/api/whoami-v2", headers={"authorization": "Bearer hf_carol"})
        assert me.json()["name"] == "carol" and me.json()["orgs"][0]["name"] == "bench-org"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def test_a_malformed_users_file_is_refused(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text('[orgs]\nbench-org = "alice"\n')
    with pytest.raises(ValueError, match=r"\[orgs\]"):
        load_users(users)
