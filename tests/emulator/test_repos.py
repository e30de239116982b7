"""Accounts and repos through the real client: whoami, create, visibility and access rules."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from emulator_helpers import ALICE, BOB, add
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from heldout.hub_emulator import EmulatorServer


def test_whoami_names_the_token_user_and_their_orgs(make_server) -> None:
    server = make_server(orgs={"bench-org": ["alice"]}, tokens={"hf_extra": "carol"})
    me = HfApi(endpoint=server.url, token=ALICE).whoami()
    assert me["name"] == "alice" and me["type"] == "user"
    assert [org["name"] for org in me["orgs"]] == ["bench-org"]
    assert HfApi(endpoint=server.url, token="hf_extra").whoami()["name"] == "carol"


def test_whoami_refuses_an_invalid_token(emulator: EmulatorServer, http: httpx.Client) -> None:
    with pytest.raises(HfHubHTTPError) as caught:
        HfApi(endpoint=emulator.url, token="hf_not_a_known_token").whoami()
    assert caught.value.response.status_code == 401
    answer = http.get("/api/whoami-v2")
    assert answer.status_code == 401 and "error" in answer.json()


def test_create_repo_and_exist_ok(alice: HfApi, name: Callable[[str], str]) -> None:
    repo_id = f"alice/{name('r')}"
    url = alice.create_repo(repo_id, repo_type="dataset", private=True)
    assert url.endswith(f"/datasets/{repo_id}")
    assert alice.create_repo(repo_id, repo_type="dataset", exist_ok=True) == url
    with pytest.raises(HfHubHTTPError) as caught:
        alice.create_repo(repo_id, repo_type="dataset")
    assert caught.value.response.status_code == 409
    assert caught.value.response.json()["url"] == url
    info = alice.dataset_info(repo_id)
    assert info.id == repo_id and info.private is True and len(info.sha) == 40
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]
    assert alice.repo_info(repo_id, repo_type="dataset", expand=["sha"]).sha == info.sha


def test_model_and_space_repos(alice: HfApi, name: Callable[[str], str]) -> None:
    model = f"alice/{name('m')}"
    alice.create_repo(model)
    alice.create_commit(model, add("config.json", b"{}"), commit_message="c")
    assert "config.json" in alice.list_repo_files(model)
    space = f"alice/{name('s')}"
    alice.create_repo(space, repo_type="space", space_sdk="gradio")
    readme = b"---\ntitle: Board\nsdk: gradio\nhf_oauth: true\n---\n"
    alice.upload_file(
        path_or_fileobj=readme, path_in_repo="README.md", repo_id=space, repo_type="space"
    )
    assert alice.space_info(space).sdk == "gradio"
    assert alice.get_space_runtime(space).stage == "RUNNING"


def test_space_secrets_are_stored_and_only_keys_are_shown(
    alice: HfApi, http: httpx.Client, name: Callable[[str], str]
) -> None:
    space = f"alice/{name('s')}"
    alice.create_repo(space, repo_type="space", space_sdk="gradio")
    alice.add_space_secret(space, "OAUTH_SECRET", "s3cret")
    alice.add_space_secret(space, "HF_TOKEN", "hf_x")
    alice.add_space_variable(space, "QUEUE_REPO", "alice/queue")
    alice.delete_space_secret(space, "HF_TOKEN")
    shown = http.get(f"/_emulator/spaces/{space}/secrets").json()
    assert shown == {"keys": ["OAUTH_SECRET"]}
    assert "s3cret" not in http.get(f"/_emulator/spaces/{space}/secrets").text
    assert alice.get_space_variables(space)["QUEUE_REPO"].value == "alice/queue"
    assert list(alice.get_space_secrets(space)) == ["OAUTH_SECRET"]


def test_delete_repo(alice: HfApi, name: Callable[[str], str]) -> None:
    repo_id = f"alice/{name('d')}"
    alice.create_repo(repo_id, repo_type="dataset")
    alice.delete_repo(repo_id, repo_type="dataset")
    assert not alice.repo_exists(repo_id, repo_type="dataset")
    alice.delete_repo(repo_id, repo_type="dataset", missing_ok=True)


def test_private_repo_is_hidden_from_others_and_anonymous(
    alice: HfApi,
    bob: HfApi,
    emulator: EmulatorServer,
    http: httpx.Client,
    name: Callable[[str], str],
) -> None:
    repo_id = f"alice/{name('p')}"
    alice.create_repo(repo_id, repo_type="dataset", private=True)
    alice.create_commit(repo_id, add("secret.txt"), commit_message="c", repo_type="dataset")
    anonymous = HfApi(endpoint=emulator.url, token=False)
    for reader in (bob, anonymous):
        with pytest.raises(RepositoryNotFoundError):
            reader.dataset_info(repo_id)
        with pytest.raises(RepositoryNotFoundError):
            reader.list_repo_files(repo_id, repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(
            repo_id, "secret.txt", repo_type="dataset", endpoint=emulator.url, token=False
        )
    with pytest.raises(RepositoryNotFoundError):
        bob.create_commit(repo_id, add("x"), commit_message="c", repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as caught:
        anonymous.create_commit(repo_id, add("x"), commit_message="c", repo_type="dataset")
    assert caught.value.response.status_code == 401
    status = http.get(f"/api/datasets/{repo_id}", headers={"authorization": f"Bearer {BOB}"})
    assert status.status_code == 404 and status.headers["X-Error-Code"] == "RepoNotFound"
    assert http.get(f"/api/datasets/{repo_id}").status_code == 401


def test_public_repo_is_readable_by_all_but_writable_by_its_owner(
    alice: HfApi, bob: HfApi, emulator: EmulatorServer, dataset: str
) -> None:
    alice.create_commit(dataset, add("a.txt"), commit_message="c", repo_type="dataset")
    anonymous = HfApi(endpoint=emulator.url, token=False)
    assert "a.txt" in anonymous.list_repo_files(dataset, repo_type="dataset")
    assert "a.txt" in bob.list_repo_files(dataset, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as caught:
        bob.create_commit(dataset, add("b.txt"), commit_message="c", repo_type="dataset")
    assert caught.value.response.status_code == 403


def test_namespaces_users_and_org_members(make_server) -> None:
    server = make_server(orgs={"bench-org": ["alice", "bob"]})
    alice = HfApi(endpoint=server.url, token=ALICE)
    carol = HfApi(endpoint=server.url, token="hf_test_carol")
    with pytest.raises(HfHubHTTPError) as caught:
        carol.create_repo("alice/not-yours", repo_type="dataset")
    assert caught.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        carol.create_repo("bench-org/queue", repo_type="dataset")
    alice.create_repo("bench-org/queue", repo_type="dataset", private=True)
    bob = HfApi(endpoint=server.url, token="hf_test_bob")
    bob.create_commit("bench-org/queue", add("x"), commit_message="c", repo_type="dataset")
    assert "x" in bob.list_repo_files("bench-org/queue", repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        carol.list_repo_files("bench-org/queue", repo_type="dataset")


def test_visibility_can_change(alice: HfApi, bob: HfApi, dataset: str) -> None:
    alice.update_repo_settings(dataset, private=True, repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        bob.dataset_info(dataset)
    alice.update_repo_settings(dataset, private=False, repo_type="dataset")
    assert bob.dataset_info(dataset).private is False
