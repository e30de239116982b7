"""The About tab, written from the public `[benchmark]` section of the config.

The description and citation are the maintainer's own text and are shown as Markdown
(gradio sanitises it); nothing here comes from submitters.
"""

from typing import Any

import gradio as gr

from heldout.config import Config
from heldout.leaderboard.intervals import BAND_NOTE
from heldout.queue.phases import stamp

HONEST_NOTE = (
    "A score such as `0.8517 ± 0.011` means: on a fresh test set of the same size, this "
    "model would most likely score between 0.8407 and 0.8627 (a 95% interval). " + BAND_NOTE
)
LADDER_NOTE = (
    "This board uses the **Ladder** rule: your shown score changes only when a new "
    "submission beats your shown best by more than luck could explain, and it is rounded. "
    "The more you submit, the clearer a gain must be: each submission is held to a "
    "stricter test than the one before, so luck alone rarely moves your shown score, "
    "however often you submit. "
    "So submitting many variants to probe the test set does not help; My submissions says "
    "when and why a score was not released. Every full score is kept for the final ranking."
)


def about_markdown(config: Config) -> str:
    bench, limits = config.benchmark, config.limits
    direction = "higher is better" if bench.higher_is_better else "lower is better"
    others = [m for m in bench.all_metrics if m != bench.primary_metric]
    metrics = f"**{bench.primary_metric}** ({direction})"
    if others:
        metrics += "; also reported: " + ", ".join(others)
    labels = (
        "one of " + ", ".join(f"`{label}`" for label in bench.labels)
        if bench.labels
        else "the predicted value"
    )
    formats = ", ".join(f"`.{f}`" for f in limits.formats)
    parts = [
        f"# {bench.name}",
        bench.description or "",
        "## Task and metric",
        f"Submissions are ranked by {metrics}. Equal scores rank by submission time, "
        "earliest first. Only aggregate metrics are published; the test labels stay private.",
        "## Submission format",
        f"One file ({formats}, at most {limits.max_file_mb:g} MB) with exactly two columns: "
        f"`{bench.id_column}`, the test id, and `{bench.prediction_column}`, {labels}. "
        "Every public test id must appear exactly once, and no other id.",
        f"Each account may submit {limits.submissions_per_day} time(s) per UTC day. "
        "Submitting the same file twice is refused; failures that are the system's fault "
        "do not count.",
    ]
    parts += ["## How sure are these numbers?", HONEST_NOTE]
    if config.review.release == "ladder":
        parts.append(LADDER_NOTE)
    parts += competition_lines(config)
    if bench.citation:
        parts += ["## Citation", f"```\n{bench.citation.strip()}\n```"]
    return "\n\n".join(p for p in parts if p)


def competition_lines(config: Config) -> list[str]:
    """How the competition runs: phases, the two splits, final choice and the reveal."""
    phases, lines = config.phases, []
    if phases.start is None and phases.end is None and phases.reveal_at is None:
        return lines
    lines.append("## How the competition runs")
    when = []
    if phases.start is not None:
        when.append(f"Submissions open at {stamp(phases.start)}")
    if phases.end is not None:
        when.append(f"close at {stamp(phases.end)}")
    if when:
        lines.append(" and ".join(when) + ".")
    lines.append(
        "Every submission is scored on two parts of the test set. The **public** part ranks "
        "the live board. The **private** part stays hidden until the reveal and alone "
        "decides the final ranking, so tuning against the live board does not pay."
    )
    n = phases.select_max
    lines.append(
        f"Before the end, choose up to {n} of your submissions on **My submissions** as your "
        "final choice; your best private score among them ranks you. With no choice, your "
        f"{'best public submission counts' if n == 1 else f'{n} best public submissions count'}."
    )
    reveal = (
        f"The private scores are revealed at {stamp(phases.reveal_at)}"
        if phases.reveal_at
        else "The private scores are revealed by the maintainers after the end"
    )
    lines.append(
        reveal + ", all at once; the board then shows the final ranking, with each "
        "submitter's public rank and how far they moved."
    )
    if phases.late:
        lines.append(
            "Submissions after the end are still scored, on a separate post-deadline board "
            "that never enters the final ranking."
        )
    if config.limits.participants.startswith("gated:"):
        repo = config.limits.participants.split(":", 1)[1]
        lines.append(
            f"Only registered participants may submit: request access to the dataset "
            f"`{repo}` on the Hub, and submit once the maintainers accept it."
        )
    return lines


def build(config: Config) -> dict[str, Any]:
    gr.Markdown(about_markdown(config), elem_id="about")
    example = config.benchmark.example_predictions
    if example is not None and example.is_file():
        gr.File(
            value=str(example),
            label="Example predictions file",
            interactive=False,
            elem_id="example-file",
        )
    return {}
