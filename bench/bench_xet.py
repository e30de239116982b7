"""What the binary path costs on the emulator: one upload and one download of a small
file, inline ("regular") against through Xet, with the requests each makes.

Parquet results and predictions take the Xet path (as on the Hub), so this is the
price each of those reads and writes pays in the test suite and on a worker.

    .venv/bin/python bench/bench_xet.py [--files 20] [--size 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-bench-hfhome-")

from huggingface_hub import HfApi, hf_hub_download  # noqa: E402

from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402

TOKEN = "hf_test_bench"


def run(server: EmulatorServer, api: HfApi, kind: str, files: int, size: int) -> None:
    repo = f"bench/{kind}"
    api.create_repo(repo, repo_type="dataset")
    payloads = [
        (os.urandom(size // 2).hex().encode()[:size] if kind == "text" else os.urandom(size))
        for _ in range(files)
    ]
    for step in ("upload", "download"):
        server.reset_counters()
        times = []
        for number, payload in enumerate(payloads):
            start = time.perf_counter()
            if step == "upload":
                api.upload_file(
                    path_or_fileobj=payload,
                    path_in_repo=f"f{number}",
                    repo_id=repo,
                    repo_type="dataset",
                )
            else:
                path = hf_hub_download(
                    repo, f"f{number}", repo_type="dataset", endpoint=server.url, token=TOKEN
                )
                assert Path(path).read_bytes() == payload
            times.append(time.perf_counter() - start)
        counts = Counter(server.counters())
        per_file = {name: round(count / files, 1) for name, count in sorted(counts.items())}
        print(
            f"{kind:>6} {step:<8} median {statistics.median(times) * 1000:6.1f} ms"
            f"  requests per file {sum(counts.values()) / files:4.1f}  {per_file}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size", type=int, default=20_000)
    args = parser.parse_args()
    with EmulatorServer(EmulatorSettings()) as server:
        api = HfApi(endpoint=server.url, token=TOKEN)
        for kind in ("text", "binary"):
            run(server, api, kind, args.files, args.size)


if __name__ == "__main__":
    main()
