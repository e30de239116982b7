"""`heldout reveal`: publish, preview, schedule or cancel the reveal of the private scores."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from heldout.commands.common import acting_user, load
from heldout.config import Config, parse_moment
from heldout.errors import HeldoutError, NotAllowed
from heldout.queue.jobs import JobQueue
from heldout.queue.phases import stamp
from heldout.queue.reveal import Reveal


def register(sub: argparse._SubParsersAction, config_option: Callable) -> None:
    reveal = sub.add_parser(
        "reveal", help="publish the private scores and the final ranking (one commit)"
    )
    config_option(reveal)
    reveal.add_argument("--by", help="your user name, one of review.reviewers")
    what = reveal.add_mutually_exclusive_group()
    what.add_argument(
        "--preview", action="store_true", help="show what would count, publish nothing"
    )
    what.add_argument("--at", metavar="TIME", help="schedule it instead (UTC, ISO 8601)")
    what.add_argument(
        "--undo", action="store_true", help="cancel a scheduled reveal (never a published one)"
    )
    what.add_argument(
        "--publish-salt",
        action="store_true",
        help="after the reveal: publish the test-set commitment's salt in the results card",
    )
    reveal.add_argument(
        "--publish-labels",
        action="store_true",
        help="with --publish-salt: also publish the test set (ids, labels, splits) in the "
        "results repo, in the canonical encoding",
    )
    reveal.set_defaults(handler=run_reveal)


def run_reveal(args: argparse.Namespace) -> int:
    config, queue = load(args)
    if args.publish_labels and not args.publish_salt:
        raise HeldoutError("--publish-labels goes with --publish-salt")
    by = acting_user(config, args.by, "--by")
    if args.publish_salt:
        return _publish_salt(config, queue, by, args.publish_labels)
    reveal = Reveal(queue)
    if args.undo:
        print(reveal.undo(by))
        return 0
    if args.at:
        at = parse_moment(args.at, "--at")
        reveal.schedule_at(by, at)
        print(f"the reveal will be published at {stamp(at)} by a running worker")
        return 0
    if args.preview:
        _, record = reveal.plan(queue.clock())
    else:
        record = reveal.publish(by)
        print(f"revealed at {record.revealed_at} by {by}")
    print(f"{len(record.counted)} submitter(s); the jobs that count:")
    for user, jobs in sorted(record.counted.items()):
        print(f"  {user}: {', '.join(jobs)}")
    return 0


def _publish_salt(config: Config, queue: JobQueue, by: str, labels: bool) -> int:
    from heldout.salt_publication import publish_salt

    if by not in config.review.reviewers:
        raise NotAllowed(f"{by} is not among the benchmark's reviewers (review.reviewers)")
    done = publish_salt(config, queue, labels=labels)
    results = config.storage.results_repo or "the results repo"
    if not done.changed:
        print(f"the salt was already published in the card of {results}; nothing changed")
    else:
        print(f"published the test-set salt in the card of {results}")
    if done.labels_path:
        print(f"the test set is in {results} at {done.labels_path}")
    print(f"anyone can now check it: heldout verify --results {results} --test-set FILE")
    return 0
