"""Running the `heldout` command in-process, as a user would from a shell."""

from __future__ import annotations

import pytest

from heldout.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
