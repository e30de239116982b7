"""Review rules: pure functions that say why a submission should wait for a person.

Each rule returns at most one `Flag`. Pre-scoring rules run at submit; post-scoring
rules run when a score arrives, before anything is published. Adding a rule means
adding a function here and listing it in `PRE_RULES` or `POST_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from heldout.config import ReviewConfig
from heldout.queue.entry import Entry, Flag


@dataclass(frozen=True)
class PreContext:
    entry: Entry
    same_file_jobs: list[dict[str, str]]  # earlier jobs with this file: {"job_id", "user"}
    review: ReviewConfig


@dataclass(frozen=True)
class PostContext:
    entry: Entry
    score: float
    best_before: float | None
    higher_is_better: bool
    review: ReviewConfig


def listed_account(ctx: PreContext) -> Flag | None:
    if ctx.entry.submitter in ctx.review.flag_accounts:
        return Flag("listed_account", "this account is listed for review")
    return None


def shared_file(ctx: PreContext) -> Flag | None:
    if not ctx.review.flag_shared_files:
        return None
    others = [j for j in ctx.same_file_jobs if j["user"] != ctx.entry.submitter]
    if others:
        first = others[0]
        return Flag(
            "shared_file",
            f"the same file was submitted by {first['user']} as job {first['job_id']}",
        )
    return None


def score_threshold(ctx: PostContext) -> Flag | None:
    limit = ctx.review.score_threshold
    if limit is None:
        return None
    beyond = ctx.score > limit if ctx.higher_is_better else ctx.score < limit
    if beyond:
        return Flag(
            "score_threshold", f"score {ctx.score:.4f} is beyond the threshold {limit}", "post"
        )
    return None


def score_jump(ctx: PostContext) -> Flag | None:
    jump, best = ctx.review.max_jump, ctx.best_before
    if jump is None or best is None:
        return None
    gain = ctx.score - best if ctx.higher_is_better else best - ctx.score
    if gain > jump:
        return Flag(
            "score_jump",
            f"improves the user's best {best:.4f} by {gain:.4f} (limit {jump})",
            "post",
        )
    return None


PRE_RULES: tuple[Callable[[PreContext], Flag | None], ...] = (listed_account, shared_file)
POST_RULES: tuple[Callable[[PostContext], Flag | None], ...] = (score_threshold, score_jump)


def pre_flags(ctx: PreContext) -> tuple[Flag, ...]:
    return tuple(f for rule in PRE_RULES if (f := rule(ctx)) is not None)


def post_flags(ctx: PostContext) -> tuple[Flag, ...]:
    return tuple(f for rule in POST_RULES if (f := rule(ctx)) is not None)
