"""`heldout verify`: anyone checks a published test-set commitment against a test set.

Needs no config and no network: the commitment (from the results dataset card), the
test set file and, once the maintainer has published it at the reveal, the salt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from heldout.errors import HeldoutError


def register(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify", help="check a test set against the commitment in the results card"
    )
    verify.add_argument("--commitment", required=True, help="the card's 64-hex-digit commitment")
    verify.add_argument(
        "--test-set", required=True, type=Path, help="the test set (.parquet, .csv or .jsonl)"
    )
    verify.add_argument("--salt", help="the salt the maintainer published at the reveal")
    verify.add_argument("--id-column", default="id", help="the test set's id column")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from heldout.commitment import check_hex, fingerprint, verify
    from heldout.config import BenchmarkConfig
    from heldout.evaluator.scoring import load_truth

    check_hex(args.commitment, "--commitment")
    bench = BenchmarkConfig(name="verify", primary_metric="score", id_column=args.id_column)
    truth = load_truth(args.test_set, bench)
    if not args.salt:
        print(f"test-set fingerprint: {fingerprint(truth, args.id_column)}")
        raise HeldoutError(
            "the commitment is salted: --salt is needed (the maintainer publishes it at the "
            "reveal). Meanwhile, compare the fingerprint above with the results' test_fingerprint"
        )
    verdict = verify(truth, args.commitment, args.salt, args.id_column)
    print(verdict.sentence())
    print(f"test-set fingerprint: {verdict.fingerprint}")
    return 0 if verdict.matches else 2
