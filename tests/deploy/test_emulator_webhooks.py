"""The emulator's webhooks API, through `HfApi`, and its deliveries after commits."""

from __future__ import annotations

import uuid

import httpx
import pytest
from browser_support import wait_for
from huggingface_hub import CommitOperationAdd, HfApi, WebhookPayload
from huggingface_hub.errors import HfHubHTTPError


def _repo(api: HfApi, private: bool = True) -> str:
    repo_id = f"{api.whoami()['name']}/wh-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id, repo_type="dataset", private=private)
    return repo_id


def _commit(api: HfApi, repo_id: str, text: str) -> str:
    info = api.create_commit(
        repo_id,
        [CommitOperationAdd(f"{text}.txt", text.encode())],
        commit_message=text,
        repo_type="dataset",
    )
    return info.oid


def test_webhook_crud_through_the_client(emulator, receiver) -> None:
    ann = HfApi(endpoint=emulator.url, token="hf_test_ann")
    repo_id = _repo(ann)
    hook = ann.create_webhook(
        url=receiver.url,
        watched=[{"type": "dataset", "name": repo_id}],
        domains=["repo"],
        secret="s3cret",
    )
    assert (hook.url, hook.secret, hook.disabled, hook.domains) == (
        receiver.url,
        "s3cret",
        False,
        ["repo"],
    )
    assert [w.name for w in hook.watched] == [repo_id]
    assert [h.id for h in ann.list_webhooks()] == [hook.id]
    assert ann.get_webhook(hook.id).secret == "s3cret"
    moved = ann.update_webhook(
        hook.id, url=receiver.url + "2", watched=[{"type": "dataset", "name": repo_id}]
    )
    assert moved.url == receiver.url + "2" and moved.secret == "s3cret"
    assert ann.disable_webhook(hook.id).disabled is True
    assert ann.enable_webhook(hook.id).disabled is False
    # Someone else sees none of it, and cannot touch it.
    bea = HfApi(endpoint=emulator.url, token="hf_test_bea")
    assert bea.list_webhooks() == []
    with pytest.raises(HfHubHTTPError) as info:
        bea.delete_webhook(hook.id)
    assert info.value.response.status_code == 404
    # Nor watch ann's private repo.
    with pytest.raises(HfHubHTTPError):
        bea.create_webhook(url=receiver.url, watched=[{"type": "dataset", "name": repo_id}])
    ann.delete_webhook(hook.id)
    assert ann.list_webhooks() == []
    with pytest.raises(HfHubHTTPError):
        ann.get_webhook(hook.id)


def test_every_commit_is_delivered_as_the_hub_sends_it(emulator, receiver) -> None:
    api = HfApi(endpoint=emulator.url, token="hf_test_cleo")
    repo_id = _repo(api)
    other = _repo(api)
    hook = api.create_webhook(
        url=receiver.url, watched=[{"type": "dataset", "name": repo_id}], secret="pssst"
    )
    before = api.repo_info(repo_id, repo_type="dataset").sha
    first = _commit(api, repo_id, "one")
    _commit(api, other, "unwatched")
    second = _commit(api, repo_id, "two")
    wait_for(lambda: len(receiver.calls) >= 2, timeout=20, what="two deliveries")
    payloads = [WebhookPayload.model_validate(c["body"]) for c in receiver.calls]
    assert [p.updatedRefs[0].newSha for p in payloads] == [first, second]
    assert payloads[0].updatedRefs[0].oldSha == before
    assert {(p.repo.name, p.repo.type, p.event.scope, p.webhook.id) for p in payloads} == {
        (repo_id, "dataset", "repo.content", hook.id)
    }
    assert {c["headers"]["X-Webhook-Secret"] for c in receiver.calls} == {"pssst"}
    # The last deliveries are recorded with their answers.
    rows = httpx.get(
        f"{emulator.url}/api/settings/webhooks/{hook.id}/deliveries",
        headers={"authorization": "Bearer hf_test_cleo"},
    ).json()
    assert [(r["new_sha"], r["status"], r["ok"]) for r in rows] == [
        (second, 200, True),
        (first, 200, True),
    ]
    # Disabled: nothing goes out. A failing receiver is recorded as failing.
    api.disable_webhook(hook.id)
    _commit(api, repo_id, "quiet")
    api.enable_webhook(hook.id)
    receiver.status = 500
    third = _commit(api, repo_id, "three")
    wait_for(lambda: len(receiver.calls) == 3, timeout=20, what="the third delivery")
    assert receiver.calls[-1]["body"]["updatedRefs"][0]["newSha"] == third

    def last() -> dict | None:
        got = httpx.get(
            f"{emulator.url}/api/settings/webhooks/{hook.id}/deliveries",
            headers={"authorization": "Bearer hf_test_cleo"},
        ).json()
        return got[0] if len(got) == 3 else None

    row = wait_for(last, timeout=10, what="the failed delivery on record")
    assert (row["status"], row["ok"]) == (500, False)


def test_webhooks_survive_a_restart_of_a_persistent_emulator(tmp_path, receiver) -> None:
    from heldout.hub_emulator import EmulatorServer, EmulatorSettings

    settings = EmulatorSettings(data_dir=tmp_path / "hub")
    with EmulatorServer(settings) as first:
        api = HfApi(endpoint=first.url, token="hf_test_pat")
        repo_id = _repo(api)
        hook = api.create_webhook(
            url=receiver.url, watched=[{"type": "dataset", "name": repo_id}], secret="kept"
        )
    with EmulatorServer(EmulatorSettings(data_dir=tmp_path / "hub")) as again:
        api = HfApi(endpoint=again.url, token="hf_test_pat")
        assert [(h.id, h.secret, h.url) for h in api.list_webhooks()] == [
            (hook.id, "kept", receiver.url)
        ]
        sha = _commit(api, repo_id, "after-restart")
        wait_for(lambda: receiver.calls, timeout=20, what="a delivery after the restart")
        assert receiver.calls[0]["body"]["updatedRefs"][0]["newSha"] == sha
