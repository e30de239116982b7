"""`heldout queue …`, `heldout review …`, `heldout submit` and `heldout results export`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from heldout.commands.common import acting_user, entry_dict, load, print_json, short
from heldout.errors import HeldoutError
from heldout.queue.entry import Entry, job_time, utcnow
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission

RESCORE_BATCH = 50


def register(sub: argparse._SubParsersAction, config_option: Callable) -> None:
    queue = sub.add_parser("queue", help="inspect and steer the job queue").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    ls = queue.add_parser("ls", help="list jobs")
    ls.add_argument("--status", choices=[s.value for s in JobStatus], type=str.upper)
    ls.add_argument("--user")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=queue_ls)
    show = queue.add_parser("show", help="one job in full, with its history")
    show.add_argument("job_id")
    show.set_defaults(handler=queue_show)
    requeue = queue.add_parser("requeue", help="send jobs back to PENDING")
    requeue.add_argument("job_ids", nargs="+", metavar="ID")
    requeue.set_defaults(handler=queue_requeue)
    rescore = queue.add_parser(
        "rescore", help="requeue every FINISHED job (after a scorer fix or a new test set)"
    )
    rescore.set_defaults(handler=queue_rescore)
    cancel = queue.add_parser("cancel", help="cancel a PENDING job")
    cancel.add_argument("job_id")
    cancel.set_defaults(handler=queue_cancel)
    stats = queue.add_parser("stats", help="counts by status, oldest pending, throughput")
    stats.set_defaults(handler=queue_stats)

    review = sub.add_parser("review", help="approve or reject flagged jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    rls = review.add_parser("ls", help="jobs waiting for a reviewer")
    rls.set_defaults(handler=review_ls)
    approve = review.add_parser("approve", help="approve a flagged job")
    approve.add_argument("job_id")
    approve.add_argument("--by", help="your user name (checked against the token on the Hub)")
    approve.add_argument("--note", default="")
    approve.set_defaults(handler=review_approve)
    reject = review.add_parser("reject", help="reject a flagged job")
    reject.add_argument("job_id")
    reject.add_argument("--by")
    reject.add_argument("--reason", required=True, help="shown to the submitter")
    reject.set_defaults(handler=review_reject)

    submit = sub.add_parser("submit", help="submit a predictions file")
    submit.add_argument("file", type=Path)
    submit.add_argument("--model", required=True)
    submit.add_argument("--description", default="")
    submit.add_argument("--as", dest="as_user", help="submitter (local backend only)")
    submit.set_defaults(handler=submit_file)

    results = sub.add_parser("results", help="the results dataset").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = results.add_parser("export", help="write all results to one file")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    export.add_argument("-o", "--output", type=Path)
    export.set_defaults(handler=results_export)
    reconcile = results.add_parser(
        "reconcile", help="make the results match the queue (after a crash between the two)"
    )
    reconcile.add_argument(
        "--deep", action="store_true", help="also rebuild every row from its job and fix stale ones"
    )
    reconcile.set_defaults(handler=results_reconcile)

    for parser in (
        ls,
        show,
        requeue,
        rescore,
        cancel,
        stats,
        rls,
        approve,
        reject,
        submit,
        export,
        reconcile,
    ):
        config_option(parser)


def _line(entry: Entry, positions: dict[str, int]) -> str:
    extra = ""
    if entry.status is JobStatus.PENDING and entry.job_id in positions:
        extra = f"#{positions[entry.job_id]} in line"
    elif entry.scores:
        extra = " ".join(f"{k}={v:.4f}" for k, v in sorted(entry.scores.items()))
    elif entry.error:
        extra = f"{entry.error.kind.value}: {entry.error.message}"
    elif entry.flags:
        extra = "flags: " + ", ".join(f.rule for f in entry.flags)
    return (
        f"{entry.job_id}  {entry.status.value:<8}  {short(entry.submitter, 16):<16}  "
        f"{short(entry.model, 30):<30}  {short(extra, 60)}"
    )


def queue_ls(args: argparse.Namespace) -> int:
    _, queue = load(args)
    status = JobStatus(args.status) if args.status else None
    jobs = queue.jobs(status=status, user=args.user)
    if args.json:
        print_json([entry_dict(e) for e in jobs])
        return 0
    positions = queue.positions()
    for entry in jobs:
        print(_line(entry, positions))
    print(f"{len(jobs)} job(s)")
    return 0


def queue_show(args: argparse.Namespace) -> int:
    _, queue = load(args)
    print_json(entry_dict(queue.get(args.job_id)))
    return 0


def queue_requeue(args: argparse.Namespace) -> int:
    _, queue = load(args)
    for entry in queue.requeue_many(args.job_ids, by="maintainer"):
        print(f"{entry.job_id} is PENDING again")
    return 0


def queue_rescore(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    config, queue = load(args)
    if config.evaluator is not None:  # the maintainer's config: pin the test set it names
        from heldout.evaluator.testset_guard import pin_truth

        old, changed = pin_truth(queue, config, by="maintainer")
        if changed:
            print(f"the test set changed ({(old or '?')[:12]} -> now pinned); recorded in the card")
    ids = queue.ids(JobStatus.FINISHED)
    with tqdm(total=len(ids), unit="job", desc="requeue") as bar:
        for start in range(0, len(ids), RESCORE_BATCH):
            batch = ids[start : start + RESCORE_BATCH]
            queue.requeue_many(batch, by="maintainer")
            bar.update(len(batch))
    print(f"requeued {len(ids)} finished job(s) for rescoring")
    return 0


def queue_cancel(args: argparse.Namespace) -> int:
    _, queue = load(args)
    entry = queue.get(args.job_id)
    queue.cancel(args.job_id, entry.submitter)
    print(f"{args.job_id} cancelled")
    return 0


def queue_stats(args: argparse.Namespace) -> int:
    _, queue = load(args)
    now = utcnow()
    counts = {s.value: len(queue.ids(s)) for s in JobStatus}
    pending = queue.ids(JobStatus.PENDING)
    print("  ".join(f"{k}={v}" for k, v in counts.items()))
    if pending:  # job ids start with their submission time, so no file is read
        oldest = job_time(pending[0])
        print(f"oldest pending: {pending[0]} ({_age(now - oldest)} old)")
    frame = queue.results.read() if queue.results else None
    if frame is not None and len(frame):
        finished = frame["finished_at"]
        hour = int((finished > now - timedelta(hours=1)).sum())
        day = int((finished > now - timedelta(days=1)).sum())
        print(f"throughput: {hour} finished in the last hour, {day} in the last 24 h")
    if queue.results is not None and queue.owed:
        print(f"{queue.owed} result(s) not yet published; run `heldout results reconcile`")
    config = queue.config
    if config.storage.backend == "hub":
        from heldout.queue.governor import governor

        budget = governor().snapshot()
        shared = ", ".join(
            f"{repo} {n}/{budget.commits_limit_hour}"
            for repo, n in queue.commits_last_hour().items()
        )
        print(f"Hub commits in the last hour (every process, read from the Hub): {shared}")
        print(f"Hub budget (this process): {budget.describe()}")
    return 0


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def review_ls(args: argparse.Namespace) -> int:
    _, queue = load(args)
    jobs = queue.jobs(status=JobStatus.REVIEW)
    for entry in jobs:
        print(_line(entry, {}))
        for flag in entry.flags:
            print(f"    {flag.stage}-scoring flag {flag.rule}: {short(flag.detail, 100)}")
    print(f"{len(jobs)} job(s) waiting for review")
    return 0


def review_approve(args: argparse.Namespace) -> int:
    config, queue = load(args)
    entry = queue.approve(args.job_id, acting_user(config, args.by, "--by"), args.note)
    print(f"{entry.job_id} approved; it is now {entry.status.value}")
    return 0


def review_reject(args: argparse.Namespace) -> int:
    config, queue = load(args)
    entry = queue.reject(args.job_id, acting_user(config, args.by, "--by"), args.reason)
    print(f"{entry.job_id} rejected; the submitter will see the reason")
    return 0


def submit_file(args: argparse.Namespace) -> int:
    from heldout.predictions import (
        check_ids,
        detect_format,
        fingerprint,
        load_public_ids,
        read_predictions,
    )

    config, queue = load(args)
    user = acting_user(config, args.as_user, "--as")
    if not args.file.is_file():
        raise HeldoutError(f"no file at {args.file}")
    if args.file.stat().st_size > config.limits.max_file_bytes:
        raise HeldoutError(f"the file is larger than the {config.limits.max_file_mb:g} MB limit")
    content = args.file.read_bytes()
    fmt = detect_format(args.file.name)
    frame = read_predictions(content, fmt, config.benchmark, config.limits.max_file_bytes)
    if config.benchmark.public_ids:
        check_ids(frame, load_public_ids(config.benchmark.public_ids))
    sub = Submission(user, args.model, content, fmt, args.description, fingerprint(frame))
    entry = queue.submit(sub)
    print(f"submitted as job {entry.job_id} ({entry.status.value})")
    return 0


def results_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    config, queue = load(args)
    if queue.results is None:
        raise HeldoutError("no results store is configured")
    output = args.output or Path(f"results.{args.format}")
    with tqdm(desc="read", unit="file") as bar:
        frame = queue.results.read(
            on_file=lambda done, total: bar.update(1) or setattr(bar, "total", total)
        )
    if args.format == "csv":
        frame.drop(columns=["split_scores"]).to_csv(output, index=False)
    else:
        frame.to_parquet(output, index=False)
    print(f"wrote {len(frame)} result(s) to {output}")
    return 0


def results_reconcile(args: argparse.Namespace) -> int:
    _, queue = load(args)
    found = queue.reconcile(deep=args.deep)
    print(found.describe())
    for job_id in found.added:
        print(f"published {job_id}")
    for job_id in found.removed:
        print(f"removed {job_id} (not FINISHED in the queue)")
    return 0
