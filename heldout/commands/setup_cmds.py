"""`heldout demo`, `heldout init`, `heldout check` and `heldout deploy`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from heldout.config import load_config
from heldout.errors import HeldoutError


def register(sub: argparse._SubParsersAction, config_option: Callable) -> None:
    init = sub.add_parser("init", help="write a ready benchmark folder")
    init.add_argument("dir", type=Path)
    init.add_argument("--name", default="Review sentiment", help="the benchmark's name")
    init.set_defaults(handler=run_init)

    check = sub.add_parser("check", help="validate the config and score the sample predictions")
    config_option(check)
    check.set_defaults(handler=run_check)

    deploy = sub.add_parser("deploy", help="create the datasets and Spaces on the Hub")
    config_option(deploy)
    deploy.add_argument(
        "--namespace", help="user or org to deploy under (default: the token's user)"
    )
    deploy.add_argument(
        "--endpoint", help="Hub URL (default: huggingface.co; the emulator's for tests)"
    )
    deploy.add_argument(
        "--evaluator-url",
        metavar="URL",
        help="where the Hub webhook reaches the evaluator (default: its Space's hf.space URL)",
    )
    deploy.set_defaults(handler=run_deploy)

    preview = sub.add_parser(
        "preview", help="run your own benchmark folder locally: sign-in, worker and board"
    )
    config_option(preview)
    preview.add_argument("--port", type=int, default=7860)
    preview.add_argument("--host", default="127.0.0.1")
    preview.set_defaults(handler=run_preview)

    doctor = sub.add_parser("doctor", help="check a deployed benchmark and say how to fix it")
    config_option(doctor)
    doctor.add_argument(
        "--namespace", help="user or org it was deployed under (default: the token's user)"
    )
    doctor.add_argument("--endpoint", help="Hub URL (default: huggingface.co)")
    doctor.set_defaults(handler=run_doctor)

    demo = sub.add_parser("demo", help="the whole stack on this machine, with example data")
    demo.add_argument("--port", type=int, default=7860)
    demo.add_argument("--dir", type=Path, default=Path("heldout-demo"))
    demo.add_argument("--backend", choices=["local", "hub"], default="local")
    demo.add_argument("--host", default="127.0.0.1")
    demo.set_defaults(handler=run_demo)


def run_init(args: argparse.Namespace) -> int:
    from heldout.scaffold import init_benchmark

    folder = init_benchmark(args.dir, name=args.name)
    print(f"wrote a benchmark to {folder.root}")
    print(f"  next: heldout check -c {folder.config}")
    print("  then: edit heldout.toml (reviewers!), replace evaluator/private/truth.parquet,")
    print("        public/test_ids.txt and evaluator/scorer.py with your own,")
    print(f"        try it with heldout preview -c {folder.config}")
    print(f"        and put it on the Hub with heldout deploy -c {folder.config}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from heldout.checking import check_benchmark

    report = check_benchmark(load_config(args.config))
    for line in report:
        print(line)
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from huggingface_hub import HfApi

    from heldout.deploy import deploy, plan_deploy

    config = load_config(args.config)
    token = config.storage.token()
    if not token:
        raise HeldoutError(
            f"set {config.storage.token_env} to a Hugging Face token with write access"
        )
    try:
        user = HfApi(endpoint=args.endpoint, token=token).whoami()["name"]
    except Exception as exc:  # whatever went wrong, the token could not be used
        raise HeldoutError("the Hub did not accept the token (whoami failed)") from exc
    plan = plan_deploy(
        config, args.namespace or user, evaluator_url=args.evaluator_url, endpoint=args.endpoint
    )
    deploy(plan, config, token, args.endpoint)
    print(
        f"deployed under {plan.namespace}: {plan.hub}/spaces/{plan.leaderboard.repo_id}\n"
        f"  next: heldout doctor -c {args.config}"
        + (f" --endpoint {args.endpoint}" if args.endpoint else "")
    )
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from heldout.preview import run

    return run(Path(args.config), port=args.port, host=args.host, out=sys.stdout)


def run_doctor(args: argparse.Namespace) -> int:
    from heldout.doctor import run

    return run(load_config(args.config), namespace=args.namespace, endpoint=args.endpoint)


def run_demo(args: argparse.Namespace) -> int:
    from heldout.demo import run

    return run(args.dir, port=args.port, host=args.host, backend=args.backend, out=sys.stdout)
