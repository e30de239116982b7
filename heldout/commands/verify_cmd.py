"""`heldout verify`: anyone checks a published test-set commitment against a test set.

Needs no config: the commitment (from the results dataset card), the test set file and,
once the maintainer has published it at the reveal, the salt. With `--results REPO` the
card is read from the Hub and gives the commitment and the salt (and, when the
maintainer published it, the test set itself); explicit flags win over the card.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from heldout.errors import HeldoutError


def register(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify", help="check a test set against the commitment in the results card"
    )
    verify.add_argument("--commitment", help="the card's 64-hex-digit commitment")
    verify.add_argument(
        "--results",
        metavar="REPO",
        help="the results dataset on the Hub: its card gives the commitment and the salt",
    )
    verify.add_argument("--endpoint", help="the Hub's address (default: HF_ENDPOINT or the Hub)")
    verify.add_argument(
        "--test-set",
        type=Path,
        help="the test set (.parquet, .csv, .jsonl, or the published .canonical.jsonl); with "
        "--results, the one the maintainer published is used when this is left out",
    )
    verify.add_argument("--salt", help="the salt the maintainer published at the reveal")
    verify.add_argument("--id-column", default="id", help="the test set's id column")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from heldout.commitment import check_hex, fingerprint, from_card, read_canonical, verify
    from heldout.config import BenchmarkConfig
    from heldout.evaluator.scoring import load_truth

    commitment, salt, test_set = args.commitment, args.salt, args.test_set
    published: bytes | None = None
    if args.results:
        card_commitment, card_salt, labels = from_card(_read(args, "README.md").decode("utf-8"))
        if commitment is None and card_commitment is None:
            raise HeldoutError(f"the card of {args.results} shows no test-set commitment")
        commitment, salt = commitment or card_commitment, salt or card_salt
        if test_set is None and labels is not None:
            published = _read(args, labels)
    if commitment is None:
        raise HeldoutError("give --commitment (from the results card) or --results REPO")
    if test_set is None and published is None:
        raise HeldoutError("give --test-set FILE (the maintainer has not published the test set)")
    check_hex(commitment, "--commitment")
    if published is not None:
        truth = read_canonical(published)
        print(f"checking the test set published in {args.results}")
    elif test_set.name.endswith(".canonical.jsonl"):
        truth = read_canonical(test_set.read_bytes())
    else:
        bench = BenchmarkConfig(name="verify", primary_metric="score", id_column=args.id_column)
        truth = load_truth(test_set, bench)
    if not salt:
        print(f"test-set fingerprint: {fingerprint(truth, args.id_column)}")
        raise HeldoutError(
            "the commitment is salted: --salt is needed (the maintainer publishes it at the "
            "reveal). Meanwhile, compare the fingerprint above with the results' test_fingerprint"
        )
    verdict = verify(truth, commitment, salt, args.id_column)
    print(verdict.sentence())
    print(f"test-set fingerprint: {verdict.fingerprint}")
    return 0 if verdict.matches else 2


def _read(args: argparse.Namespace, path: str) -> bytes:
    """A file of the public results dataset, read with the real Hub client."""
    from huggingface_hub import hf_hub_download

    try:
        local = hf_hub_download(args.results, path, repo_type="dataset", endpoint=args.endpoint)
    except Exception as exc:  # not found, no network, a private repo: say which file
        raise HeldoutError(
            f"could not read {path} of the dataset {args.results} from the Hub "
            f"({type(exc).__name__})"
        ) from exc
    return Path(local).read_bytes()
