"""Checkpoint integrity and the state added by format 2.

Every bit of a journal and a few hundred of a snapshot flipped: each is detected or is the
torn-last-line case, none validates silently. A journal is bound to its snapshot and its
migration; a journal alone is a checkpoint everywhere; version-1 checkpoints still load.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.migration_helpers import invoke
from tests.test_checkpoint import Clock, fingerprint
from utils.checkpoint_manager import (
    SCHEMA_VERSION,
    CheckpointError,
    CheckpointManager,
    MappingConflict,
    checkpoint_exists,
    journal_path,
    read_checkpoint,
    validate_checkpoint_file,
)
from utils.errors import ToolError

SHA = "ab" * 32
MEDIA = {"name": "abc.png", "content_type": "image/png", "size": 3, "sha256": SHA}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cp.json"


def small_history(m: CheckpointManager) -> None:
    m.start_migration(2)
    m.mark_page_in_progress("p1")
    m.add_id_mappings([("$a", "1", "p1", "r-a"), ("$b", "2", "p1", None)])
    m.record_media("mxc://example.org/abc", MEDIA)
    m.mark_page_complete("p1", 2, 2)


def test_every_bit_flip_of_the_journal_is_detected_or_a_torn_last_line(path: Path) -> None:
    with CheckpointManager(path, clock=Clock()) as m:
        small_history(m)
        m.close(compact=False)
    journal = journal_path(path)
    good = journal.read_bytes()
    whole = fingerprint(read_checkpoint(path))
    last_line = good[: good.rstrip(b"\n").rfind(b"\n") + 1]
    journal.write_bytes(last_line)
    without_last = fingerprint(read_checkpoint(path))
    outcomes = {"detected": 0, "torn": 0}
    for position in range(len(good)):
        for bit in range(8):
            damaged = bytearray(good)
            damaged[position] ^= 1 << bit
            journal.write_bytes(damaged)
            try:
                summary = validate_checkpoint_file(path)
            except CheckpointError as error:
                assert str(journal) in str(error) and error.line is not None
                outcomes["detected"] += 1
                continue
            where = f"byte {position} bit {bit}"
            assert summary["torn_tail_dropped"], f"{where} validated silently"
            assert fingerprint(read_checkpoint(path)) == without_last, where
            assert fingerprint(read_checkpoint(path)) != whole
            outcomes["torn"] += 1
    assert outcomes["detected"] > 0.99 * len(good) * 8
    assert 0 < outcomes["torn"] <= 8  # the last line's newline, and NUL bytes in that line


def test_random_bit_flips_of_the_snapshot_are_detected(path: Path) -> None:
    with CheckpointManager(path, clock=Clock()) as m:
        small_history(m)
    good = path.read_bytes()
    rng = random.Random(8)
    for _ in range(400):
        position, bit = rng.randrange(len(good)), rng.randrange(8)
        damaged = bytearray(good)
        damaged[position] ^= 1 << bit
        path.write_bytes(damaged)
        with pytest.raises(CheckpointError) as caught:
            validate_checkpoint_file(path)
        assert str(path) in str(caught.value), f"byte {position} bit {bit}"
    path.write_bytes(good)
    validate_checkpoint_file(path)


def test_a_journal_from_another_migration_is_an_error(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "cp.json", tmp_path / "b" / "cp.json"
    for path in (first, second):
        with CheckpointManager(path) as m:
            m.add_id_mapping("$x", "1")
            m.compact()
            m.add_id_mapping("$y", "2")
            m.close(compact=False)
    journal_path(first).write_bytes(journal_path(second).read_bytes())
    with pytest.raises(CheckpointError, match="another migration") as caught:
        validate_checkpoint_file(first)
    assert caught.value.path == journal_path(first) and caught.value.line == 1
    with pytest.raises(CheckpointError, match="another migration"):
        CheckpointManager(first)


def test_a_journal_extending_another_snapshot_is_an_error(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.add_id_mapping("$x", "1")
        m.compact()
        older = path.read_bytes()
        m.add_id_mapping("$y", "2")
        m.compact()
        m.add_id_mapping("$z", "3")
        m.close(compact=False)
    path.write_bytes(older)  # a backup put back beside a newer journal
    with pytest.raises(CheckpointError, match="records are missing"):
        validate_checkpoint_file(path)


def test_a_journal_alone_is_a_checkpoint_everywhere(path: Path) -> None:
    with CheckpointManager(path) as m:
        small_history(m)
        m.close(compact=False)  # a crash before the first compaction
    assert not path.exists() and checkpoint_exists(path)
    assert read_checkpoint(path).get_completed_page_ids() == ["p1"]
    assert validate_checkpoint_file(path)["snapshot_exists"] is False
    result = invoke("checkpoint", "compact", str(path))
    assert result.exit_code == 0, result.output
    assert path.exists() and journal_path(path).stat().st_size == 0
    assert read_checkpoint(path).get_new_comment_id("$a") == "1"
    assert not checkpoint_exists(path.with_name("other.json"))


def test_cursor_revision_batch_media_and_syncs_survive_reload(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.set_page_cursor("p1", "t1-1")
        assert m.state.get_page_status("p1") == "pending"
        small_history(m)
        assert m.state.get_page_cursor("p1") == "t1-1", "marking a page keeps its cursor"
        m.set_page_cursor("p1", "t2-9")
        assert m.add_id_mapping("$a", "1", "p1", revision="r-a2") is False
        m.set_revision("$b", "r-b")
        with pytest.raises(CheckpointError, match="no mapping"):
            m.set_revision("$nope", "r")
        m.record_sync({"imported": 2, "pages": 1, "at": "2026-01-01T00:00:00+00:00"})
        m.record_sync({"imported": 0, "pages": 1})
        m.compact()
        m.remove_id_mapping("$b")
        m.close(compact=False)
    state = read_checkpoint(path)
    assert state.get_page_cursor("p1") == "t2-9" and state.get_page_cursor("p9") is None
    assert state.get_revision("$a") == "r-a2" and state.get_revision("$b") is None
    assert state.get_media("mxc://example.org/abc") == MEDIA
    assert state.get_media("mxc://example.org/none") is None
    assert [s["imported"] for s in state.get_syncs()] == [2, 0]
    assert state.last_sync is not None and state.last_sync["at"] != "2026-01-01T00:00:00+00:00"
    with CheckpointManager(path) as m:
        assert m.get_media("mxc://example.org/abc") == MEDIA
        assert fingerprint(m) == fingerprint(state)


def test_a_batch_is_one_append_and_all_or_nothing(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.add_id_mapping("$a", "1", "p")
        before = m.journal_file.read_bytes()
        with pytest.raises(MappingConflict):
            m.add_id_mappings([("$b", "2", "p", None), ("$a", "9", "p", None)])
        with pytest.raises(MappingConflict):
            m.add_id_mappings([("$c", "3", "p", None), ("$c", "4", "p", None)])
        assert m.journal_file.read_bytes() == before and not m.has_id_mapping("$b")
        added = m.add_id_mappings([("$a", "1", "p", None), ("$b", "2", "p", "r")])
        assert added == [False, True]
        new = m.journal_file.read_bytes()[len(before) :].decode().splitlines()
        assert [json.loads(line)["kind"] for line in new] == ["map"]


def test_bad_media_and_sync_records_are_refused_before_writing(path: Path) -> None:
    with CheckpointManager(path) as m:
        with pytest.raises(ValueError, match="mxc"):
            m.record_media("https://example.org/a.png", MEDIA)
        with pytest.raises(CheckpointError, match="sha256"):
            m.record_media("mxc://example.org/a", {**MEDIA, "sha256": "nope"})
        with pytest.raises(ValueError, match="revision"):
            m.add_id_mapping("$a", "1", revision="x" * 200)
        assert not m.journal_file.exists()


V1_SNAPSHOT = {
    "format": "comment-migrate-checkpoint", "version": 1, "journal_seq": 2,
    "started_at": "2025-01-01T00:00:00.000+00:00", "updated_at": "2025-01-01T00:00:01.000+00:00",
    "total_pages": 2, "config": None, "metadata": {},
    "pages": {"p1": {"status": "complete", "attempts": 1, "extracted": 1, "imported": 1,
                     "skipped": 0, "error": None,
                     "updated_at": "2025-01-01T00:00:01.000+00:00"}},
    "mappings": [{"page_id": "p1", "source_ids": ["$a"], "target_ids": ["1"]}],
    "skipped": {},
}  # fmt: skip
V1_JOURNAL = (
    '{"seq":3,"kind":"map","time":"2025-01-01T00:00:02.000+00:00","source_id":"$b",'
    '"target_id":"2","page_id":"p2"}\n'
)


@pytest.mark.parametrize("with_snapshot", [True, False])
def test_version_1_checkpoints_still_load_and_are_upgraded(
    path: Path, with_snapshot: bool, caplog: Any
) -> None:
    if with_snapshot:
        path.write_text(json.dumps(V1_SNAPSHOT, indent=1))
        journal_path(path).write_text(V1_JOURNAL)
    else:
        journal_path(path).write_text(V1_JOURNAL.replace('"seq":3', '"seq":1'))
    state = read_checkpoint(path)
    assert state.get_new_comment_id("$b") == "2"
    assert state.get_new_comment_id("$a") == ("1" if with_snapshot else None)
    with CheckpointManager(path) as m:
        # a version-1 journal alone names no migration: the upgrade gives it one
        assert {**fingerprint(m), "migration_id": None} == {
            **fingerprint(state),
            "migration_id": None,
        }
        m.add_id_mapping("$c", "3", "p2")
    assert json.loads(path.read_text())["version"] == SCHEMA_VERSION
    assert journal_path(path).with_name("cp.json.journal.v1.bak").read_text().startswith('{"seq"')
    assert path.with_name("cp.json.v1.bak").exists() == with_snapshot
    assert read_checkpoint(path).get_page_mappings("p2") == [("$b", "2"), ("$c", "3")]


def test_checkpoint_errors_are_tool_errors(path: Path) -> None:
    path.write_text("{")
    with pytest.raises(ToolError) as caught:
        read_checkpoint(path)
    assert isinstance(caught.value, CheckpointError)
    assert caught.value.message == str(caught.value) and str(path) in caught.value.message


def test_a_cursor_keeps_its_room_and_a_page_its_media_count_across_reloads(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.set_page_cursor("p1", "t1-1", ref="!old:example.org")
        m.mark_page_in_progress("p1")
        m.mark_page_complete("p1", extracted=3, imported=3, source_media=2)
        assert m.state.get_page_cursor_ref("p1") == "!old:example.org"
        m.mark_page_in_progress("p1")
        m.mark_page_complete("p1", extracted=3, imported=3)  # no count given: kept
        m.set_page_cursor("p1", "t5-2", ref="!new:example.org")
        m.set_page_cursor("p2", "t1-1")  # a cursor of no known room
        m.close(compact=False)
    state = read_checkpoint(path)
    assert state.get_page_cursor("p1") == "t5-2"
    assert state.get_page_cursor_ref("p1") == "!new:example.org"
    assert state.get_page_source_media("p1") == 2
    assert state.get_page_cursor_ref("p2") is None and state.get_page_source_media("p2") is None
    with CheckpointManager(path) as m:
        m.mark_page_complete("p1", extracted=3, imported=3, source_media=0)
        assert m.state.get_page_source_media("p1") == 0
        assert m.state.get_page_cursor_ref("p1") == "!new:example.org"
