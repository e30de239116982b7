"""`heldout reveal`: publish, preview, schedule or cancel the reveal of the private scores."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from heldout.commands.common import acting_user, load
from heldout.config import parse_moment
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
    reveal.set_defaults(handler=run_reveal)


def run_reveal(args: argparse.Namespace) -> int:
    config, queue = load(args)
    by = acting_user(config, args.by, "--by")
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
