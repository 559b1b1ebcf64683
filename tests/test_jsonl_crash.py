"""SIGKILL at random instants of runs into a page-atomic file (JSONL), the benchmark's shape:
many pages and an archive source, read as one page at a time (a run between local files) and
as four page threads side by side (the archive read as a source that waits on a server is,
such as Matrix into JSONL: the file target's commits from several threads).

A page-atomic target journals a page's mappings once, after the page's commit, and marks the
page complete without an fsync of its own; the window between the commit and the journal is
closed by reading the file back (reconcile). Whatever instant the process dies at (mid-page,
between the commit and the journal, mid-journal), the rerun leaves each comment in the file
exactly once, under its parent."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, start_run, subprocess_env, write_config
from tests.test_crash import kill_later

# a run through the API (as the CLI makes it), its source an archive that says it waits on
# a server
SIDE_BY_SIDE = """
import sys
from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
class FromAServer(ArchiveSource):
    local_only = False
archive, output, checkpoint = sys.argv[1:]
migration = Migration(FromAServer(archive), JsonlTarget(output), checkpoint=checkpoint, workers=4)
summary = migration.run(RunOptions(quiet=True))
sys.exit(1 if summary.failed_pages else 0)
"""


@pytest.mark.parametrize("side_by_side", [False, True], ids=["one-page-thread", "four"])
def test_killed_runs_into_jsonl_leave_each_comment_once_under_its_parent(
    tmp_path: Path, side_by_side: bool
) -> None:
    site: dict[Page, list[Comment]] = threaded_site(pages=300, per_page=100, depth=5)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    output = tmp_path / "out.jsonl"
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": str(output)},
        run={"workers": 4},
    )  # fmt: skip
    checkpoint = tmp_path / "checkpoint.json"
    rng = random.Random(21)
    kills = sizes = 0
    for _ in range(40):
        if side_by_side:
            proc = subprocess.Popen(
                [sys.executable, "-c", SIDE_BY_SIDE, str(archive), str(output), str(checkpoint)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=subprocess_env(),
            )
        else:
            proc = start_run(config)
        timer = kill_later(proc.pid, rng.uniform(0.3, 1.5)) if kills < 6 else None
        _, stderr = proc.communicate(timeout=180)
        if timer is not None:
            timer.cancel()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            size = output.stat().st_size if output.exists() else 0
            assert size >= sizes  # pages are only ever added
            sizes = size
            continue
        assert proc.returncode == 0, stderr
        break
    # how many runs a kill catches depends on the machine's speed: a quick machine finishes
    # the rest within the next run's delay; two kills, one after a commit, are the point
    assert kills >= 2, f"only {kills} runs were killed"
    assert sizes > 0, "no kill came after the first page's commit"

    records = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    by_source = {}
    for record in records:
        source_id = record["source"]["id"]
        assert source_id not in by_source, f"{source_id} written twice"
        by_source[source_id] = record
    comments = [c for cs in site.values() for c in cs]
    assert sorted(by_source) == sorted(c.id for c in comments), "a comment was lost"
    source_of_target = {r["id"]: sid for sid, r in by_source.items()}
    for comment in comments:
        record = by_source[comment.id]
        parent = record["parent_id"]
        assert (source_of_target[parent] if parent else None) == comment.parent_id
        assert record["page"]["id"] == comment.page_id
    assert invoke("checkpoint", "validate", str(checkpoint)).exit_code == 0
