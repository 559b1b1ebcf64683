"""The JSON export sources run through the CLI into JSONL and WXR, and the file targets
(commento, remark42, artalk) proven by a round trip: written by the target, read back by
this tool's own source of the same format, nothing lost that the format can hold.

Remark42 and Artalk are Go programs that cannot run here: their files are checked against
their documented formats (the fields each importer reads) and by the round trip."""

from __future__ import annotations

import gzip
import json
import random
import signal
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from migrate.config import RunConfig, SectionConfig
from migrate.errors import ConfigError
from migrate.files.export_source import ExportSource
from migrate.files.formats import neutral_text
from migrate.model import DELETED_TEXT, Author, Comment, OutgoingComment, Page
from migrate.systems.artalk import ArtalkSource
from migrate.systems.commento import CommentoSource
from migrate.systems.remark42 import Remark42Source
from tests import json_exports
from tests.json_exports import EXPECTED, SITE
from tests.migration_helpers import invoke, run_json, start_run, write_config
from tests.test_json_sources import FORMATS, ROW, comments_of, read_all

WP = "{http://wordpress.org/export/1.2/}"


def source_section(fmt: str, directory: Path) -> dict[str, Any]:
    path = FORMATS[fmt][0](directory)
    return {"type": "commento" if fmt == "comentario" else fmt, "path": str(path)}


def run(directory: Path, source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    config = write_config(directory, source=source, target=target)
    code, summary, stderr = run_json(config)
    assert code == 0, stderr
    return summary


def sidecar_ids(output: Path) -> dict[str, str]:
    """Source id -> target id, from the page-atomic store beside a derived file."""
    ids: dict[str, str] = {}
    store = output.with_name(output.name + ".pages.jsonl")
    for line in store.read_text().splitlines():
        for comment in json.loads(line)["comments"]:
            ids[comment["source"]["id"]] = str(comment["id"])
    return ids


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_source_into_jsonl_every_comment_once_under_its_parent(
    fmt: str, tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    run(tmp_path, source_section(fmt, tmp_path), {"type": "jsonl", "output": str(output)})
    records = [json.loads(line) for line in output.read_text().splitlines()]
    by_target = {r["id"]: r["source"]["id"] for r in records}
    sources = [r["source"]["id"] for r in records]
    # JSONL has no state field: a pending comment is skipped with the reason, not published
    wanted = set(EXPECTED[fmt].parents) - EXPECTED[fmt].pending
    assert sorted(sources) == sorted(wanted), "every comment once; spam and pending out"
    for record in records:
        sid = record["source"]["id"]
        parent = by_target[record["parent_id"]] if record["parent_id"] else None
        assert parent == EXPECTED[fmt].parents[sid]
        assert record["created_at"] == ROW[sid].created.strftime("%Y-%m-%dT%H:%M:%SZ")
        if sid not in EXPECTED[fmt].tombstones:
            assert record["author"]["name"] == ROW[sid].name
    assert {r["page"]["uri"] for r in records} == {json_exports.FIRST, "/blog/second/"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_source_into_wxr_threads_dates_and_pending_kept(fmt: str, tmp_path: Path) -> None:
    output = tmp_path / "comments.wxr"
    target = {"type": "wxr", "output": str(output), "importer": "wordpress", "site_url": SITE}
    summary = run(tmp_path, source_section(fmt, tmp_path), target)
    expected = EXPECTED[fmt]
    wanted = dict(expected.parents)  # WXR holds a waiting comment waiting (approved 0)
    ids = sidecar_ids(output)
    assert sorted(ids) == sorted(wanted)
    source_of = {target_id: sid for sid, target_id in ids.items()}
    found = ET.parse(output).getroot().iter(f"{WP}comment")  # noqa: S314 (our own file)
    for element in found:
        sid = source_of[element.findtext(f"{WP}comment_id") or ""]
        parent = element.findtext(f"{WP}comment_parent") or "0"
        assert (source_of[parent] if parent != "0" else None) == wanted[sid]
        assert element.findtext(f"{WP}comment_date_gmt") == ROW[sid].created.strftime(
            "%Y-%m-%d %H:%M:%S"
        )
    approved = {
        source_of[element.findtext(f"{WP}comment_id") or ""]: element.findtext(
            f"{WP}comment_approved"
        )
        for element in ET.parse(output).getroot().iter(f"{WP}comment")  # noqa: S314
    }
    assert {sid for sid, state in approved.items() if state == "0"} == set(expected.pending)
    assert summary["skipped_comments"] == []


# -- round trips ---------------------------------------------------------------------------

TARGETS: dict[str, tuple[str, type[ExportSource], dict[str, Any]]] = {
    "commento": ("commento.json.gz", CommentoSource, {"site_url": SITE}),
    "remark42": ("remark42-backup.gz", Remark42Source, {"site_url": SITE, "site": "blog"}),
    "artalk": ("artrans.json", ArtalkSource, {"site_url": SITE, "site_name": "Blog"}),
}
HOLDS = {  # what each format can hold of an author, and whether it keeps pending comments
    "commento": {"email", "url", "pending", "deleted"},
    "remark42": {"deleted"},
    "artalk": {"email", "url", "pending"},
}


@pytest.mark.parametrize("origin", ["commento", "twikoo", "artalk", "remark42"])
@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_round_trip_loses_nothing_the_format_holds(fmt: str, origin: str, tmp_path: Path) -> None:
    name, reader, keys = TARGETS[fmt]
    output = tmp_path / "out" / name
    source = source_section(origin, tmp_path)
    run(tmp_path, source, {"type": fmt, "output": str(output), **keys})
    original = comments_of(read_all(FORMATS[origin][1](Path(source["path"]))))
    back = read_all(reader(output))
    assert set(back) == {json_exports.FIRST, "/blog/second/"}, "page keys kept"
    again = comments_of(back)
    ids = sidecar_ids(output)
    holds = HOLDS[fmt]
    wanted = {sid: c for sid, c in original.items() if c.status != "pending" or "pending" in holds}
    assert sorted(ids) == sorted(wanted)
    by_target = {ids[sid]: sid for sid in ids}
    for sid, before in wanted.items():
        after = again[ids[sid]]
        parent = by_target[after.parent_id] if after.parent_id else None
        # a parent missing from the read (an orphan's) is the top level in the target
        hangs = before.parent_id if before.parent_id in original else None
        assert parent == hangs, f"{sid}: parent kept"
        assert after.created_at == before.created_at
        assert after.status == before.status
        if before.deleted:
            assert after.deleted or after.text == DELETED_TEXT
            continue
        # names are plain text with < and > neutralised, the rule of every file format
        assert after.author.name == neutral_text(before.author.name)
        assert after.text == before.text, f"{sid}: text kept"
        for field in ("email", "url"):
            if field in holds:
                assert getattr(after.author, field) == getattr(before.author, field)


def test_commento_file_is_what_commento_and_comentario_read(tmp_path: Path) -> None:
    output = tmp_path / "commento.json.gz"
    run(tmp_path, source_section("twikoo", tmp_path), {"type": "commento", "output": str(output)})
    doc = json.loads(gzip.decompress(output.read_bytes()))  # Commento reads only gzip
    assert doc["version"] == 1
    hexes = {c["commentHex"] for c in doc["comments"]}
    for comment in doc["comments"]:
        assert comment["parentHex"] == "root" or comment["parentHex"] in hexes
        assert comment["markdown"] and comment["state"] in ("approved", "unapproved")
        assert comment["url"] == comment["path"]
    commenters = {c["commenterHex"]: c for c in doc["commenters"]}
    assert len(commenters) == len(doc["commenters"]), "each commenter once"
    for commenter in commenters.values():  # Commento refuses any of these empty
        assert all(commenter[k] for k in ("email", "name", "link", "photo", "provider"))
    ola = next(c for c in commenters.values() if c["name"] == "Ola")
    assert ola["email"].endswith("@comment-migrate.invalid") and ola["link"] == "undefined"


def test_remark42_backup_is_meta_then_one_comment_per_line(tmp_path: Path) -> None:
    output = tmp_path / "backup.gz"
    keys = {"site_url": SITE, "site": "blog"}
    run(
        tmp_path,
        source_section("commento", tmp_path),
        {"type": "remark42", "output": str(output), **keys},
    )
    lines = gzip.decompress(output.read_bytes()).decode().splitlines()
    meta, comments = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert meta["version"] == 1 and {"users", "posts"} <= set(meta)
    for comment in comments:
        assert comment["locator"]["site"] == "blog"
        assert comment["locator"]["url"].startswith(SITE + "/blog/")
        assert comment["user"]["id"].startswith("commento_") and comment["imported"] is True
    cy = next(c for c in comments if c["user"]["name"].startswith("Cy"))
    assert "<" not in cy["user"]["name"], "names are plain text for Remark42"
    assert "<strong>world</strong>" in next(c["text"] for c in comments if "world" in c["text"])


def test_artrans_values_are_strings_as_artalk_writes_them(tmp_path: Path) -> None:
    output = tmp_path / "artrans.json"
    run(
        tmp_path,
        source_section("commento", tmp_path),
        {"type": "artalk", "output": str(output), "site_url": SITE},
    )
    rows = json.loads(output.read_text())
    assert rows and all(isinstance(v, str) for row in rows for v in row.values())
    assert {row["site_name"] for row in rows} == {"blog.example.org"}
    ids = {row["id"] for row in rows}
    assert all(row["rid"] == "0" or row["rid"] in ids for row in rows)
    assert {row["is_pending"] for row in rows} == {"true", "false"}
    assert all(row["created_at"].endswith(" +0000") for row in rows)


def test_a_remark42_output_must_be_gzip_by_name_and_artalk_needs_a_site(tmp_path: Path) -> None:
    from migrate.systems.artalk import ArtalkTarget
    from migrate.systems.remark42 import Remark42Target

    with pytest.raises(ConfigError, match=r"\.gz"):
        Remark42Target(tmp_path / "backup.json", site_url=SITE)
    with pytest.raises(ConfigError, match="site_name"):
        ArtalkTarget(tmp_path / "artrans.json")


def hostile(target: Any) -> str:
    """Write one comment whose every field tries to become markup; the file's text."""
    page = Page(id="p", key="/p/", title='<script>alert("t")</script>')
    comment = Comment(
        id="x1",
        page_id="p",
        parent_id=None,
        author=Author(
            '<img src=x onerror="alert(1)">Eve',
            "eve",
            "javascript:alert(2)",
            email="eve@example.net",
            url="javascript:alert(3)",
        ),
        text="see [here](javascript:alert(4)) <script>alert(5)</script>",
        html='<p onclick="alert(6)">see <a href="javascript:alert(4)">here</a></p>'
        "<script>alert(5)</script>",
        created_at=datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    target.begin_page(page)
    target.create(
        OutgoingComment(comment, page, None, None, comment.text, comment.html, "twikoo:x1")
    )
    target.finish_page(page)
    target.close()
    raw = target.output.read_bytes()
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_no_field_of_the_file_can_become_markup_or_a_script_link(fmt: str, tmp_path: Path) -> None:
    from migrate.plugins import target_plugin

    name, _, keys = TARGETS[fmt]
    section = SectionConfig(fmt, {"output": str(tmp_path / name), **keys})
    written = hostile(target_plugin(fmt).build(section, RunConfig()))
    assert "javascript:" not in written
    assert "<script" not in written and "<img" not in written and "onclick" not in written
    assert "alert(5)" not in written or "\u2039script" in written  # Markdown: shown, inert


def test_killed_runs_from_an_artrans_export_into_commento_leave_each_comment_once(
    tmp_path: Path,
) -> None:
    """SIGKILL at random instants, then a rerun until one finishes: the file holds every
    comment of the export once, under its parent (the source reads the same ids each time,
    the target's pages are atomic and reconciled)."""
    export = tmp_path / "artrans.json"
    rows = [
        {
            "id": str(n),
            "rid": str(n - 1) if n % 4 else "0",
            "content": f"comment {n}",
            "nick": f"user{n % 7}",
            "email": "",
            "created_at": f"2021-03-04 05:{n % 60:02d}:07",
            "page_key": f"/post/{n // 8}/",
            "site_name": "Blog",
        }
        for n in range(1, 2401)
    ]
    export.write_text(json.dumps(rows))
    output = tmp_path / "out" / "commento.json.gz"
    config = write_config(
        tmp_path,
        source={"type": "artalk", "path": str(export)},
        target={"type": "commento", "output": str(output)},
        run={"workers": 4},
    )
    rng = random.Random(3)
    kills = 0
    for _ in range(30):
        child = start_run(config)
        if kills < 3:
            time.sleep(rng.uniform(0.3, 1.6))  # mid-run: the run takes about 2 s
            child.send_signal(signal.SIGKILL)
        child.communicate(timeout=120)
        if child.returncode == -signal.SIGKILL:
            kills += 1
        elif child.returncode == 0 and kills >= 3:
            break
    assert kills >= 1, "the runs were killed"
    ids = sidecar_ids(output)
    assert sorted(ids, key=int) == [row["id"] for row in rows], "each comment once"
    back = comments_of(read_all(CommentoSource(output)))
    source_of = {target: sid for sid, target in ids.items()}
    for row in rows:
        after = back[ids[str(row["id"])]]
        parent = source_of[after.parent_id] if after.parent_id else "0"
        assert parent == row["rid"]


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_verify_agrees_after_a_run_into_each_file(fmt: str, tmp_path: Path) -> None:
    name, _, keys = TARGETS[fmt]
    config = write_config(
        tmp_path,
        source=source_section("twikoo", tmp_path),
        target={"type": fmt, "output": str(tmp_path / "out" / name), **keys},
    )
    assert run_json(config)[0] == 0
    verified = invoke("verify", "-c", str(config))
    assert verified.exit_code == 0, verified.output
    assert "source and target agree" in verified.output


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_check_recognises_the_targets_own_file_and_no_other(fmt: str, tmp_path: Path) -> None:
    from migrate.plugins import target_plugin

    name, _, keys = TARGETS[fmt]
    recognizes = target_plugin(fmt).recognizes
    assert recognizes is not None
    section = SectionConfig(fmt, {"output": str(tmp_path / name), **keys})
    target = target_plugin(fmt).build(section, RunConfig())
    hostile(target)
    foreign = tmp_path / "foreign"
    foreign.write_text('<?xml version="1.0"?><rss/>')
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert recognizes(Path(section.values["output"])) and recognizes(empty)
    assert not recognizes(foreign)


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_each_file_target_passes_the_target_contract(fmt: str, tmp_path: Path) -> None:
    from migrate.config import load_config
    from migrate.plugins import target_plugin
    from migrate.testing.target_contract import check_target

    name, _, keys = TARGETS[fmt]
    config = load_config(
        write_config(
            tmp_path,
            source={"type": "artalk", "path": "artrans.json"},
            target={"type": fmt, "output": name, **keys},
        )
    )
    plugin = target_plugin(fmt)
    report = check_target(
        lambda: plugin.build(config.target, config.run), plugin=plugin, section=config.target
    )
    assert {"page-atomic", "list", "reconcile", "delete"} <= set(report.abilities)
    assert report.crash_window is None


def test_a_page_whose_parents_form_a_cycle_fails_and_the_others_migrate(
    tmp_path: Path,
) -> None:
    export = json_exports.twikoo(tmp_path / "twikoo.json", cycle=True)
    config = write_config(
        tmp_path,
        source={"type": "twikoo", "path": str(export)},
        target={"type": "jsonl", "output": str(tmp_path / "out.jsonl")},
    )
    code, summary, _ = run_json(config)
    assert code == 3, "finished with a failed page"
    (failed,) = summary["failed_pages"]
    assert "c1" in str(failed) and "c2" in str(failed) and "cycle" in str(failed)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(r["source"]["id"] for r in records) == sorted(EXPECTED["twikoo"].parents)
