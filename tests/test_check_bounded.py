"""`check` against a hostile site: it reads at most the head of each page (a page that never
ends costs what that head costs, not the page), scans it in one linear pass (a page of
unclosed tags), and prints every item's name terminal-safe (a page id of escape sequences).

The site is a real HTTP server of the test's own on 127.0.0.1; the target a real Isso."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from migrate.commands.check import PAGE_BYTES
from migrate.model import Page
from migrate.systems.isso.embed import attributes, check_isso_embed, start_tags
from tests.factories import comment, make_archive
from tests.migration_helpers import invoke, write_config
from tests.servers.isso import IssoServer

GIB = 1 << 30
CHUNK = 64 * 1024


def embed_head(isso_url: str, thread: str) -> str:
    return (
        f'<!doctype html><html><head><script data-isso="{isso_url}/" '
        f'src="{isso_url}/js/embed.min.js"></script></head><body>'
        f'<section id="isso-thread" data-isso-id="{thread}"></section>'
    )


class HostileSite:
    """`pages`: path -> HTML; `endless`: path -> a head followed by a GiB of filler, sent
    as a generator that stops when the client hangs up. `sent` counts the body bytes that
    left the server for each path."""

    def __init__(self, pages: Mapping[str, str], endless: Mapping[str, str]) -> None:
        self.sent: dict[str, int] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                head = endless.get(path)
                body = pages.get(path, "<h1>Not found</h1>").encode()
                self.send_response(200 if path in pages or head is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(GIB if head is not None else len(body)))
                self.end_headers()
                chunks = self.gigabyte(head.encode()) if head is not None else iter([body])
                for chunk in chunks:
                    try:
                        self.wfile.write(chunk)
                    except OSError:
                        return  # the client hung up: the generator stops here
                    site.sent[path] = site.sent.get(path, 0) + len(chunk)

            @staticmethod
            def gigabyte(head: bytes) -> Iterator[bytes]:
                yield head
                filler = b"<p>" + b"x" * (CHUNK - 3)
                for _ in range((GIB - len(head)) // CHUNK):
                    yield filler

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run_check(tmp_path: Path, pages: dict[Page, str], isso: IssoServer, site_url: str) -> Any:
    site = {page: [comment(f"c-{n}", page=page.id)] for n, page in enumerate(pages)}
    archive = make_archive(tmp_path / "site.jsonl", site)
    config = write_config(
        tmp_path, archive=archive, target={"type": "isso", "url": isso.url, "site_url": site_url}
    )
    as_json = invoke("-q", "check", "-c", str(config), "--json")
    text = invoke("check", "-c", str(config))
    return json.loads(as_json.stdout), text


@pytest.fixture
def site(isso: IssoServer) -> Iterator[HostileSite]:
    unclosed = embed_head(isso.url, "/tags/") + "<a " * 31_000  # 93 KiB, never closed
    hostile = HostileSite(
        pages={
            "/tags/": unclosed,
            "/bang/": embed_head(isso.url, "/bang/") + "<![" * 2_000,  # html.parser raised here
            "/plain/": embed_head(isso.url, "/plain/"),
        },
        endless={"/huge/": embed_head(isso.url, "/huge/")},
    )
    try:
        yield hostile
    finally:
        hostile.stop()


def test_a_gigabyte_page_is_read_only_as_far_as_its_head(
    tmp_path: Path, isso: IssoServer, site: HostileSite
) -> None:
    document, _ = run_check(tmp_path, {Page(id="huge", key="/huge/"): ""}, isso, site.url)
    found = {item["name"]: item for item in document["items"]}
    assert found["page huge"]["ok"], found["page huge"]
    assert "shows Isso thread /huge/" in found["page huge"]["detail"]
    # what left the server: the head read, plus what the sockets' buffers held when the
    # client hung up; never the gigabyte (checked twice: --json and text)
    assert 0 < site.sent["/huge/"] < 64 * (1 << 20) + 2 * PAGE_BYTES


def test_page_ids_with_escapes_and_a_page_of_unclosed_tags(
    tmp_path: Path, isso: IssoServer, site: HostileSite
) -> None:
    escapes = "\x1b[2J\x1b]0;pwned\x07\u202e"
    pages = {
        Page(id=f"tags{escapes}", key="/tags/"): "",
        Page(id=f"plain{escapes}", key="/plain/"): "",
        Page(id="bang", key="/bang/"): "",
    }
    document, text = run_check(tmp_path, pages, isso, site.url)
    names = {item["name"]: item for item in document["items"]}
    shown = "tags\\x1b[2J\\x1b]0;pwned\\x07\\u202e"
    assert names[f"page {shown}"]["ok"], names[f"page {shown}"]
    assert "shows Isso thread /tags/" in names[f"page {shown}"]["detail"]
    assert names["page bang"]["ok"], names["page bang"]
    assert names["page plain\\x1b[2J\\x1b]0;pwned\\x07\\u202e"]["ok"]
    for output in (text.stdout, text.stderr):
        assert not any(ch in output for ch in "\x1b\x07\u202e")
    assert "page tags\\x1b[2J" in text.stdout


def test_the_scan_finds_what_a_browser_finds() -> None:
    page = (
        "<!-- <script data-isso='x'></script> -->"
        '<script>var s = \'<section id="isso-thread" data-isso-id="/js/">\';</script>'
        "<p>3 < 4 and 5 > 4</p><SCRIPT DATA-ISSO=//c/ src='//c/js/embed.min.js'></SCRIPT>"
        '<section ID="isso-thread" data-isso-id="/a&amp;b/" data-isso-id="/second/">'
    )
    tags = [name for name, _ in start_tags(page)]
    assert tags == ["script", "p", "script", "section"]
    assert attributes(" ID=\"isso-thread\" data-isso-id='/a&amp;b/' hidden") == {
        "id": "isso-thread",
        "data-isso-id": "/a&b/",
        "hidden": "",
    }
    found = check_isso_embed(Page(id="a", key="/a&b/"), page, "http://site/a/")
    assert found.ok, found
    assert list(start_tags("<p>text <a href='x' no end")) == [("p", "")]
