"""A page's Matrix room replaced after the run, on a real Synapse: upgraded (tombstone, alias
moved to the new room) or deleted and re-created under the same alias. A sync keeps every
comment already migrated, imports what was posted in the new room, and deletes only what
the source itself reports as deleted (a redaction)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrate.systems.matrix import MatrixCommentExtractor
from migrate.systems.matrix.client import quoted
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.synapse import SynapseServer

pytestmark = [pytest.mark.synapse]

BASE_TS = 1_650_000_000_000


class Room:
    """One page of a site, whose room the test replaces."""

    def __init__(self, synapse: SynapseServer, tmp_path: Path, site: str) -> None:
        self.synapse = synapse
        self.site = site
        self.room_id = synapse.create_comment_room(site, "p")
        self.ts = BASE_TS
        self.pages_file = tmp_path / "pages.csv"
        self.pages_file.write_text("p,/blog/p/,Post p\n", encoding="utf-8")
        self.ann = synapse.user_id("cactus_rann")
        self.bob = synapse.user_id("cactus_rbob")

    def say(self, body: str, user: str, parent: str | None = None) -> str:
        self.ts += 60_000
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if parent is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": parent}}
        return self.synapse.send_message(self.room_id, content, user, self.ts)

    def source(self) -> dict[str, Any]:
        return {
            "type": "matrix",
            "homeserver": self.synapse.url,
            "server_name": self.synapse.server_name,
            "site": self.site,
            "pages_file": str(self.pages_file),
        }

    def upgrade(self) -> str:
        """What an admin's `/upgrade` does: a new room, a tombstone in the old one, the
        alias moved over."""
        path = f"/_matrix/client/v3/rooms/{quoted(self.room_id)}/upgrade"
        answer = self.synapse.as_call("POST", path, body={"new_version": "10"})
        self.room_id = str(answer["replacement_room"])
        return self.room_id

    def recreate(self) -> str:
        """Cactus after a room was lost: the alias removed, a new room made under it."""
        alias = self.synapse.alias(self.site, "p")
        self.synapse.as_call("DELETE", f"/_matrix/client/v3/directory/room/{quoted(alias)}")
        self.room_id = self.synapse.create_comment_room(self.site, "p")
        return self.room_id


def _sync(config: Path) -> tuple[int, dict[str, Any], str]:
    result = invoke("-q", "sync", "-c", str(config), "--json")
    out = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(out[-1]) if out else {}, result.stderr


def _held(server: ContractServer) -> dict[str, dict[str, Any]]:
    return {c["source"]["id"]: c for c in server.comments}


def _seed_and_run(
    synapse: SynapseServer, tmp_path: Path, site: str, server: ContractServer
) -> tuple[Room, Path, list[str]]:
    room = Room(synapse, tmp_path, site)
    top = room.say("the first comment", room.ann)
    old = [top, room.say("a reply to it", room.bob, top), room.say("a second one", room.bob)]
    config = write_config(
        tmp_path, source=room.source(), target={"type": "http", "url": server.url}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 3
    return room, config, old


def test_an_upgraded_room_is_one_page_with_its_predecessor(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    room, config, old = _seed_and_run(synapse, tmp_path, "roomup", contract_server)
    old_room = room.room_id
    room.upgrade()
    new = [room.say(f"posted in the upgraded room {n}", room.ann) for n in range(4)]

    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert summary["changes"] == [], "nothing was deleted or edited in the source"
    assert summary["comments_imported"] == 4
    held = _held(contract_server)
    assert set(held) == set(old) | set(new)
    assert held[old[1]]["parent_id"] == held[old[0]]["id"]

    # the source reads both rooms, oldest first, as one page: verify agrees with the target
    verified = invoke("verify", "-c", str(config), "--json")
    assert verified.exit_code == 0, verified.stdout
    # a second sync finds nothing new: the cursor now belongs to the new room
    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert summary["pages_unchanged"] == 1 and summary["comments_imported"] == 0

    # a redaction in the old room is a deletion the source reports when it next reads the
    # page whole (anything new in the new room)
    synapse.redact(old_room, old[2])  # a moderator: the old room is read-only for others
    last = room.say("one more", room.bob)
    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 1
    assert [(c["source_id"], c["kind"], c["applied"]) for c in summary["changes"]] == [
        (old[2], "delete", True)
    ]
    assert set(_held(contract_server)) == {*old[:2], *new, last}


def test_a_recreated_room_keeps_the_comments_of_the_lost_one(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    room, config, old = _seed_and_run(synapse, tmp_path, "roomre", contract_server)
    room.recreate()
    new = [room.say(f"posted in the new room {n}", room.bob) for n in range(4)]

    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert summary["changes"] == [], "a comment not seen in this read was deleted"
    assert summary["comments_imported"] == 4
    assert set(_held(contract_server)) == set(old) | set(new)

    # a redaction in the new room deletes that comment, and only it
    synapse.redact(room.room_id, new[0], user_id=room.bob)
    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert [(c["source_id"], c["kind"], c["applied"]) for c in summary["changes"]] == [
        (new[0], "delete", True)
    ]
    assert set(_held(contract_server)) == set(old) | set(new[1:])


def test_a_cursor_is_never_applied_to_another_room(
    synapse: SynapseServer, contract_server: ContractServer, tmp_path: Path
) -> None:
    """The new room's first comments arrive even when the alias moves before anything
    else happens in the old room (the old cursor would call the page unchanged)."""
    room, config, old = _seed_and_run(synapse, tmp_path, "roomcur", contract_server)
    room.recreate()
    first = room.say("the only comment of the new room", room.ann)
    code, summary, stderr = _sync(config)
    assert code == 0, stderr
    assert summary["pages_unchanged"] == 0
    assert set(_held(contract_server)) == {*old, first}
    shown = invoke("checkpoint", "show", str(tmp_path / "checkpoint.json"))
    assert json.loads(shown.stdout)["pages"]["p"]["cursor_ref"] == room.room_id


def test_listing_rooms_gives_a_recreated_page_once_in_its_new_room(
    synapse: SynapseServer, tmp_path: Path
) -> None:
    """`discover = "joined_rooms"` (the Cactus appservice's token): the lost room still
    carries the page's canonical alias, and the page is one page, in the room the alias
    names now."""
    room = Room(synapse, tmp_path, "roomlist")
    room.say("in the first room", room.ann)
    lost = room.room_id
    room.recreate()
    source = MatrixCommentExtractor(
        homeserver=synapse.url,
        server_name=synapse.server_name,
        site=room.site,
        token=synapse.appservice_token,
        discover="joined_rooms",
    )
    try:
        pages = list(source.pages())
    finally:
        source.close()
    assert [(p.id, p.ref) for p in pages] == [("p", room.room_id)] and lost != room.room_id
