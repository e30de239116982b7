"""Constants and small helpers shared by the emulator's tests."""

from __future__ import annotations

from huggingface_hub import CommitOperationAdd

ALICE = "hf_test_alice"
BOB = "hf_test_bob"


def add(path: str, content: bytes = b"x") -> list[CommitOperationAdd]:
    return [CommitOperationAdd(path, content)]
