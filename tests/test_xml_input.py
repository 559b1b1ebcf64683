"""Reading an XML export (migrate/files/xml_input.py): the same records whatever the size of
a read and whichever way the parser hands its events over; a nested reference is no
record; the spill gives each group its records back in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.errors import InputError
from migrate.files import xml_input
from migrate.files.reading import RecordSpill
from migrate.files.xml_input import iter_records
from migrate.model import PageComments
from migrate.pages import keyed_source
from migrate.systems.disqus import DisqusSource
from migrate.systems.wordpress import WordPressSource

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
DISQUS_NS = "{http://disqus.com}"


def everything(source: DisqusSource | WordPressSource) -> dict[str, PageComments]:
    keyed = keyed_source(source)
    try:
        return {page.key: keyed.comments(page) for page in keyed.pages()}
    finally:
        keyed.close()


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "pull-parser"])
@pytest.mark.parametrize("read_size", [1, 7, 64, 16 * 1024])
def test_same_records_at_any_read_size_either_way(
    monkeypatch: pytest.MonkeyPatch, in_place: bool, read_size: int
) -> None:
    # the 16 KiB reads of a real run meet these small fixtures whole; reads of 1 and 7 bytes
    # put every boundary (the records' parent found, a record half read) inside a read
    expected = {
        "disqus": everything(DisqusSource(FIXTURES / "disqus.xml")),
        "wordpress": everything(WordPressSource(FIXTURES / "wordpress.xml")),
    }
    assert sum(len(pc.comments) for pc in expected["disqus"].values()) > 5
    monkeypatch.setattr(xml_input, "READ_SIZE", read_size)
    monkeypatch.setattr(xml_input._Events, "in_place", in_place)
    assert everything(DisqusSource(FIXTURES / "disqus.xml")) == expected["disqus"]
    assert everything(WordPressSource(FIXTURES / "wordpress.xml")) == expected["wordpress"]


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "pull-parser"])
def test_a_nested_reference_of_a_records_name_is_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_place: bool
) -> None:
    monkeypatch.setattr(xml_input, "READ_SIZE", 5)
    monkeypatch.setattr(xml_input._Events, "in_place", in_place)
    export = tmp_path / "export.xml"
    export.write_text(
        '<?xml version="1.0"?>\n<disqus xmlns="http://disqus.com" '
        'xmlns:dsq="http://disqus.com/disqus-internals">\n'
        '<thread dsq:id="1"><link>https://example.org/a/</link></thread>\n'
        '<post dsq:id="2"><message>hi</message><thread dsq:id="1"/></post>\n'
        '<post dsq:id="3"><message>ho</message><thread dsq:id="1"/></post>\n'
        "</disqus>\n",
        encoding="utf-8",
    )
    tags = frozenset({DISQUS_NS + "thread", DISQUS_NS + "post"})
    seen = [
        (elem.tag.removeprefix(DISQUS_NS), elem.findtext(DISQUS_NS + "message"))
        for elem in iter_records(export, 2, tags)
    ]
    assert seen == [("thread", None), ("post", "hi"), ("post", "ho")]


def test_broken_xml_names_the_place_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export.xml"
    export.write_text("<disqus>\n<post><message>hi</post>\n</disqus>\n", encoding="utf-8")
    messages = []
    for in_place in (True, False):
        monkeypatch.setattr(xml_input._Events, "in_place", in_place)
        with pytest.raises(InputError) as raised:
            list(iter_records(export, 2, frozenset({"post"})))
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert f"{export}: not well-formed XML at line 2" in messages[0]


def test_the_spill_gives_each_group_its_records_in_order(tmp_path: Path) -> None:
    spill = RecordSpill("test", tmp_path / "export.xml")
    try:
        for number in range(300):
            spill.add(f"page{number % 7}", (str(number), "x" * number, None))
        spill.add("empty text", ("", "", None))
        spill.finish()
        assert spill.groups() == [f"page{n}" for n in range(7)] + ["empty text"]
        assert spill.count("page3") == len(range(3, 300, 7))
        assert spill.records("page3") == [(str(n), "x" * n, None) for n in range(3, 300, 7)]
        assert spill.records("empty text") == [("", "", None)]
        assert spill.records("no such page") == []
    finally:
        spill.close()
    spill.close()  # twice is harmless


def test_the_spill_leaves_no_file_behind_even_when_killed(tmp_path: Path) -> None:
    # unlinked from the start: a SIGKILL cannot leave commenters' data in the temp folder
    script = (
        "import os, signal, sys\n"
        "from migrate.files.reading import RecordSpill\n"
        "spill = RecordSpill('test')\n"
        "spill.add('page', ('1', 'someone@example.org'))\n"
        "spill.finish()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_a_record_over_the_limit_is_refused_by_name(tmp_path: Path) -> None:
    spill = RecordSpill("test", tmp_path / "export.xml")
    spill.limit = 100  # the real limit, 256 MiB, is too big to write in a test
    try:
        spill.add("page", ("1", "x" * 50))
        with pytest.raises(InputError, match=r"export\.xml: a record of \d+ bytes"):
            spill.add("page", ("2", "x" * 200))
        spill.finish()
        assert spill.records("page") == [("1", "x" * 50)]
    finally:
        spill.close()
