"""What a submission may be: daily limits under races, hostile text, duplicates, flags."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from queue_helpers import SAFE_PATHS, QueueEnv, submission

from heldout.errors import DuplicateSubmission, InvalidSubmission, LimitReached
from heldout.queue.entry import parse_iso
from heldout.queue.group import GroupCommitter
from heldout.queue.jobs import JobQueue
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission


def reopen(env: QueueEnv) -> JobQueue:
    """A queue on a second store object: another process, as far as CAS is concerned."""
    if env.backend == "local":
        from heldout.queue.local_store import LocalStore

        store = LocalStore(env.store.root, durable=False)  # type: ignore[attr-defined]
    else:
        from heldout.queue.hub_store import HubStore

        store = HubStore(
            env.store.repo_id,
            token=env.store._token,
            endpoint=env.store._endpoint,  # type: ignore[attr-defined]
        )
    return JobQueue(store, env.config, env.queue().results, env.clock)


@pytest.mark.parametrize("mode", ["own_queue_each", "one_group_committer"])
def test_twenty_racing_submissions_by_one_user_accept_exactly_the_limit(
    env: QueueEnv, mode: str
) -> None:
    group = GroupCommitter(env.queue())
    queues = [reopen(env) for _ in range(20)] if mode == "own_queue_each" else []
    outcomes: list[object] = [None] * 20
    barrier = threading.Barrier(20)

    def send(n: int) -> None:
        barrier.wait()
        try:
            sub = submission(model=f"model {n}")
            outcomes[n] = queues[n].submit(sub) if queues else group.submit(sub)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    accepted = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(accepted) == 5
    assert len(refused) == 15 and all(isinstance(o, LimitReached) for o in refused)
    resets = parse_iso(refused[0].resets_at)
    midnight = (datetime.now(timezone.utc) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    assert abs(resets - midnight) <= timedelta(days=1) and resets.hour == 0
    assert f"more are allowed at {resets:%H:%M} UTC" in str(refused[0])
    q = env.queue()
    assert len(q.ids(JobStatus.PENDING)) == 5
    assert q.quota("alice").used == 5 and q.quota("alice").remaining == 0


HOSTILE_NAMES = [
    "../x",
    "../../etc/passwd",
    "queue/PENDING/evil",
    "<img src=x onerror=alert(1)>",
    "x" * 10_000,
    "bad\x00name",
    "tab\tand\nnewline",
    "right-to-left \u202e override",
    "",
    "   ",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_hostile_model_name_is_refused_or_stored_as_plain_text(env: QueueEnv, name: str) -> None:
    q = env.queue()
    head = env.store.head()
    try:
        entry = q.submit(submission(model=name))
    except InvalidSubmission as exc:
        assert env.store.head() == head  # refused: no trace in the queue
        assert name.strip() == "" or len(str(exc)) < 200  # the message does not echo 10 kB
        return
    assert q.get(entry.job_id).model == name.strip()  # kept verbatim, shown as text
    paths = env.store.list()
    assert paths and all(SAFE_PATHS.match(p) for p in paths), paths
    assert all("etc" not in p and "img" not in p for p in paths)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(submitter="../alice"), "Hugging Face user name"),
        (dict(submitter=""), "Hugging Face user name"),
        (dict(submitter="<b>x</b>"), "Hugging Face user name"),
        (dict(model=""), "please give your model a name"),
        (dict(content=b""), "the predictions file is empty"),
        (dict(format="exe"), "'exe' files are not accepted"),
        (dict(format="../csv"), "files are not accepted"),
        (dict(description="d" * 5000), "the description is 5000 characters"),
    ],
)
def test_missing_or_malformed_fields_are_refused(env: QueueEnv, fields: dict, message: str) -> None:
    head = env.store.head()
    values = dict(submitter="alice", model="m", content=b"id,prediction\n1,a\n", format="csv")
    values.update(fields)
    with pytest.raises(InvalidSubmission, match=message.replace("(", r"\(")):
        env.queue().submit(Submission(**values))
    assert env.store.head() == head


def test_over_the_size_limit_is_refused_before_anything_is_written(queue_factory) -> None:
    env = queue_factory(limits={"max_file_mb": 0.001})
    head = env.store.head()
    with pytest.raises(InvalidSubmission, match="the limit is 0.001 MB"):
        env.queue().submit(submission(content=b"x" * 2000))
    assert env.store.head() == head


def test_the_same_file_twice_by_one_user_is_refused_naming_the_earlier_job(env: QueueEnv) -> None:
    q = env.queue()
    content = b"id,prediction\n1,a\n2,b\n"
    first = q.submit(submission(content=content))
    head = env.store.head()
    with pytest.raises(DuplicateSubmission) as caught:
        q.submit(submission(content=content, model="renamed"))
    assert caught.value.job_id == first.job_id and first.job_id in str(caught.value)
    assert env.store.head() == head


def test_the_same_file_by_another_user_and_listed_accounts_wait_for_review(
    queue_factory,
) -> None:
    env = queue_factory(review={"flag_accounts": ["mallory"]})
    q = env.queue()
    content = b"id,prediction\n1,a\n2,b\n"
    original = q.submit(submission(user="alice", content=content))
    copy = q.submit(submission(user="bob", content=content))
    listed = q.submit(submission(user="mallory"))
    assert original.status is JobStatus.PENDING
    assert copy.status is JobStatus.REVIEW
    assert copy.flags[0].rule == "shared_file" and original.job_id in copy.flags[0].detail
    assert listed.status is JobStatus.REVIEW and listed.flags[0].rule == "listed_account"
    assert q.ids(JobStatus.REVIEW) == sorted([copy.job_id, listed.job_id])
    assert [e.job_id for e in q.claim("w").jobs] == [original.job_id]
