"""`[media]` on a real Synapse, around a run: commands that only read (verify, a dry run)
never download or sweep the media folder, even while a run holds the checkpoint's lock;
`[media]` added after a run brings the media over with the next `sync`, and points the
comments already migrated at the copies where the target can change a comment (the HTTP
contract server), or names those that still link the homeserver where it cannot (WXR)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.synapse import SynapseServer
from utils.checkpoint_manager import CheckpointManager

pytestmark = [pytest.mark.synapse]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3
BASE_URL = "https://blog.example/comment-media/"
HOMESERVER_LINK = "/_matrix/client/v1/media/download/"


class Site:
    """One page: a photo comment, a reply with an inline image, a plain comment."""

    def __init__(self, synapse: SynapseServer, tmp_path: Path, name: str) -> None:
        self.name = name
        self.room = synapse.create_comment_room(name, "p")
        ann = synapse.user_id("cactus_mann")
        photo = synapse.upload_media(PNG, "image/png", "heron.png", ann)
        inline = synapse.upload_media(PNG[::-1], "image/png", "inline.png", ann)
        self.mxc = [photo, inline]
        ts = 1_640_000_000_000
        self.photo = synapse.send_message(
            self.room, {"msgtype": "m.image", "body": "heron.png", "url": photo}, ann, ts
        )
        self.inline = synapse.send_cactus_comment(
            self.room, "look: ![it](inline)", f'look: <img src="{inline}" alt="it">', ann, ts + 1
        )
        self.plain = synapse.send_message(
            self.room, {"msgtype": "m.text", "body": "no picture here"}, ann, ts + 2
        )
        self.pages_file = tmp_path / "pages.csv"
        self.pages_file.write_text("p,/blog/p/,Post p\n", encoding="utf-8")
        self.source = {
            "type": "matrix",
            "homeserver": synapse.url,
            "server_name": synapse.server_name,
            "site": name,
            "pages_file": str(self.pages_file),
        }


def add_media(config: Path) -> Path:
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[media]\ndir = "media"\nbase_url = "{BASE_URL}"\n')
    return config.parent / "media"


def sync_json(config: Path) -> tuple[int, dict[str, Any], str]:
    result = invoke("-q", "sync", "-c", str(config), "--json")
    out = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(out[-1]) if out else {}, result.stderr


def links(text: str) -> list[str]:
    return re.findall(r"(?:https?://[^\s)\"']+)", text)


def migrated(
    synapse: SynapseServer, tmp_path: Path, name: str, target: dict[str, Any]
) -> tuple[Site, Path, dict[str, Any]]:
    """The site, run once into `target` without [media]: its config and run summary."""
    site = Site(synapse, tmp_path, name)
    config = write_config(tmp_path, source=site.source, target=target)
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    return site, config, summary


def test_readers_never_download_nor_sweep_a_running_download(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    http = {"type": "http", "url": contract_server.url}
    _, config, _ = migrated(synapse, tmp_path, "medlock", http)
    media = add_media(config)
    media.mkdir()
    # a run's download in flight: its temp file, and the run holding the checkpoint's lock
    part = media / ".heron-0123456789.png.abcd1234.part"
    part.write_bytes(PNG[:100])
    with CheckpointManager(checkpoint_file=tmp_path / "checkpoint.json"):
        verified = invoke("verify", "-c", str(config))
        assert verified.exit_code == 4, verified.output  # locked: it waits for nothing
        planned = invoke("-q", "run", "-c", str(config), "--dry-run",
                         "--dry-run-output", str(tmp_path / "plan.jsonl"))  # fmt: skip
        assert planned.exit_code == 0, planned.output
        assert part.read_bytes() == PNG[:100], "a reader swept the run's download"
    assert sorted(p.name for p in media.iterdir()) == [part.name]


def test_verify_reads_the_source_again_and_downloads_nothing(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    http = {"type": "http", "url": contract_server.url}
    _, config, _ = migrated(synapse, tmp_path, "medverify", http)
    media = add_media(config)
    verified = invoke("verify", "-c", str(config), "--json")
    assert verified.exit_code == 0, verified.stdout  # it predicts the links the run made
    assert not media.exists() or list(media.iterdir()) == []


def test_media_added_after_the_run_is_copied_and_linked_by_a_sync(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    http = {"type": "http", "url": contract_server.url}
    site, config, summary = migrated(synapse, tmp_path, "medlater", http)
    held = {c["source"]["id"]: c for c in contract_server.comments}
    assert HOMESERVER_LINK in held[site.photo]["text"] + held[site.inline]["text"]
    assert any("media" in note and "sync" in note for note in summary["notes"])

    media = add_media(config)
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 0
    changes = {c["source_id"]: (c["kind"], c["applied"]) for c in summary["changes"]}
    assert changes == {site.photo: ("media", True), site.inline: ("media", True)}
    copies = {p.name: p.read_bytes() for p in media.iterdir()}
    assert sorted(copies.values()) == sorted([PNG, PNG[::-1]])
    held = {c["source"]["id"]: c for c in contract_server.comments}
    for source_id in (site.photo, site.inline):
        comment = held[source_id]
        assert HOMESERVER_LINK not in comment["text"] + comment["html"]
        assert [u for u in links(comment["html"]) if u.startswith(BASE_URL)], comment
    assert links(held[site.photo]["text"])[0].startswith(BASE_URL)
    assert contract_server.patches == 2  # the plain comment is left alone

    # the next sync: nothing to copy, nothing to change, one small read
    code, summary, stderr = sync_json(config)
    assert code == 0, stderr
    assert summary["pages_unchanged"] == 1 and summary["changes"] == []
    verified = invoke("verify", "-c", str(config), "--json")
    assert verified.exit_code == 0, verified.stdout


def test_a_target_that_cannot_change_a_comment_names_those_still_linking_the_homeserver(
    synapse: SynapseServer, tmp_path: Path
) -> None:
    wxr = {"type": "wxr", "output": str(tmp_path / "comments.wxr")}
    site, config, _ = migrated(synapse, tmp_path, "medwxr", wxr)
    add_media(config)
    result = invoke("sync", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    not_applied = {c["source_id"]: c for c in summary["changes"] if not c["applied"]}
    assert set(not_applied) == {site.photo, site.inline}
    assert all(c["kind"] == "media" for c in not_applied.values())
    assert f"media p/{site.photo}" in result.stderr  # the summary names them
    assert "still link media on the source's server" in result.stderr


def test_media_added_after_the_run_is_linked_by_a_run_reset_too(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    """`run --reset` sends every comment again; the target answers "already there" (409)
    with what it held from the first run: the comments that link media are updated."""
    http = {"type": "http", "url": contract_server.url}
    site, config, _ = migrated(synapse, tmp_path, "medreset", http)
    add_media(config)
    code, summary, stderr = run_json(config, "--reset")
    assert code == 0, stderr
    assert summary["comments_imported"] == 0 and summary["comments_adopted"] == 3
    held = {c["source"]["id"]: c for c in contract_server.comments}
    assert all(HOMESERVER_LINK not in c["text"] + c["html"] for c in held.values())
    assert links(held[site.photo]["text"])[0].startswith(BASE_URL)
    assert contract_server.patches == 2
