"""The bundled sample site (migrate/sample/site.archive.jsonl) is what the issue asks for."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.model import Comment, Page
from migrate.pipeline.transform import depths
from migrate.systems.archive import ArchiveSource


@pytest.fixture(scope="module")
def sample_path() -> Iterator[Path]:
    resource = importlib.resources.files("migrate") / "sample" / "site.archive.jsonl"
    with importlib.resources.as_file(resource) as path:
        yield path


@pytest.fixture(scope="module")
def archive(sample_path: Path) -> ArchiveSource:
    return ArchiveSource(sample_path)


@pytest.fixture(scope="module")
def site(archive: ArchiveSource) -> dict[Page, list[Comment]]:
    return {page: archive.comments(page).comments for page in archive.pages()}


@pytest.fixture(scope="module")
def comments(site: dict[Page, list[Comment]]) -> list[Comment]:
    return [c for cs in site.values() for c in cs]


def test_size_pages_and_comments(
    sample_path: Path, site: dict[Page, list[Comment]], comments: list[Comment]
) -> None:
    assert len(site) >= 12
    assert len(comments) >= 300
    assert sample_path.stat().st_size < 1_000_000
    assert len({page.key for page in site}) == len(site)
    assert all(page.title for page in site)


def test_replies_nest_four_deep(site: dict[Page, list[Comment]]) -> None:
    deepest = max(max(depths(cs).values(), default=0) for cs in site.values())
    assert deepest >= 4
    # most pages have real conversations, not just a flat list
    threaded = [p for p, cs in site.items() if max(depths(cs).values(), default=0) >= 2]
    assert len(threaded) >= 10


def test_edits_and_deletions(archive: ArchiveSource, comments: list[Comment]) -> None:
    assert sum(c.edited_at is not None for c in comments) >= 5
    tombstones = {c.id for c in comments if c.deleted}
    assert tombstones, "a deleted comment with replies stays as a tombstone"
    assert any(c.parent_id in tombstones for c in comments)
    assert all(c.text == "[deleted]" for c in comments if c.deleted)
    # and deleted comments without replies are gone, recorded as skipped
    reasons = [s.reason for page in archive.pages() for s in archive.comments(page).skipped]
    assert "redacted" in reasons


def test_emotes_images_unicode_markdown_html(comments: list[Comment]) -> None:
    texts = [c.text for c in comments]
    assert any(t.startswith("\\* ") for t in texts)  # m.emote, its * escaped for Markdown
    assert any(
        re.match(r"!\[[^\]]+\]\(https://matrix\.example\.org/_matrix/(client/v1/)?media/", t)
        for t in texts
    )  # m.image
    assert any(re.search("[\U0001f300-\U0001faff]", t) for t in texts)  # emoji
    assert any(re.search("[\u0400-\u04ff]", t) for t in texts)  # Cyrillic
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", t) for t in texts)  # Japanese
    assert any("**" in t for t in texts) and any("```" in t for t in texts)  # Markdown
    assert any(c.html and "<strong>" in c.html for c in comments)
    assert any(len(t.strip()) < 3 for t in texts)  # what Isso would refuse


def test_authors_display_names_and_a_name_change(comments: list[Comment]) -> None:
    names: dict[str, set[str]] = {}
    for c in comments:
        names.setdefault(c.author.source_id, set()).add(c.author.name)
    assert len(names) >= 8
    assert any(len(n) == 2 for n in names.values()), "one commenter changed their name"
    assert any(c.author.avatar_url for c in comments)
    years = {c.created_at.year for c in comments}
    assert len(years) >= 3


def test_only_comment_rooms_no_moderation_room(sample_path: Path, archive: ArchiveSource) -> None:
    records = [json.loads(line) for line in sample_path.read_text(encoding="utf-8").splitlines()]
    pages = [r for r in records if r["record"] == "page"]
    # the moderation room is the site's bare alias (no section): it has no page id
    assert len(pages) == 15 and all(r["id"] for r in pages)
    assert len({r["room_id"] for r in pages}) == 15


def test_names_no_local_machine(sample_path: Path, archive: ArchiveSource) -> None:
    text = sample_path.read_text(encoding="utf-8")
    for needle in ("localhost", "127.0.0.1", "/work/", "/tmp/", "/root/"):
        assert needle not in text, needle
    assert archive.source_identity["homeserver"] == "https://matrix.example.org"
    assert archive.source_identity["server_name"] == "example.org"
    assert archive.system == "matrix"
