"""A local stand-in for the Hugging Face Hub, for tests, benchmarks and offline demos.

Point the real `huggingface_hub` client at it (`HF_ENDPOINT=http://127.0.0.1:8765`, or
`endpoint=`); any token `hf_test_<name>` is user <name>.

Emulated, over real HTTP:

- accounts: `whoami-v2`; tokens `hf_test_<name>`, extra tokens and organisations
  from `EmulatorSettings`; users write in their own and their organisations' namespaces;
- repos (model, dataset, space): create (409 with `url` when it exists), delete,
  visibility settings, `repo_info` at a branch or commit (`expand=` honoured), refs,
  paginated commit history; private repos hidden (401 anonymous, 404 signed in);
- commits: preupload ("lfs" for binary, over-10-MiB and `.gitattributes`-tracked
  files, else "regular"; `oid` at the head as the Hub sends it), ndjson commits with
  add, LFS add, delete file, delete folder and copy; `parentCommit` compare-and-swap
  answered 412; all-or-nothing; full linear history, so every read works at any old
  commit id;
- the binary path: Xet read/write tokens, a CAS under `/_xet` (xorb upload directly
  or through grants, shards v1/v2, reconstructions v1/v2/batch with `Range`, signed
  xorb fetches with single and multipart ranges), every xorb and shard checked
  against its hashes; the git LFS batch API (basic transfer) for `HF_HUB_DISABLE_XET`;
- files: tree listing (recursive or not, `expand`, `Link: rel="next"` cursor pages
  at `page_size`, cost proportional to the folder listed), paths-info, and
  `resolve` (HEAD/GET, `Range` -> 206, `X-Repo-Commit`, `ETag`, `X-Error-Code`), enough
  for `hf_hub_download`, `HfFileSystem`, `pandas.read_parquet("hf://...")` and
  `datasets.load_dataset`; README metadata check (`validate-yaml`);
- Spaces: secrets (write-only) and variables; runtime always reported RUNNING;
- webhooks: the `HfApi` webhook calls (create, list, get, update, enable, disable,
  delete); after every commit to a watched repo a `WebhookPayload`-shaped delivery
  with `X-Webhook-Secret`, the last deliveries of each webhook kept with their status;
- gated datasets: access requests (pending, accepted, rejected; accept, reject, grant),
  kept in memory;
- misbehaviour: commit quota per repo per rolling hour (429 + `Retry-After`), injected
  500/503/429 faults, lost commit replies, slow answers, all changeable while running;
- an OpenID Connect provider like huggingface.co's (discovery, sign-in page, code,
  token with an RS256 id_token, userinfo, JWKS) for gradio's "Sign in with HF";
- persistence in `data_dir`: an append-only journal plus a blob pack (files, LFS
  objects and xorbs), replayed at start;
- admin: `/_emulator/counters`, `/_emulator/counters/reset`, `/_emulator/settings`,
  `/_emulator/spaces/{ns}/{name}/secrets` (keys only) and `.../variables`.

Not emulated: branches other than `main`, tags and pull requests (`create_pr`), the
CDN redirect of `resolve` for LFS files (their bytes are served directly), global
chunk dedupe (the query always answers 404), LFS multipart transfer, parquet conversion (`refs/convert/parquet`
answers 404), gating of file reads in gated repos, search and listing of repos, discussions, collections,
inference, running Spaces, API-call rate limits other than the commit quota,
repo renames, and real git (`oid`s are git blob ids; folder ids are made up).
"""

from heldout.hub_emulator.app import create_app
from heldout.hub_emulator.server import EmulatorServer
from heldout.hub_emulator.settings import EmulatorSettings

__all__ = ["EmulatorServer", "EmulatorSettings", "create_app"]
