"""The `wxr` and `disqus` file targets, read back by the `wordpress` and `disqus` sources:
each export fixture is migrated into each file through the CLI, the file is read back, and
what the format can hold is compared (pages and their keys, every comment once, its parent,
author name and email (and URL in WXR), time to the second, visible text, pending in WXR, a
tombstone in Disqus), and what it cannot hold is left out the way the docs say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrate.abilities import Source
from migrate.content import visible_html
from migrate.model import Comment, PageComments
from migrate.pages import keyed_source
from migrate.systems.disqus import DisqusSource
from migrate.systems.wordpress import WordPressSource
from tests.migration_helpers import invoke, run_json, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
SITE_URL = "https://new.example.org"
SOURCES = {"disqus": FIXTURES / "disqus.xml", "wordpress": FIXTURES / "wordpress.xml"}
READERS = {"wxr": WordPressSource, "disqus": DisqusSource}


def read(source: Source) -> dict[str, PageComments]:
    keyed = keyed_source(source)
    try:
        return {page.key: keyed.comments(page) for page in keyed.pages()}
    finally:
        keyed.close()


def plain(name: str) -> str:
    return name.replace("\u2039", "<").replace("\u203a", ">")  # how files neutralise markup


def shape(site: dict[str, PageComments], fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """Per page key: each comment as the compared fields, with its parent's, sorted."""

    def row(c: Comment) -> tuple[Any, ...]:
        values = {
            "time": c.created_at.isoformat(),
            "name": plain(c.author.name),
            "email": c.author.email,
            "url": c.author.url,
            "user": c.author.source_id,
            "text": visible_html(c.html or "").text,
            "status": c.status,
            "deleted": c.deleted,
        }
        return tuple(values[f] for f in fields)

    out: dict[str, list[Any]] = {}
    for key, pc in site.items():
        by_id = {c.id: c for c in pc.comments}
        rows = []
        for c in pc.comments:
            parent = by_id.get(c.parent_id or "")
            rows.append((row(c), row(parent) if parent else None))
        if rows:
            out[key] = sorted(rows, key=repr)
    return out


def migrate_to(tmp_path: Path, system: str, target: str) -> Path:
    output = tmp_path / f"out.{target}.xml"
    config = write_config(
        tmp_path,
        source={"type": system, "path": str(SOURCES[system])},
        target={"type": target, "output": str(output), "importer": "wordpress"}
        | {"site_url": SITE_URL},
    )
    result = invoke("-q", "run", "-c", str(config))
    assert result.exit_code == 0, result.output
    return output


# what each file holds of a comment, beyond its place in the thread
HELD = {
    "wxr": ("time", "name", "email", "url", "text", "status"),
    "disqus": ("time", "name", "email", "user", "text", "deleted"),
}


@pytest.mark.parametrize("system", ["disqus", "wordpress"])
@pytest.mark.parametrize("target", ["wxr", "disqus"])
def test_the_file_reads_back_as_it_was_written(tmp_path: Path, system: str, target: str) -> None:
    output = migrate_to(tmp_path, system, target)
    original = read(
        DisqusSource(SOURCES[system]) if system == "disqus" else WordPressSource(SOURCES[system])
    )
    back = read(READERS[target](output))
    if target == "disqus":  # Disqus has no pending state: those are left out (and said so)
        original = {
            key: PageComments(pc.page, [c for c in pc.comments if c.status != "pending"])
            for key, pc in original.items()
        }
    assert sum(len(pc.comments) for pc in back.values()) >= 5
    # a tombstone in WXR, which has none, is a comment saying "[deleted]": the same text
    assert shape(back, HELD[target]) == shape(original, HELD[target])
    # every page under the key the rule gave it, at the site's new address
    for key, pc in back.items():
        assert pc.page.url == SITE_URL + key


def test_what_the_formats_cannot_hold_is_said(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        source={"type": "wordpress", "path": str(SOURCES["wordpress"])},
        target={"type": "disqus", "output": str(tmp_path / "out.xml"), "site_url": SITE_URL},
    )
    status, summary, _ = run_json(config)
    assert status == 0
    refused = {item["source_id"]: item["reason"] for item in summary["skipped_comments"]}
    assert refused == {
        "9": "waiting for moderation in the source, and the target cannot hold it waiting"
    }
    back = read(DisqusSource(tmp_path / "out.xml"))
    assert sum(len(pc.comments) for pc in back.values()) == 5


def test_anonymous_stays_anonymous_and_tombstones_stay(tmp_path: Path) -> None:
    output = migrate_to(tmp_path, "disqus", "disqus")
    back = read(DisqusSource(output))
    about = {c.author.name: c for c in back["/about/"].comments}
    assert about["Guest Reader"].author.source_id == ""  # written isAnonymous, read so
    assert about["Cy"].author.source_id == "cy"
    assert about["Dee"].deleted and about["Bob"].parent_id == about["Dee"].id
    text = output.read_text("utf-8")
    assert "disq.us" not in text  # the real links went out
    assert "198.51.100" not in text  # IP addresses never leave the source
