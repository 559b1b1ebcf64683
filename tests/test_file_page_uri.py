"""A page's address goes into every file target as a link an importer or a program follows:
only an http(s) URL or a path may pass. An archive (from anywhere) with the page uri
`javascript:alert(9)//notes/` has that page's comments refused, each with the reason
recorded, and the file never holds the address."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.model import Page
from tests.factories import comment, make_archive
from tests.migration_helpers import run_json, write_config

HOSTILE = ["javascript:alert(9)//notes/", "JaVa\tScRiPt:alert(9)", "data:text/html,x", "//x.org/"]


@pytest.mark.parametrize("kind", ["jsonl", "wxr"])
@pytest.mark.parametrize("uri", HOSTILE)
def test_a_page_uri_other_than_http_or_a_path_never_reaches_a_file(
    tmp_path: Path, kind: str, uri: str
) -> None:
    site = {
        Page(id="notes", key=uri, title="Notes"): [comment("n1", page="notes")],
        Page(id="fine", key="/fine/", title="Fine"): [comment("f1", page="fine")],
    }
    archive = make_archive(tmp_path / "site.jsonl", site)
    output = tmp_path / f"out.{kind}"
    config = write_config(tmp_path, archive=archive, target={"type": kind, "output": str(output)})
    code, summary, _ = run_json(config)
    assert code == 0, summary
    assert summary["comments_imported"] == 1
    (skipped,) = summary["skipped_comments"]
    assert skipped["source_id"] == "n1"
    assert "neither a path starting with / nor an http(s) URL" in skipped["reason"]
    written = "".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("out.*"))
    assert "/fine/" in written
    assert "alert(9)" not in written and "data:" not in written and "x.org" not in written
