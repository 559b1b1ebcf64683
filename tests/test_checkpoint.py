"""The checkpoint store: API, rules, formats, corruption handling, versions, schema.

Crash, lock and concurrency tests live in test_checkpoint_crash.py.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils import checkpoint_manager as cm
from utils.checkpoint import upgrade
from utils.checkpoint.formats import checkers, encode_line
from utils.checkpoint.snapshot import reseal_snapshot_bytes
from utils.checkpoint_manager import (
    CheckpointError,
    CheckpointLocked,
    CheckpointManager,
    CheckpointState,
    MappingConflict,
    read_checkpoint,
    validate_checkpoint_file,
)
from utils.schema_check import SchemaCompiler


def fingerprint(source: CheckpointManager | CheckpointState) -> dict[str, Any]:
    """Everything a checkpoint holds, with mapping groups keyed by page (their order is free)."""
    state = source.state if isinstance(source, CheckpointManager) else source
    with state.lock:
        doc: dict[str, Any] = json.loads(json.dumps(state.to_document()))
    del doc["snapshot_id"]  # fresh at every compaction
    doc["mappings"] = {
        group["page_id"]: list(zip(group["source_ids"], group["target_ids"], strict=True))
        for group in doc["mappings"]
    }
    return doc


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def populate(m: CheckpointManager, clock: Clock | None = None) -> None:
    """One of every record kind, including a removal and a skip; 21 s pass before the last."""
    m.start_migration(4)
    m.set_config("sha256:abc", {"source": "matrix:example.org", "target": "isso:https://c.example"})
    m.mark_page_in_progress("p1")
    for i in range(5):
        m.add_id_mapping(f"$p1-{i}", f"t{i}", "p1")
    m.add_skipped("$p1-x", "p1", "empty after sanitizing")
    m.mark_page_complete("p1", extracted=6, imported=5, skipped=1)
    m.mark_page_in_progress("p2")
    m.add_id_mapping("$p2-0", "u0", "p2")
    m.mark_page_failed("p2", "HTTP 403: forbidden", retryable=False, extracted=3, imported=1)
    m.mark_page_in_progress("p3")
    m.add_id_mapping("$loose", "v0")
    m.remove_id_mapping("$p1-2")
    if clock is not None:
        clock.now += timedelta(seconds=21)
    m.set_metadata("rollback", {"deleted": 2, "last": "$p1-2"})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / ".migration_checkpoint.json"


def test_records_and_queries(path: Path) -> None:
    clock = Clock()
    with CheckpointManager(path, clock=clock) as m:
        populate(m, clock)
        assert m.should_skip_page("p1") and m.is_page_completed("p1")
        assert not m.should_skip_page("p2") and m.is_page_failed("p2")
        assert not m.should_skip_page("p3") and not m.should_skip_page("nope")
        assert m.state.get_page_status("p3") == "in_progress"
        assert m.state.get_page_status("nope") is None and m.state.get_page("nope") is None
        assert m.get_completed_page_ids() == ["p1"]
        assert m.get_failed_page_ids() == ["p2"]
        assert m.state.get_in_progress_page_ids() == ["p3"]
        p2 = m.state.get_page("p2")
        assert p2 is not None
        assert p2["attempts"] == 1 and p2["extracted"] == 3 and p2["imported"] == 1
        assert p2["error"]["message"] == "HTTP 403: forbidden"
        assert p2["error"]["type"] == "Error" and p2["error"]["retryable"] is False
        assert m.get_new_comment_id("$p1-1") == "t1"
        assert m.get_new_comment_id("$p1-2") is None and not m.has_id_mapping("$p1-2")
        assert m.has_id_mapping("$loose")
        assert m.state.get_page_mappings("p1") == [
            ("$p1-0", "t0"),
            ("$p1-1", "t1"),
            ("$p1-3", "t3"),
            ("$p1-4", "t4"),
        ]
        assert m.state.get_page_mappings(None) == [("$loose", "v0")]
        assert m.state.mapping_count() == 6 == len(m.state.get_id_mappings())
        assert m.state.get_skipped_reason("$p1-x") == "empty after sanitizing"
        assert m.state.get_skipped_reason("$p1-0") is None
        assert m.state.get_page_skipped("p1") == {"$p1-x": "empty after sanitizing"}
        assert m.state.config_digest == "sha256:abc"
        assert m.state.config_identity == {
            "source": "matrix:example.org",
            "target": "isso:https://c.example",
        }
        assert m.state.get_metadata("rollback") == {"deleted": 2, "last": "$p1-2"}
        assert m.state.get_metadata("missing", 7) == 7
        summary = m.get_progress_summary()
    assert summary == {
        "total_pages": 4,
        "completed": 1,
        "failed": 1,
        "in_progress": 1,
        "pending": 1,
        "percent_complete": 25.0,
        "comments_extracted": 9,
        "comments_imported": 6,
        "comments_skipped": 1,
        "mappings": 6,
        "started_at": "2026-01-02T03:04:05.000+00:00",
        "updated_at": "2026-01-02T03:04:26.000+00:00",
        "elapsed_seconds": 21.0,
    }


def test_attempts_counted_by_in_progress_and_error_kept_until_complete(path: Path) -> None:
    class Refused(Exception):
        retryable = True

    with CheckpointManager(path) as m:
        m.mark_page_in_progress("p")
        m.mark_page_failed("p", Refused("busy"))
        m.mark_page_in_progress("p")
        page = m.state.get_page("p")
        assert page is not None
        assert page["attempts"] == 2 and page["status"] == "in_progress"
        assert page["error"]["type"] == "Refused" and page["error"]["retryable"] is True
        m.mark_page_failed("p", "x" * 5000, error_type="TargetError")
        page = m.state.get_page("p")
        assert page is not None
        assert page["error"]["type"] == "TargetError"
        assert len(page["error"]["message"]) == cm.MAX_ERROR_MESSAGE + 3
        m.mark_page_complete("p", 2, 2, 0)
        page = m.state.get_page("p")
        assert page is not None
        assert page["attempts"] == 2 and page["error"] is None
        m.mark_page_complete("never-started")
        assert m.state.get_page("never-started")["attempts"] == 1  # type: ignore[index]


def test_summary_of_a_fresh_checkpoint(path: Path) -> None:
    with CheckpointManager(path) as m:
        summary = m.get_progress_summary()
        assert summary["total_pages"] == 0 and summary["percent_complete"] == 0.0
        assert summary["started_at"] is None and summary["elapsed_seconds"] == 0.0
        assert m.state.config_digest is None and m.state.config_identity is None
    assert not path.exists(), "nothing recorded, nothing written"


def test_same_mapping_twice_is_a_noop(path: Path) -> None:
    with CheckpointManager(path) as m:
        assert m.add_id_mapping("$a", "1", "p") is True
        size = m.journal_file.stat().st_size
        assert m.add_id_mapping("$a", "1", "p") is False
        assert m.add_id_mapping("$a", "1", "other-page") is False
        assert m.journal_file.stat().st_size == size
        assert m.state.get_page_mappings("p") == [("$a", "1")]


def test_conflicting_mapping_raises_and_records_nothing(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.add_id_mapping("$a", "1", "p")
        size = m.journal_file.stat().st_size
        with pytest.raises(MappingConflict) as caught:
            m.add_id_mapping("$a", "2", "p")
        assert caught.value.existing == "1" and caught.value.new == "2"
        assert isinstance(caught.value, CheckpointError)
        assert "$a" in str(caught.value)
        assert m.journal_file.stat().st_size == size
        assert m.get_new_comment_id("$a") == "1"
        with pytest.raises(MappingConflict):
            m.add_skipped("$a", "p", "too long")
        assert m.state.get_skipped_reason("$a") is None
    with CheckpointManager(path) as m:
        assert m.get_new_comment_id("$a") == "1"


def test_mapping_a_skipped_comment_unskips_it(path: Path) -> None:
    with CheckpointManager(path) as m:
        m.add_skipped("$a", "p", "refused")
        m.add_id_mapping("$a", "1", "p")
        assert m.state.get_skipped_reason("$a") is None
    assert read_checkpoint(path).get_skipped_reason("$a") is None


def test_remove_then_map_again_elsewhere(path: Path) -> None:
    with CheckpointManager(path) as m:
        for i in range(3):
            m.add_id_mapping(f"$s{i}", f"t{i}", "p1")
        assert m.remove_id_mapping("$s1") is True
        assert m.remove_id_mapping("$s1") is False
        m.add_id_mapping("$s1", "t9", "p2")
        assert m.state.get_page_mappings("p1") == [("$s0", "t0"), ("$s2", "t2")]
        assert m.state.get_page_mappings("p2") == [("$s1", "t9")]
        before = fingerprint(m)
    with CheckpointManager(path) as m:
        assert fingerprint(m) == before


def test_invalid_arguments_are_refused_before_writing(path: Path) -> None:
    with CheckpointManager(path) as m:
        with pytest.raises(ValueError):
            m.add_id_mapping("", "1")
        with pytest.raises(TypeError):
            m.add_id_mapping("$a", 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            m.mark_page_complete("p", extracted=-1)
        with pytest.raises(ValueError):
            m.set_metadata("k", float("nan"))
        with pytest.raises(TypeError):
            m.set_metadata("k", object())
        with pytest.raises(ValueError):
            m.start_migration(-3)
        assert not m.journal_file.exists()
    with pytest.raises(ValueError):
        CheckpointManager(path, fsync="sometimes")  # type: ignore[arg-type]


def test_journal_then_compaction_then_reload_all_equal(path: Path) -> None:
    clock = Clock()
    with CheckpointManager(path, clock=clock) as m:
        populate(m, clock)
        live = fingerprint(m)
        m.close(compact=False)
    assert not path.exists() and path.with_name(path.name + ".journal").stat().st_size > 0
    assert fingerprint(read_checkpoint(path)) == live
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live
        m.compact()
        assert m.journal_file.stat().st_size == 0
        assert fingerprint(m) == live
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live
        assert m.get_progress_summary()["elapsed_seconds"] == 21.0


def test_automatic_compaction_past_the_threshold(path: Path) -> None:
    with CheckpointManager(path, compact_threshold=10) as m:
        for i in range(25):
            m.add_id_mapping(f"$s{i}", f"t{i}")
        assert path.exists()
        assert len(m.journal_file.read_bytes().splitlines()) == 1 + 5  # header + records
        live = fingerprint(m)
        m.close(compact=False)
    assert fingerprint(read_checkpoint(path)) == live
    assert json.loads(path.read_text())["journal_seq"] == 20


def test_recording_appends_one_line_and_leaves_the_snapshot_alone(path: Path) -> None:
    with CheckpointManager(path) as m:
        for i in range(100):
            m.add_id_mapping(f"$old{i}", f"t{i}", "p0")
        m.compact()
        snapshot = path.read_bytes()
        inode = path.stat().st_ino
        before = m.journal_file.read_bytes()
        m.mark_page_in_progress("p1")
        m.add_id_mapping("$new", "n", "p1")
        m.mark_page_complete("p1", 1, 1)
        after = m.journal_file.read_bytes()
        assert path.read_bytes() == snapshot and path.stat().st_ino == inode
        added = after[len(before) :].decode().splitlines(keepends=True)
        assert after.startswith(before)
        assert [json.loads(line)["kind"] for line in added] == ["journal", "page", "map", "page"]
        assert all(line.endswith("}\n") for line in added)


def test_files_are_private_whatever_the_umask(path: Path) -> None:
    old = os.umask(0)
    try:
        with CheckpointManager(path) as m:
            m.add_id_mapping("$a", "1")
            m.compact()
            m.add_id_mapping("$b", "2")
            files = [path, m.journal_file, m.lock_file]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(modes, 0o600)


def test_save_reload_and_clear(path: Path) -> None:
    with CheckpointManager(path) as m:
        assert m.load_checkpoint() is False
        m.add_id_mapping("$a", "1")
        m.save_checkpoint()
        assert m.load_checkpoint() is True
        assert m.get_new_comment_id("$a") == "1"
        m.compact()
        m.add_id_mapping("$b", "2")
        m.clear_checkpoint()
        assert not path.exists() and not m.journal_file.exists()
        assert m.state.mapping_count() == 0 and m.get_progress_summary()["mappings"] == 0
        m.add_id_mapping("$c", "3")
    with CheckpointManager(path) as m:
        assert m.state.get_id_mappings() == {"$c": "3"}


def test_closed_manager_refuses_work_and_frees_the_lock(path: Path) -> None:
    m = CheckpointManager(path)
    m.close()
    m.close()
    with pytest.raises(CheckpointError, match="closed"):
        m.add_id_mapping("$a", "1")
    CheckpointManager(path).close()


def test_second_manager_in_the_same_process_is_locked_out(path: Path) -> None:
    with CheckpointManager(path):
        with pytest.raises(CheckpointLocked) as caught:
            CheckpointManager(path)
        assert caught.value.pid == os.getpid()
        assert f"process {os.getpid()}" in str(caught.value)


def test_read_only_helpers_take_no_lock_and_write_nothing(path: Path) -> None:
    with CheckpointManager(path) as m:
        populate(m)
        state = read_checkpoint(path)
        assert fingerprint(state) == fingerprint(m)
        assert state.get_progress_summary() == m.get_progress_summary()
        summary = validate_checkpoint_file(path)
        assert summary["journal_records_replayed"] == summary["journal_records"] > 0
        assert summary["mappings"] == 6 and summary["snapshot_exists"] is False
        assert not path.exists()
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        validate_checkpoint_file(path.with_name("other.json"))


# ---- corruption: always an error naming file and line, never an empty checkpoint


def write_valid(path: Path) -> dict[str, Any]:
    with CheckpointManager(path, clock=Clock()) as m:
        populate(m)
        return fingerprint(m)


def expect_error(path: Path, file: Path, line: int | None, *words: str) -> CheckpointError:
    before = {p: p.read_bytes() for p in path.parent.iterdir() if not p.name.endswith(".lock")}
    with pytest.raises(CheckpointError) as caught:
        CheckpointManager(path)
    error = caught.value
    text = str(error)
    assert not isinstance(error, CheckpointLocked)
    assert str(file) in text and error.path == file
    if line is not None:
        assert f"line {line}:" in text and error.line == line
    for word in words:
        assert word in text
    after = {p: p.read_bytes() for p in path.parent.iterdir() if not p.name.endswith(".lock")}
    assert after == before, "a broken checkpoint must be left exactly as it was"
    with pytest.raises(CheckpointError) as again:
        validate_checkpoint_file(path)
    assert str(again.value) == text
    return error


def test_empty_snapshot(path: Path) -> None:
    write_valid(path)
    path.write_text("")
    expect_error(path, path, 1, "empty", "--reset", "checkpoint validate")


def test_truncated_snapshot(path: Path) -> None:
    write_valid(path)
    text = path.read_text()
    cut = text.index('"pages"') + 40
    path.write_text(text[:cut])
    expect_error(path, path, text[:cut].count("\n") + 1, "not valid JSON", "--reset")


def test_snapshot_that_is_not_a_checkpoint(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text('{"hello": "world"}\n')
    expect_error(path, path, 1, "not a comment-migrate checkpoint")


def test_newer_version_is_refused(path: Path) -> None:
    write_valid(path)
    newer = cm.SCHEMA_VERSION + 1
    doc = path.read_text().replace(f'"version": {cm.SCHEMA_VERSION},', f'"version": {newer},')
    write_sealed(path, doc)
    error = expect_error(path, path, 3, f"version {newer} is newer", "Upgrade comment-migrate")
    assert "--reset" not in str(error), "starting over is the wrong advice for a newer file"


def test_schema_violation_in_a_page(path: Path) -> None:
    write_valid(path)
    lines = path.read_text().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines) if line.startswith('  "p2":'))
    lines[number] = lines[number].replace('"status":"failed"', '"status":"done"')
    write_sealed(path, "".join(lines))
    expect_error(path, path, number + 1, "pages.p2.status", "'done' is not one of")


def test_type_error_inside_the_mapping(path: Path) -> None:
    write_valid(path)
    doc = json.loads(path.read_text())
    doc["mappings"][0]["target_ids"][1] = 17
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines) if line.startswith('  {"page_id":"p1"'))
    group = json.dumps(doc["mappings"][0], separators=(",", ":"))
    lines[number] = f"  {group},\n"
    write_sealed(path, "".join(lines))
    expect_error(path, path, number + 1, "mappings[0].target_ids[1]", "17 is not of type 'string'")


def test_mapping_group_with_mismatched_lengths(path: Path) -> None:
    write_valid(path)
    doc = json.loads(path.read_text())
    doc["mappings"][0]["target_ids"].pop()
    write_sealed(path, json.dumps(doc))
    expect_error(path, path, 1, "4 source ids but 3 target ids", "mappings[0]")


def test_source_mapped_twice_in_a_snapshot(path: Path) -> None:
    write_valid(path)
    doc = json.loads(path.read_text())
    doc["mappings"][1]["source_ids"][0] = "$p1-0"
    write_sealed(path, json.dumps(doc))
    expect_error(path, path, 1, "'$p1-0' is mapped twice", "mappings[1].source_ids[0]")


def write_sealed(path: Path, text: str) -> None:
    """Write an edited snapshot with its checksum recomputed, as a deliberate edit would."""
    path.write_bytes(reseal_snapshot_bytes(text.encode()))


def journal_lines(path: Path) -> list[str]:
    return path.with_name(path.name + ".journal").read_text().splitlines(keepends=True)


def write_journal_only(path: Path) -> list[str]:
    with CheckpointManager(path, clock=Clock()) as m:
        populate(m)
        m.close(compact=False)
    return journal_lines(path)


def test_invalid_json_in_the_middle_of_the_journal(path: Path) -> None:
    lines = write_journal_only(path)
    journal = path.with_name(path.name + ".journal")
    lines[4] = lines[4][: len(lines[4]) // 2] + "\n"
    journal.write_text("".join(lines))
    expect_error(path, journal, 5, "damaged record", "--reset")


def test_schema_violation_in_the_journal_even_on_the_last_line(path: Path) -> None:
    lines = write_journal_only(path)
    journal = path.with_name(path.name + ".journal")
    record = json.loads(lines[-1])
    del record["crc"]
    record["value"] = None
    record["key"] = 5
    lines[-1] = encode_line(record).decode()  # a valid checksum over an invalid record
    journal.write_text("".join(lines))
    expect_error(path, journal, len(lines), "invalid record at key", "5 is not of type 'string'")


def test_journal_with_missing_records(path: Path) -> None:
    lines = write_journal_only(path)
    journal = path.with_name(path.name + ".journal")
    del lines[3]
    journal.write_text("".join(lines))
    expect_error(path, journal, 4, "does not follow seq 2", "records are missing")


def test_journal_continuing_a_deleted_snapshot(path: Path) -> None:
    with CheckpointManager(path, clock=Clock()) as m:
        populate(m)
        m.compact()
        m.add_id_mapping("$later", "1")
        m.close(compact=False)
    path.unlink()
    journal = path.with_name(path.name + ".journal")
    expect_error(path, journal, 1, "records are missing")


def test_stale_records_from_an_unfinished_compaction_are_not_applied_twice(path: Path) -> None:
    # a skip then a map of the same comment: applying the skip again would be an error
    with CheckpointManager(path, clock=Clock()) as m:
        m.add_skipped("$a", "p", "refused")
        m.add_id_mapping("$a", "1", "p")
        m.mark_page_complete("p", 1, 1)
        stale = m.journal_file.read_bytes()
        m.compact()
        live = fingerprint(m)
        m.close(compact=False)
    journal = path.with_name(path.name + ".journal")
    journal.write_bytes(stale)  # the crash came after the snapshot's rename, before truncation
    assert fingerprint(read_checkpoint(path)) == live
    assert validate_checkpoint_file(path)["journal_records_replayed"] == 0
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live
        m.add_id_mapping("$b", "2", "p")
        live = fingerprint(m)
        m.close(compact=False)
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live


def test_leftover_temp_file_of_a_crashed_compaction_is_ignored_and_removed(path: Path) -> None:
    live = write_valid(path)
    leftover = path.with_name(f".{path.name}.abc123.tmp")
    leftover.write_text('{"half a snap')
    with CheckpointManager(path) as m:
        assert fingerprint(m) == live
    assert not leftover.exists()


def test_failed_load_releases_the_lock(path: Path) -> None:
    write_valid(path)
    path.write_text("{")
    for _ in range(2):
        with pytest.raises(CheckpointError) as caught:
            CheckpointManager(path)
        assert not isinstance(caught.value, CheckpointLocked)


# ---- versions

LEGACY = {
    "completed_pages": ["about", "blog/one"],
    "failed_pages": {"blog/two": "HTTP 500 from target"},
    "id_mapping": {"$e1": "101", "$e2": "102"},
    "total_pages": 5,
    "started_at": "2024-03-01T10:00:00+00:00",
    "last_updated": "2024-03-01T10:30:00+00:00",
}


def test_version_0_is_upgraded_through_the_table(path: Path, caplog: Any) -> None:
    assert cm.UPGRADES[0] is upgrade.upgrade_0_to_1
    assert cm.UPGRADES[1] is upgrade.upgrade_1_to_2
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(LEGACY))
    state = read_checkpoint(path)
    assert json.loads(path.read_text()) == LEGACY, "reading must not rewrite"
    assert state.get_completed_page_ids() == ["about", "blog/one"]
    with caplog.at_level(logging.INFO), CheckpointManager(path) as m:
        assert fingerprint(m) == fingerprint(state)
        assert m.get_failed_page_ids() == ["blog/two"]
        page = m.state.get_page("blog/two")
        assert page is not None and page["error"]["message"] == "HTTP 500 from target"
        assert m.state.get_id_mappings() == {"$e1": "101", "$e2": "102"}
        summary = m.get_progress_summary()
        assert summary["total_pages"] == 5 and summary["elapsed_seconds"] == 1800.0
        m.add_id_mapping("$e3", "103")
    assert f"upgraded from checkpoint version 0 to {cm.SCHEMA_VERSION}" in caplog.text
    assert json.loads(path.read_text())["version"] == cm.SCHEMA_VERSION
    assert json.loads(path.with_name(path.name + ".v0.bak").read_text()) == LEGACY
    assert validate_checkpoint_file(path)["stored_version"] == cm.SCHEMA_VERSION
    assert read_checkpoint(path).get_new_comment_id("$e3") == "103"


def test_broken_version_0_is_an_error(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**LEGACY, "id_mapping": {"$e1": 101}}))
    expect_error(path, path, 1, "cannot upgrade from version 0", "id_mapping")


def test_a_missing_upgrade_step_is_an_error(path: Path, monkeypatch: Any) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(LEGACY))
    monkeypatch.delitem(cm.UPGRADES, 0)
    expect_error(path, path, None, "no upgrade from checkpoint version 0")


# ---- the schema: shipped as package data, and the fast checker agrees with jsonschema


def test_schema_ships_as_package_data_and_is_valid() -> None:
    from importlib import resources

    text = resources.files("utils").joinpath("schemas/checkpoint.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == cm.load_schema()


def test_written_files_match_the_schema(path: Path) -> None:
    schema = cm.load_schema()
    with CheckpointManager(path) as m:
        populate(m)
        m.close(compact=False)
    records = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/journal_record"})
    header = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/journal_header"})
    lines = [json.loads(line) for line in journal_lines(path)]
    for number, line in enumerate(lines):
        assert isinstance(line.pop("crc"), str)  # framing, outside the schema
        (header if number == 0 else records).validate(line)
    with CheckpointManager(path):
        pass
    jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


def test_checker_refuses_keywords_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="patternProperties"):
        SchemaCompiler({}).compile({"type": "object", "patternProperties": {"^a": {}}})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "x", "map", "page", "complete", "done"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def valid_records() -> list[dict[str, Any]]:
    page = {
        "status": "failed",
        "attempts": 1,
        "extracted": 2,
        "imported": 1,
        "skipped": 0,
        "error": {"type": "E", "message": "m", "retryable": None, "time": "t"},
        "updated_at": "t",
    }
    base = {"seq": 3, "time": "2026-01-01T00:00:00+00:00"}
    return [
        {**base, "kind": "start", "total_pages": 4},
        {**base, "kind": "page", "page_id": "p", "state": page},
        {**base, "kind": "map", "source_id": "$a", "target_id": "1", "page_id": None},
        {**base, "kind": "unmap", "source_id": "$a"},
        {**base, "kind": "skip", "source_id": "$a", "page_id": "p", "reason": "r"},
        {**base, "kind": "config", "digest": "d", "identity": {"a": "b"}},
        {**base, "kind": "meta", "key": "k", "value": [1, {"x": None}]},
    ]


def mutate(doc: Any, data: st.DataObject) -> Any:
    """Change, drop or add one thing somewhere inside `doc`."""
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)))
        action = data.draw(st.sampled_from(["replace", "drop", "add", "descend"]))
        doc = dict(doc)
        if action == "replace":
            doc[key] = data.draw(json_values)
        elif action == "drop":
            del doc[key]
        elif action == "add":
            doc[data.draw(st.text(max_size=4))] = data.draw(json_values)
        else:
            doc[key] = mutate(doc[key], data)
        return doc
    if isinstance(doc, list) and doc:
        index = data.draw(st.integers(0, len(doc) - 1))
        doc = list(doc)
        doc[index] = (
            mutate(doc[index], data) if data.draw(st.booleans()) else data.draw(json_values)
        )
        return doc
    return data.draw(json_values)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_checker_agrees_with_jsonschema_on_records(data: st.DataObject) -> None:
    schema = cm.load_schema()
    validator = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/journal_record"})
    record = data.draw(st.sampled_from(valid_records()))
    for _ in range(data.draw(st.integers(0, 2))):
        record = mutate(record, data)
    _, record_ok, _ = checkers()
    assert record_ok(record) == validator.is_valid(record)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_checker_agrees_with_jsonschema_on_snapshots(data: st.DataObject) -> None:
    doc = SNAPSHOT_SAMPLE
    for _ in range(data.draw(st.integers(0, 2))):
        doc = mutate(doc, data)
    snapshot_ok, _, _ = checkers()
    assert snapshot_ok(doc) == jsonschema.Draft202012Validator(cm.load_schema()).is_valid(doc)


def _sample_snapshot() -> dict[str, Any]:
    m_state = CheckpointState()
    m_state.migration_id, m_state.snapshot_id = "m1", "s1"
    for record in valid_records():
        if record["kind"] not in ("unmap", "skip"):
            m_state.apply(record)
    m_state.apply({**valid_records()[4], "source_id": "$c"})
    m_state.apply(
        {"seq": 4, "kind": "map", "time": "t", "source_id": "$b", "target_id": "2", "page_id": "p"}
    )
    doc: dict[str, Any] = json.loads(json.dumps(m_state.to_document()))
    jsonschema.Draft202012Validator(cm.load_schema()).validate(doc)
    return doc


SNAPSHOT_SAMPLE = _sample_snapshot()
