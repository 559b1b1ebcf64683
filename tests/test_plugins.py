"""Third-party plugins: a source and a target, each one module installed as a distribution
with an entry point, run, check, verify, sync and roll back through the CLI, with no file of
the package touched. The target has no reconcile: it is reported, not stubbed."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import migrate.plugins
from migrate.abilities import CRASH_WINDOW
from tests.migration_helpers import invoke, run_json, write_config

PLUGINS = Path(__file__).parent / "plugins"
COLUMNS = ("page_url", "id", "parent_id", "author", "date", "text")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The two modules installed the way pip installs a package: the modules and a
    dist-info folder whose entry_points.txt names them."""
    site = tmp_path / "site-packages"
    info = site / "example_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    for module in ("csv_comments.py", "lines_target.py"):
        shutil.copy(PLUGINS / module, site / module)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: example-plugins\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[comment_migrate.sources]\ncsv = csv_comments:SOURCE\n\n"
        "[comment_migrate.targets]\nlines = lines_target:TARGET\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    migrate.plugins._registered.cache_clear()
    yield site
    migrate.plugins._registered.cache_clear()
    for module in ("csv_comments", "lines_target"):
        sys.modules.pop(module, None)


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)


ROWS = [
    (
        "https://blog.example.org/a/?utm_source=x",
        "1",
        "",
        "Ann",
        "2020-01-02T03:04:05+00:00",
        "First on a",
    ),
    (
        "https://blog.example.org/a/?utm_source=x",
        "2",
        "1",
        "Bob",
        "2020-01-02T04:00:00+00:00",
        "Reply to Ann",
    ),
    ("https://blog.example.org/b/", "3", "", "Cy", "2021-05-06T07:08:09+02:00", "On b"),
]


def lines(folder: Path) -> list[dict[str, str]]:
    text = (folder / "all.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_a_third_party_source_and_target_do_every_verb(tmp_path: Path, installed: Path) -> None:
    comments = tmp_path / "comments.csv"
    write_csv(comments, ROWS)
    (tmp_path / "out").mkdir()
    config = write_config(
        tmp_path,
        source={"type": "csv", "path": "comments.csv"},
        target={"type": "lines", "folder": "out", "prefix": "all"},
    )

    check = invoke("check", "-c", str(config))
    assert check.exit_code == 0, check.output
    assert CRASH_WINDOW in check.output  # named before anything is written

    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    assert summary["comments_imported"] == 3
    assert any(CRASH_WINDOW in note for note in summary["notes"])
    # max_depth 0: the reply is flattened and says whom it answered; keys by the one rule
    assert sorted((r["page"], r["text"]) for r in lines(tmp_path / "out")) == [
        ("/a/", "@Ann: Reply to Ann"),
        ("/a/", "First on a"),
        ("/b/", "On b"),
    ]

    verify = invoke("verify", "-c", str(config), "--json")
    assert verify.exit_code == 0, verify.output

    write_csv(
        comments,
        [
            *ROWS,
            (
                "https://blog.example.org/b/",
                "4",
                "3",
                "Di",
                "2022-01-01T00:00:00+00:00",
                "Late reply",
            ),
        ],
    )
    synced = invoke("sync", "-c", str(config), "--json")
    assert synced.exit_code == 0, synced.output
    assert [r["text"] for r in lines(tmp_path / "out")][-1] == "@Cy: Late reply"
    assert len(lines(tmp_path / "out")) == 4  # nothing sent twice

    rolled = invoke("rollback", "-c", str(config), "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert lines(tmp_path / "out") == []


def test_a_plugins_own_keys_are_checked_with_the_file_and_key_named(
    tmp_path: Path, installed: Path
) -> None:
    bad = write_config(
        tmp_path,
        source={"type": "csv", "path": "comments.csv"},
        target={"type": "lines", "folder": "out", "prefix": 3},
        name="bad.toml",
    )
    result = invoke("run", "-c", str(bad))
    assert result.exit_code == 2
    assert "bad.toml: key target.prefix" in result.stderr


def test_the_documented_source_is_the_tested_one() -> None:
    """docs/plugins.md shows the whole third-party source that the test above runs."""
    doc = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = (PLUGINS / "csv_comments.py").read_text(encoding="utf-8")
    assert f"```python\n{code}```" in doc


def test_the_readme_shows_the_whole_tested_source() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    code = (PLUGINS / "csv_comments.py").read_text(encoding="utf-8")
    assert f"```python\n{code}```" in readme
