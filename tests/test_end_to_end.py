"""Real Synapse -> real Isso, directly and through a WXR file; `extract` to an archive."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from migrate.model import Comment, Page
from migrate.systems.archive import ArchiveSource
from tests.migration_helpers import expected_parents, invoke, run_json, write_config
from tests.servers.isso import IssoServer
from tests.servers.synapse import SynapseServer
from tests.synapse_site import matrix_source, read_site
from tests.test_crash import expected_isso_shape, isso_shape

pytestmark = [pytest.mark.synapse, pytest.mark.isso]

SITE = "e2e"
SECTIONS = ("hello-world", "second-post", "third")
BASE_TS = 1_500_000_000_000  # July 2017: real sites have years-old comments


@pytest.fixture(scope="module")
def seeded(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Cactus site on the real homeserver, and its pages.csv."""
    synapse.create_comment_room(SITE, None)  # the moderation room: not a page
    users = [synapse.user_id(n) for n in ("cactus_ann", "cactus_bob", "cactus_cy")]
    for user, name in zip(users, ("Ann", "Bob", "Cy"), strict=True):
        synapse.set_displayname(user, name)
    ts = BASE_TS
    for number, section in enumerate(SECTIONS):
        room = synapse.create_comment_room(SITE, section)
        chain: list[str] = []
        for i in range(9):
            ts += 3_600_000
            content: dict[str, object] = {
                "msgtype": "m.text",
                "body": f"{section}: comment {i} with **Markdown**",
            }
            level = i % 4
            if level and chain:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": chain[-1]}}
            event = synapse.send_message(room, content, users[i % 3], ts)
            chain = [*chain[:level], event] if level else [event]
        ts += 60_000
        synapse.send_message(room, {"msgtype": "m.emote", "body": "waves 👋"}, users[0], ts)
        if number == 0:
            ts += 60_000
            # Isso refuses texts under 3 characters: skipped with a reason, not lost silently
            synapse.send_message(room, {"msgtype": "m.text", "body": "ok"}, users[1], ts)
            ts += 60_000
            doomed = synapse.send_message(
                room, {"msgtype": "m.text", "body": "regret this"}, users[2], ts
            )
            ts += 60_000
            synapse.send_message(
                room,
                {
                    "msgtype": "m.text",
                    "body": "> <@x> regret this\n\nwhy?",
                    "m.relates_to": {"m.in_reply_to": {"event_id": doomed}},
                },
                users[0],
                ts,
            )
            ts += 60_000
            edited = synapse.send_message(
                room, {"msgtype": "m.text", "body": "teh typo"}, users[1], ts
            )
            synapse.send_message(
                room,
                {
                    "msgtype": "m.text",
                    "body": "* the typo",
                    "m.new_content": {"msgtype": "m.text", "body": "the typo"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": edited},
                },
                users[1],
                ts + 1,
            )
            synapse.redact(room, doomed, user_id=users[2])
    folder = tmp_path_factory.mktemp("site")
    (folder / "pages.csv").write_text(
        "".join(f"{s},/blog/{s}/,Post {s}\n" for s in SECTIONS), encoding="utf-8"
    )
    return folder / "pages.csv"


def source_config(synapse: SynapseServer, pages_file: Path) -> dict[str, object]:
    return matrix_source(synapse, SITE, pages_file)


def extracted(synapse: SynapseServer, pages_file: Path) -> dict[Page, list[Comment]]:
    return read_site(synapse, SITE, pages_file)


def test_synapse_to_isso_keeps_every_thread_as_isso_rules_predict(
    synapse: SynapseServer,
    seeded: Path,
    isso: IssoServer,
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path, source=source_config(synapse, seeded), target={"type": "isso", "url": isso.url}
    )
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["pages_complete"] == 3
    # "ok" is refused by Isso's rule: recorded and reported, never silently dropped
    short = [s for s in summary["skipped_comments"] if "3" in s["reason"]]
    assert len(short) == 1 and short[0]["page_id"] == "hello-world"
    assert any("cannot keep original timestamps" in note for note in summary["notes"])

    site = extracted(synapse, seeded)
    kept = {
        page: [c for c in comments if c.id != short[0]["source_id"]]
        for page, comments in site.items()
    }
    assert isso_shape(isso, list(kept)) == expected_isso_shape(kept)
    texts = [c["text"] for c in isso.comments("/blog/hello-world/")]
    assert "the typo" in texts and "teh typo" not in texts  # the edit applied
    assert "[deleted]" in texts  # a tombstone keeps the deleted comment's reply in place
    assert "\\* Ann waves 👋" in texts  # Markdown: Isso shows "* Ann waves", not a list

    assert invoke("verify", "-c", str(config)).exit_code == 0
    # a rerun imports nothing
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 0


def test_synapse_to_wxr_imported_into_isso_keeps_timestamps_and_threads(
    synapse: SynapseServer,
    seeded: Path,
    isso: IssoServer,
    tmp_path: Path,
) -> None:
    wxr = tmp_path / "comments.wxr"
    config = write_config(
        tmp_path, source=source_config(synapse, seeded), target={"type": "wxr", "output": str(wxr)}
    )
    code, _, stderr = run_json(config)
    assert code == 0, stderr
    done = isso.import_wxr(wxr)
    assert done.returncode == 0, done.stderr

    site = extracted(synapse, seeded)
    for page, comments in site.items():
        held = isso.comments(page.key)
        assert len(held) == len(comments)
        source_by_time = {c.created_at.replace(microsecond=0): c for c in comments}
        by_id = {c["id"]: c for c in held}
        parents = expected_parents(comments, max_depth=1)
        for item in held:
            when = datetime.fromtimestamp(item["created"], UTC).replace(microsecond=0)
            assert when in source_by_time, f"timestamp {when} not kept"
            source = source_by_time[when]
            parent_item = by_id.get(item["parent"]) if item.get("parent") else None
            parent_when = (
                datetime.fromtimestamp(parent_item["created"], UTC).replace(microsecond=0)
                if parent_item
                else None
            )
            expected = parents[source.id]
            expected_when = next(
                (c.created_at.replace(microsecond=0) for c in comments if c.id == expected), None
            )
            assert parent_when == expected_when, f"{source.id} under the wrong parent"
        assert min(c.created_at for c in comments).year == 2017


def test_extract_archive_round_trip_and_migrate_from_it(
    synapse: SynapseServer,
    seeded: Path,
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path,
        source=source_config(synapse, seeded),
        target={"type": "jsonl", "output": str(tmp_path / "out.jsonl")},
    )
    archive = tmp_path / "site.archive.jsonl"
    result = invoke("extract", "-c", str(config), "--output", str(archive), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["pages"] == 3 and summary["failed"] == []
    read_back = ArchiveSource(archive)
    live = extracted(synapse, seeded)
    assert {p.id: read_back.comments(p).comments for p in read_back.pages()} == {
        p.id: cs for p, cs in live.items()
    }

    # the same migration from the archive gives the same output as from the live source
    from_archive = write_config(
        tmp_path,
        archive=archive,
        name="archive.toml",
        target={"type": "jsonl", "output": str(tmp_path / "a.jsonl")},
        run={"checkpoint": str(tmp_path / "a.checkpoint.json")},
    )
    assert run_json(config)[0] == 0 and run_json(from_archive)[0] == 0

    def records(path: Path) -> Counter[str]:
        return Counter(
            json.dumps(
                {
                    k: v
                    for k, v in json.loads(line).items()
                    if k in ("text", "created_at", "author", "source")
                },
                sort_keys=True,
            )
            for line in path.read_text().splitlines()
        )

    assert records(tmp_path / "out.jsonl") == records(tmp_path / "a.jsonl")


def test_a_missing_page_fails_alone_with_a_clear_message(
    synapse: SynapseServer,
    seeded: Path,
    tmp_path: Path,
) -> None:
    pages = tmp_path / "pages.csv"
    pages.write_text(seeded.read_text() + "never-opened\n")
    config = write_config(
        tmp_path,
        source=source_config(synapse, pages),
        target={"type": "jsonl", "output": str(tmp_path / "out.jsonl")},
    )
    code, summary, _ = run_json(config)
    assert code == 3
    assert summary["pages_complete"] == 3
    (failed,) = summary["failed_pages"]
    assert failed["page_id"] == "never-opened"
    assert f"#comments_{SITE}_never-opened:{synapse.server_name}" in failed["error"]
    assert "not found" in failed["error"]
