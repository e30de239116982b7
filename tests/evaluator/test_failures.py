"""Failure reasons: the right kind, and nothing a submitter should not read."""

from __future__ import annotations

import dataclasses

import httpx2
import pytest

from heldout.errors import (
    ConfigError,
    Conflict,
    ErrorKind,
    InvalidPredictions,
    ScorerError,
    TransientError,
)
from heldout.evaluator.failures import (
    EVALUATOR_MESSAGE,
    INFRASTRUCTURE_MESSAGE,
    Failure,
    classify,
    sanitize,
)


def _http_error(status: int) -> httpx2.HTTPStatusError:
    request = httpx2.Request("GET", "https://hub.example/api/datasets/org/private-truth")
    response = httpx2.Response(status, request=request)
    return httpx2.HTTPStatusError(f"{status} for url", request=request, response=response)


def _raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


# --- classify -----------------------------------------------------------------------------


def test_invalid_predictions_are_the_users_with_their_message() -> None:
    failure = classify(InvalidPredictions("line 7: the id 'ex-3' appears 2 times"))
    assert failure == Failure(ErrorKind.USER, "line 7: the id 'ex-3' appears 2 times")


def test_user_messages_are_sanitized_too() -> None:
    failure = classify(InvalidPredictions("line 2: the id '/srv/truth/hf_abcdefghijklmnop' is bad"))
    assert failure.kind is ErrorKind.USER
    assert "/srv" not in failure.message and "hf_abc" not in failure.message


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("gave up after 5 tries on 503"),
        ConnectionError("reset by peer"),
        TimeoutError("read timed out"),
        httpx2.ConnectTimeout("connect timed out"),
        httpx2.ReadError("connection dropped"),
        _http_error(503),
        _http_error(502),
        _http_error(429),
        _raised_from(RuntimeError("download failed"), ConnectionResetError("reset")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_trouble_is_infrastructure(exc: BaseException) -> None:
    assert classify(exc) == Failure(ErrorKind.INFRASTRUCTURE, INFRASTRUCTURE_MESSAGE)


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("label"),
        ZeroDivisionError("division by zero"),
        ValueError("could not read /home/maint/private/truth.parquet: labels ['positive']"),
        ScorerError("the scorer raised KeyError: 'label'", detail="Traceback ..."),
        _raised_from(ScorerError("scorer fetched a model and failed"), ConnectionError("x")),
        _http_error(404),
        ConfigError("evaluator.truth: no file at /srv/x"),
        Conflict("parent moved"),
        MemoryError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_everything_else_is_the_evaluators_with_a_fixed_message(exc: BaseException) -> None:
    failure = classify(exc)
    assert failure.kind is ErrorKind.EVALUATOR
    assert (
        failure.message == "the evaluator failed on this submission; the maintainers have been told"
    )
    assert failure.message == EVALUATOR_MESSAGE


def test_failure_kinds_are_strings_for_json() -> None:
    assert [k.value for k in ErrorKind] == [
        "user",
        "evaluator",
        "infrastructure",
        "cancelled",
        "rejected",
    ]
    assert ErrorKind("user") is ErrorKind.USER and ErrorKind.USER == "user"
    from heldout.queue.entry import ErrorKind as QueueErrorKind

    assert QueueErrorKind is ErrorKind  # one list of kinds, in heldout.errors


def test_failure_is_frozen() -> None:
    failure = classify(KeyError("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.message = "leak"  # type: ignore[misc]


# --- sanitize -----------------------------------------------------------------------------

TRACEBACK = """Traceback (most recent call last):
  File "/home/maint/bench/scorer.py", line 12, in score
    labels = truth["label"].tolist()
KeyError: 'positive,negative,neutral'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/x.py", line 3, in <module>
RuntimeError: boom
"""


def test_traceback_blocks_are_removed() -> None:
    text = sanitize(f"scoring failed: {TRACEBACK}and then we stopped")
    assert text == "scoring failed: [traceback removed] [traceback removed] and then we stopped"


@pytest.mark.parametrize(
    "secret",
    [
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "ghp_0123456789abcdefghij0123456789abcd",
        "sk-proj-0123456789abcdefghijklmnop",
        "api_0123456789abcdef",
    ],
)
def test_tokens_are_removed(secret: str) -> None:
    text = sanitize(f"request failed with {secret} in the header")
    assert secret not in text and secret[6:20] not in text
    assert text.startswith("request failed with") and text.endswith("in the header")


def test_key_value_secrets_keep_their_name() -> None:
    assert sanitize("token=abc123 password: hunter2 api_key='zz'") == (
        "token=[removed] password: [removed] api_key=[removed]"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/home/maint/bench/private/truth.parquet",
        "/tmp/gradio/3f2a/preds.csv",
        "/srv/evaluator/private",
        "~/secrets/token.txt",
        "../private/truth.parquet",
        "C:\\Users\\maint\\truth.parquet",
        "\\\\fileserver\\share\\truth.csv",
    ],
)
def test_absolute_paths_are_removed(path: str) -> None:
    text = sanitize(f"cannot open '{path}': permission denied")
    assert text == "cannot open '[path removed]': permission denied"


def test_urls_are_removed() -> None:
    text = sanitize("GET https://user:pw@10.0.0.5:8080/api/datasets/org/truth?x=1 failed")
    assert text == "GET [url removed] failed"


def test_ordinary_messages_are_left_alone() -> None:
    for message in (
        "line 3: the prediction 'Neutral' is not one of the labels 'negative', 'neutral', "
        "'positive' (labels are case-sensitive); 1 row has a prediction outside the labels",
        "predictions must be numbers or text; this file has true/false values",
        "the file is 25.0 MB, over the 20.0 MB limit",
        "accuracy 1/2 and/or F1 / recall",
    ):
        assert sanitize(message) == message


def test_control_ansi_and_bidi_characters_are_dropped_and_whitespace_collapsed() -> None:
    text = sanitize("evil\x00 \x1b[31mred\x1b[0m\u202etxt.exe\n\n\t  next\r\nline\u200b")
    assert text == "evil redtxt.exe next line"


def test_length_is_capped_at_500() -> None:
    text = sanitize("word " * 1000)
    assert len(text) == 500 and text.endswith("…")
    assert sanitize("x" * 499) == "x" * 499


@pytest.mark.timeout(30)  # a regex that backtracks catastrophically would hang here
def test_hostile_huge_input_is_handled() -> None:
    hostile = ("Traceback (most recent call last):\n" + "  " * 1000 + "/" * 1000 + "\n") * 200
    text = sanitize(hostile + "hf_" + "a" * 100_000)
    assert len(text) <= 500 and "hf_aaaaaaaa" not in text
