"""A read-only command writes nothing, ever. `verify` (and `status`, `check`) read a file
target while another process appends to it: the half-written tail stays exactly as it is,
and a derived file (WXR) is not rebuilt from its store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from migrate.errors import TargetError
from migrate.model import Page
from migrate.systems.jsonl.target import JsonlTarget
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, run_json, write_config

HALF_A_RECORD = b'{"page":{"id":"post9","uri":"/post9/","title":null},"id":"99","par'


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.name.startswith("out")
    }


def read_only_commands(config: Path) -> None:
    verified = invoke("-q", "verify", "-c", str(config))
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert invoke("-q", "status", "-c", str(config)).exit_code == 0
    assert invoke("-q", "check", "-c", str(config)).exit_code == 0


@pytest.mark.parametrize(
    ("kind", "store"), [("jsonl", "out.jsonl"), ("wxr", "out.wxr.pages.jsonl")]
)
def test_verify_status_and_check_leave_a_file_being_appended_to_as_it_is(
    tmp_path: Path, kind: str, store: str
) -> None:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=2, per_page=4))
    output = tmp_path / f"out.{kind}"
    config = write_config(tmp_path, archive=archive, target={"type": kind, "output": str(output)})
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 8
    with (tmp_path / store).open("ab") as appender:  # another process, mid-append
        appender.write(HALF_A_RECORD)
    if kind == "wxr":  # the store is newer than the file: a writer would rebuild it
        past = output.stat().st_mtime_ns - 10**9
        os.utime(output, ns=(past, past))
    before = snapshot(tmp_path)
    read_only_commands(config)
    assert snapshot(tmp_path) == before


def test_a_target_opened_read_only_refuses_to_write(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_bytes(HALF_A_RECORD)
    reader = JsonlTarget(output, read_only=True)
    assert reader.list_page(Page(id="post9", key="/post9/")) == []
    with pytest.raises(TargetError, match="reading only"):
        reader.delete("99", Page(id="post9", key="/post9/"))
    reader.close()
    assert output.read_bytes() == HALF_A_RECORD
