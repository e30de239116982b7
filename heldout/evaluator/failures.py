"""Why a job failed, in words a submitter may read.

Three kinds, because each calls for something different. A USER failure is final, and
its message says what to fix in the file. An INFRASTRUCTURE failure (the network, the
Hub) is retried. An EVALUATOR failure (a scorer bug) fails the job after a bounded
number of attempts while the maintainers read the log. Only USER failures carry
specific text; the other two are fixed sentences, so no stack trace, server path,
token or test-set content can reach a submitter through them. `sanitize` is the last
defence, applied to every message shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from heldout.errors import ErrorKind, InvalidPredictions, ScorerError
from heldout.queue.retry import causes, is_transient

EVALUATOR_MESSAGE = "the evaluator failed on this submission; the maintainers have been told"
INFRASTRUCTURE_MESSAGE = (
    "a temporary infrastructure problem interrupted the evaluation; it will be retried"
)
MAX_LENGTH = 500


@dataclass(frozen=True)
class Failure:
    kind: ErrorKind  # USER, EVALUATOR or INFRASTRUCTURE
    message: str  # shown to the submitter


def classify(exc: BaseException) -> Failure:
    """Sort an exception raised while evaluating a job into one of the three kinds."""
    if isinstance(exc, InvalidPredictions):
        return Failure(ErrorKind.USER, sanitize(str(exc)) or "the prediction file is invalid")
    if isinstance(exc, ScorerError):  # even if the scorer itself tripped on the network
        return Failure(ErrorKind.EVALUATOR, EVALUATOR_MESSAGE)
    if is_transient(exc) or any(
        isinstance(e, (ConnectionError, TimeoutError)) for e in causes(exc)
    ):
        return Failure(ErrorKind.INFRASTRUCTURE, INFRASTRUCTURE_MESSAGE)
    return Failure(ErrorKind.EVALUATOR, EVALUATOR_MESSAGE)


_CHAINED = re.compile(
    r"(?:During handling of the above exception, another exception occurred|"
    r"The above exception was the direct cause of the following exception):"
)
# The header, the indented frames, then the exception's own line, which may quote data.
_TRACEBACK = re.compile(
    r"Traceback \(most recent call last\):[^\n]*(?:\n[ \t]+[^\n]*)*(?:\n[^\n]*)?"
)
_FRAME = re.compile(r'File "[^"\n]*", line \d+(?:, in [^\s,]+)?')
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SECRETS = (
    re.compile(r"(?i)\bbearer\s+[^\s'\"]+"),
    re.compile(r"\b(?:hf|api|ghp|gho|ghs|ghu|github_pat|sk|xox[abprs])_[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),  # a JWT
    re.compile(
        r"(?i)\b(token|secret|password|passwd|api[_-]?key|authorization|cookie)"
        r"(\s*[:=]\s*)(?!\[)['\"]?[^\s'\",;]+['\"]?"
    ),
)
_WINDOWS_PATH = re.compile(r"(?:\b[A-Za-z]:|\\\\[^\s\\]+)\\[^\s'\"<>|]*")
_POSIX_PATH = re.compile(r"(?<![\w.~/\\-])(?:~|\.{1,2})?/[^\s'\"<>|,;()]+")
_INVISIBLE = re.compile(
    r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def sanitize(text: str) -> str:
    """Make any text safe to show a submitter: no traceback, path, URL or token, one
    line, at most MAX_LENGTH characters. Meant as a last defence, not a formatter."""
    text = str(text)[: MAX_LENGTH * 40]  # bound the work on hostile input
    text = _TRACEBACK.sub(" [traceback removed] ", _CHAINED.sub("", text))
    text = _FRAME.sub("[location removed]", text)
    text = _URL.sub("[url removed]", text)
    for pattern in _SECRETS:
        text = pattern.sub(_redact, text)
    text = _WINDOWS_PATH.sub("[path removed]", text)
    text = _POSIX_PATH.sub("[path removed]", text)
    text = _INVISIBLE.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1].rstrip() + "…"


def _redact(match: re.Match[str]) -> str:
    """Keep the name of a `key=value` pair so the message still reads, drop the value."""
    if match.re.groups == 2:
        return f"{match.group(1)}{match.group(2)}[removed]"
    return "[token removed]"
