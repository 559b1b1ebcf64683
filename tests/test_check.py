"""`comment-migrate check`: a preflight against a real Synapse, a real Isso, the contract
server and a static site of the test's own; it reports what is wrong and writes nothing."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import Result

from migrate.commands.check import run_checks
from migrate.config import load_config
from migrate.migration import Migration
from migrate.model import CheckItem, Page
from migrate.systems.archive import ArchiveSource
from migrate.systems.http.target import HttpTarget
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, write_config
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer
from tests.servers.synapse import SynapseError, SynapseServer, free_port

SITE = "chk"
SECTIONS = ("hello", "gone", "other", "third")
TOKEN_ENV = "CHECK_TEST_MATRIX_TOKEN"  # a variable of the test's own: the shell's stays out
NO_TOKEN: dict[str, str | None] = {TOKEN_ENV: None}


class StaticSite:
    """A site on 127.0.0.1: `pages` maps a path to its HTML; any other path answers 404."""

    def __init__(self, pages: Mapping[str, str], not_found: str = "<h1>Not found</h1>") -> None:
        self.pages = dict(pages)
        self.not_found = not_found
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                site.requests.append(path)
                body = site.pages.get(path)
                self.send_response(200 if body is not None else 404)
                data = (body or site.not_found).encode("utf-8")
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> StaticSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def isso_page(isso_url: str, thread_id: str | None = None) -> str:
    """A page as Isso's documentation embeds it; `thread_id` sets data-isso-id."""
    attr = f' data-isso-id="{thread_id}"' if thread_id is not None else ""
    return (
        "<!doctype html><html><head><title>A post</title>"
        f'<script data-isso="{isso_url}/" src="{isso_url}/js/embed.min.js"></script>'
        "</head><body><article><p>Text of the post.</p></article>"
        f'<section id="isso-thread"{attr}></section></body></html>'
    )


@pytest.fixture(scope="module")
def rooms(synapse: SynapseServer) -> dict[str, str]:
    """A room for every section of SECTIONS (a Cactus site on the real homeserver)."""
    found = {section: synapse.create_comment_room(SITE, section) for section in SECTIONS}
    synapse.send_message(
        found["hello"],
        {"msgtype": "m.text", "body": "first!"},
        synapse.user_id("cactus_ann"),
        1_500_000_000_000,
    )
    return found


def pages_csv(folder: Path, sections: tuple[str, ...]) -> Path:
    path = folder / "pages.csv"
    path.write_text("".join(f"{s},/blog/{s}/,Post {s}\n" for s in sections), encoding="utf-8")
    return path


def matrix_source(synapse: SynapseServer, pages: Path | None, **extra: str) -> dict[str, Any]:
    source: dict[str, Any] = {
        "type": "matrix",
        "homeserver": synapse.url,
        "server_name": synapse.server_name,
        "site": SITE,
        "token_env": TOKEN_ENV,
        **extra,
    }
    if pages is not None:
        source["pages_file"] = str(pages)
    return source


def check(config: Path, *, env: Mapping[str, str | None] = NO_TOKEN) -> tuple[Result, Any]:
    """`check --json` and `check` on one config: (the text run, the JSON document)."""
    as_json = invoke("check", "-c", str(config), "--json", env=dict(env))
    text = invoke("check", "-c", str(config), env=dict(env))
    assert as_json.exit_code == text.exit_code
    return text, json.loads(as_json.stdout)


def items(document: Any) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in document["items"]}


def failed(document: Any) -> set[str]:
    return {item["name"] for item in document["items"] if not item["ok"]}


def line_of(result: Result, name: str) -> str:
    (line,) = [
        x
        for x in result.stdout.splitlines()
        if x.split()[1:2] == name.split()[:1] and f" {name} " in x
    ]
    return line


# -- pages of a real site -------------------------------------------------------------------


def test_a_missing_page_and_another_thread_key_are_exactly_what_is_reported(
    synapse: SynapseServer, rooms: dict[str, str], isso: IssoServer, tmp_path: Path
) -> None:
    site = {
        "/blog/hello/": isso_page(isso.url),  # no data-isso-id: the path is the thread key
        "/blog/other/": isso_page(isso.url, "/posts/other"),  # the widget asks another thread
        "/blog/third/": isso_page(isso.url, "/blog/third/"),
    }  # /blog/gone/ answers 404
    with StaticSite(site) as web:
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, pages_csv(tmp_path, SECTIONS)),
            target={"type": "isso", "url": isso.url, "site_url": web.url},
        )
        result, document = check(config)

    assert result.exit_code == 3
    assert failed(document) == {"page gone", "page other"}
    found = items(document)
    assert "404" in found["page gone"]["detail"]
    assert "/blog/gone/" in found["page gone"]["fix"]
    assert "'/posts/other'" in found["page other"]["detail"]
    assert "'/blog/other/'" in found["page other"]["detail"]
    assert 'data-isso-id="/blog/other/"' in found["page other"]["fix"]
    for section in ("hello", "third"):
        assert f"shows Isso thread /blog/{section}/" in found[f"page {section}"]["detail"]
    assert found["homeserver"]["ok"] and "Synapse/" in found["homeserver"]["detail"]
    assert found["target"]["ok"] and "Isso" in found["target"]["detail"]
    assert "4 pages" in found["pages"]["detail"]
    # the text form: one line per item, the failures with their fix
    assert line_of(result, "page gone").startswith("FAIL page gone ")
    assert " -> fix: " in line_of(result, "page other")
    assert line_of(result, "page hello").startswith("ok   page hello ")
    assert "2 of" in result.stderr and "checks failed" in result.stderr


def test_a_site_in_a_subfolder_shows_threads_under_another_path(
    synapse: SynapseServer, rooms: dict[str, str], isso: IssoServer, tmp_path: Path
) -> None:
    # site_url with a path: the page answers, but Isso's thread key is the full path
    with StaticSite({"/blog/hello/": isso_page(isso.url)}) as web:
        pages = tmp_path / "pages.csv"
        pages.write_text("hello,/hello/,Hello\n", encoding="utf-8")
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, pages),
            target={"type": "isso", "url": isso.url, "site_url": web.url + "/blog"},
        )
        result, document = check(config)
    assert result.exit_code == 3
    found = items(document)["page hello"]
    assert "'/blog/hello/' (its path" in found["detail"]
    assert "uri '/blog/hello/'" in found["fix"] and "site_url" in found["fix"]


def test_all_well_exits_0(
    synapse: SynapseServer, rooms: dict[str, str], isso: IssoServer, tmp_path: Path
) -> None:
    site = {"/blog/hello/": isso_page(isso.url), "/blog/third/": isso_page(isso.url)}
    with StaticSite(site) as web:
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, pages_csv(tmp_path, ("hello", "third"))),
            target={"type": "isso", "url": isso.url, "site_url": web.url},
        )
        result, document = check(config)
        assert sorted(web.requests) == sorted([*site, *site])  # each page, once per run

    assert result.exit_code == 0, result.stdout
    assert document["ok"] is True and document["failed"] == 0
    assert set(items(document)) == {
        "config",
        "homeserver",
        "token",
        "pages",
        "target",
        "checkpoint",
        "page hello",
        "page third",
    }
    assert "guest" in items(document)["token"]["detail"]
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())
    assert "All checks passed" in result.stderr


def test_text_from_pages_and_servers_cannot_reach_the_terminal_raw(
    synapse: SynapseServer, rooms: dict[str, str], tmp_path: Path
) -> None:
    escapes = "\x1b[2J\x1b]0;pwned\x07"
    site = {"/blog/hello/": isso_page("http://127.0.0.1:9", f"/x/{escapes}")}
    # the "Isso" here answers its /config with a page of escape sequences
    with StaticSite(site, not_found=f"<p>{escapes}</p>") as web:
        config = write_config(
            tmp_path,
            source=matrix_source(synapse, pages_csv(tmp_path, ("hello",))),
            target={"type": "isso", "url": web.url, "site_url": web.url},
        )
        result, document = check(config)
    assert result.exit_code == 3
    assert failed(document) == {"target", "page hello"}
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
    assert "\\x1b[2J" in items(document)["target"]["detail"]
    assert "\\x1b[2J" in items(document)["page hello"]["detail"]


# -- writes nothing ---------------------------------------------------------------------------


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_check_writes_nothing(
    synapse: SynapseServer, rooms: dict[str, str], tmp_path: Path
) -> None:
    missing_alias = synapse.alias(SITE, "never")
    config = write_config(
        tmp_path,
        source=matrix_source(synapse, pages_csv(tmp_path, ("hello", "never"))),
        target={"type": "jsonl", "output": str(tmp_path / "out" / "comments.jsonl")},
    )
    admin = {"limit": 1}

    def room_count() -> int:
        return int(
            synapse.call(
                "GET", "/_synapse/admin/v1/rooms", token=synapse.admin_token, params=admin
            )["total_rooms"]
        )

    before_files, before_rooms = files_under(tmp_path), room_count()
    result, document = check(config)

    assert result.exit_code == 3
    assert failed(document) == {"page never"}  # its room does not exist
    assert f"room {missing_alias} not found" in items(document)["page never"]["detail"]
    assert "creates no room" in items(document)["pages"]["detail"]
    assert "pages file" in items(document)["page never"]["fix"]
    assert "will be created" in items(document)["target"]["detail"]
    assert "will be created" in items(document)["checkpoint"]["detail"]
    assert files_under(tmp_path) == before_files  # no checkpoint, no output, no folder, no temp
    assert room_count() == before_rooms
    with pytest.raises(SynapseError) as lookup:
        synapse.room_id_for(missing_alias)
    assert lookup.value.status == 404


# -- the source ------------------------------------------------------------------------------


def test_an_unreachable_homeserver_is_reported(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    pages = pages_csv(tmp_path, ("hello",))
    config = write_config(
        tmp_path,
        source={
            "type": "matrix",
            "homeserver": closed,
            "site": SITE,
            "pages_file": str(pages),
            "token_env": TOKEN_ENV,
        },
        target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")},
    )
    result, document = check(config)

    assert result.exit_code == 3
    assert failed(document) == {"homeserver", "pages"}
    found = items(document)
    assert (
        closed in found["homeserver"]["detail"]
        and "does not answer" in found["homeserver"]["detail"]
    )
    assert "[source] homeserver" in found["homeserver"]["fix"]
    assert "not checked" in found["pages"]["detail"]


def test_a_refused_matrix_token_is_reported(
    synapse: SynapseServer, rooms: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        source=matrix_source(synapse, pages_csv(tmp_path, ("hello",))),
        target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")},
    )
    result, document = check(config, env={TOKEN_ENV: "syt_not_a_token"})
    assert result.exit_code == 3
    assert failed(document) == {"token", "pages"}
    assert "M_UNKNOWN_TOKEN" in items(document)["token"]["detail"]
    assert f"${TOKEN_ENV}" in items(document)["token"]["fix"]
    assert "syt_not_a_token" not in result.stdout + json.dumps(document)


def test_discover_admin_needs_a_server_admin(
    synapse: SynapseServer, rooms: dict[str, str], tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        source=matrix_source(synapse, None, discover="admin"),
        target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")},
    )
    _, plain_user_token = synapse.register_user("check_plain")

    result, document = check(config, env={TOKEN_ENV: plain_user_token})
    assert result.exit_code == 3
    assert "not a server admin" in items(document)["token"]["detail"]

    result, document = check(config, env={TOKEN_ENV: synapse.admin_token})
    assert result.exit_code == 0, result.stdout
    assert "a server admin" in items(document)["token"]["detail"]
    assert {f"page {s}" for s in SECTIONS} <= set(items(document))  # the admin room list


# -- the target ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"), [("right", None), ("wrong", "was refused"), (None, "is not set")]
)
def test_the_http_target_token_is_checked_without_writing(
    tmp_path: Path, token: str | None, expected: str | None
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2))
    with ContractServer(token="right") as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "token_env": "CHK_TGT"},
        )
        result, document = check(config, env={"CHK_TGT": token})
        assert server.posts == 0 and server.comments == []
    found = items(document)["target"]
    if expected is None:
        assert result.exit_code == 0, result.stdout
        assert found["ok"] and "accepts the token" in found["detail"]
        assert "2 pages" in items(document)["pages"]["detail"]
    else:
        assert result.exit_code == 3
        assert failed(document) == {"target"}
        # an unset variable is found before any request; a refused token by the server
        assert expected in found["detail"] and ("401" in found["detail"]) == (token == "wrong")
        assert "CHK_TGT" in found["fix"]
        assert "wrong" not in result.stdout


def test_a_target_reached_without_a_token_is_not_said_to_accept_one(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    with ContractServer() as server:  # an API that needs no token
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        result, document = check(config, env={"TARGET_TOKEN": None})
    assert result.exit_code == 0, result.stdout
    detail = items(document)["target"]["detail"]
    assert "accepts the token" not in detail and "without a token" in detail


def test_a_target_without_the_lookup_endpoint_is_not_called_proven(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    with ContractServer(token="right", lookup=False) as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        result, document = check(config, env={"TARGET_TOKEN": "right"})
    assert result.exit_code == 0
    assert "no lookup by source id" in items(document)["target"]["detail"]
    assert "not proven" in items(document)["target"]["detail"]


def test_an_unreachable_target_is_reported(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    closed = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": closed})
    result, document = check(config)
    assert result.exit_code == 3
    assert failed(document) == {"target"}
    assert "does not answer" in items(document)["target"]["detail"]


@pytest.mark.parametrize(
    ("kind", "content", "ok"),
    [
        ("wxr", "<?xml version='1.0'?>\n<rss></rss>\n", True),
        ("wxr", "name,comment\nann,hi\n", False),
        ("jsonl", '{"page": {"id": "a"}, "id": "1"}\n', True),
        ("jsonl", "<?xml version='1.0'?>\n", False),
    ],
)
def test_an_existing_output_must_be_a_file_of_its_type(
    tmp_path: Path, kind: str, content: str, ok: bool
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    output = tmp_path / f"comments.{kind}"
    output.write_text(content, encoding="utf-8")
    config = write_config(tmp_path, archive=archive, target={"type": kind, "output": str(output)})
    result, document = check(config)
    assert items(document)["target"]["ok"] is ok
    assert result.exit_code == (0 if ok else 3)
    assert output.read_text(encoding="utf-8") == content


def test_an_output_that_is_a_folder_is_reported(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    (tmp_path / "comments.wxr").mkdir()
    config = write_config(
        tmp_path, archive=archive, target={"type": "wxr", "output": str(tmp_path / "comments.wxr")}
    )
    _, document = check(config)
    assert failed(document) == {"target"}
    assert "is not a file" in items(document)["target"]["detail"]


# -- the checkpoint --------------------------------------------------------------------------


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain-file").write_text("not a folder", encoding="utf-8")
    return tmp_path / "plain-file" / "checkpoint.json"


def in_a_read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the other case covers root")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "checkpoint.json"


@pytest.mark.parametrize(
    ("place", "why"),
    [(under_a_file, "is not a folder"), (in_a_read_only_folder, "cannot create files")],
)
def test_a_checkpoint_folder_that_cannot_be_written_is_reported(
    tmp_path: Path, place: Any, why: str
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    checkpoint = place(tmp_path)
    try:
        config = write_config(
            tmp_path,
            archive=archive,
            run={"checkpoint": str(checkpoint)},
            target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")},
        )
        result, document = check(config)
    finally:
        checkpoint.parent.chmod(0o755) if checkpoint.parent.is_dir() else None
    assert result.exit_code == 3
    assert failed(document) == {"checkpoint"}
    assert why in items(document)["checkpoint"]["detail"]
    assert "[run] checkpoint" in items(document)["checkpoint"]["fix"]


def test_a_checkpoint_of_another_migration_is_reported(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    first = write_config(
        tmp_path,
        archive=archive,
        name="a.toml",
        target={"type": "jsonl", "output": str(tmp_path / "a.jsonl")},
    )
    assert invoke("-q", "run", "-c", str(first)).exit_code == 0
    other = write_config(
        tmp_path,
        archive=archive,
        name="b.toml",
        target={"type": "jsonl", "output": str(tmp_path / "b.jsonl")},
    )
    _, document = check(first)
    assert (
        not failed(document) and "1 of 1 pages complete" in items(document)["checkpoint"]["detail"]
    )
    _, document = check(other)
    assert failed(document) == {"checkpoint"}
    assert "another migration" in items(document)["checkpoint"]["detail"]


def test_the_library_entry_point_returns_the_same_report(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2))
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": str(tmp_path / "o.jsonl")}
    )
    report = run_checks(load_config(config))
    assert report.ok and len(report) == 4
    assert json.loads(report.to_json()) == check(config)[1]


def test_a_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "migration.toml"
    config.write_text('[source]\ntype = "matrix"\n[target]\ntype = "http"\n', encoding="utf-8")
    result = invoke("check", "-c", str(config))
    assert result.exit_code == 2
    assert "source.homeserver" in result.stderr or "target.url" in result.stderr


# -- the --checkpoint option and the Python API ------------------------------------------------


def test_check_takes_the_checkpoint_option_that_run_takes(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=1))
    elsewhere = tmp_path / "elsewhere" / "a.checkpoint.json"
    first = write_config(
        tmp_path, archive=archive, name="a.toml", target={"type": "jsonl", "output": "a.jsonl"}
    )
    other = write_config(
        tmp_path, archive=archive, name="b.toml", target={"type": "jsonl", "output": "b.jsonl"}
    )
    assert invoke("-q", "run", "-c", str(first), "--checkpoint", str(elsewhere)).exit_code == 0

    _, document = check(first)  # [run] checkpoint: not made yet
    assert "will be created" in items(document)["checkpoint"]["detail"]
    result = invoke("check", "-c", str(first), "--checkpoint", str(elsewhere), "--json")
    assert result.exit_code == 0, result.stdout
    found = items(json.loads(result.stdout))["checkpoint"]
    assert str(elsewhere) in found["detail"] and "1 of 1 pages complete" in found["detail"]

    result = invoke("check", "-c", str(other), "--checkpoint", str(elsewhere), "--json")
    assert result.exit_code == 3
    found = items(json.loads(result.stdout))["checkpoint"]
    assert "another migration" in found["detail"] and "--checkpoint" in found["fix"]


def test_a_migration_built_as_objects_checks_itself(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2))
    with (
        ContractServer(token="right") as server,
        StaticSite({"/post0/": "<p>post 0</p>"}) as web,
    ):
        for token, ok in (("right", True), ("wrong", False)):
            migration = Migration(
                ArchiveSource(archive),
                HttpTarget(server.url, token=token),
                checkpoint=tmp_path / "cp.json",
            )
            with migration:
                report = migration.check()
            assert report.ok is ok
            assert [item.name for item in report] == ["config", "pages", "target", "checkpoint"]
            if not ok:
                assert [item.name for item in report.failures] == ["target"]
                assert "was refused" in report.failures[0].detail
        with Migration(
            ArchiveSource(archive), HttpTarget(server.url, token="right"), checkpoint=tmp_path / "c"
        ) as migration:
            report = migration.check(site_url=web.url)
        assert server.posts == 0
    assert [item.name for item in report.failures] == ["page post1"]
    assert "/post1/ answers status 404" in report.failures[0].detail
    assert sorted(web.requests) == ["/post0/", "/post1/"]


class LicensedArchive(ArchiveSource):
    """A third party's source with the preflight ability: a licence server it must ask."""

    def __init__(self, path: Path, licensed: bool) -> None:
        super().__init__(path)
        self.licensed = licensed
        self.origin = f"from {path.name}"
        self.note = "read from a licensed archive"
        self.fix = "ask the archive's vendor"
        self.asked: list[str] = []

    def preflight(self, timeout: float) -> LicensedArchive:
        return self

    def service(self) -> list[CheckItem]:
        if self.licensed:
            return [CheckItem("licence", True, "licensed")]
        return [CheckItem("licence", False, "no licence", "buy one")]

    def page(self, page: Page) -> CheckItem:
        self.asked.append(page.id)
        return CheckItem(f"page {page.id}", True, f"archived as {page.key}")


class WidgetTarget(HttpTarget):
    """A third party's target whose pages show comments through a widget of its own."""

    def check_embed(self, page: Page, html: str, url: str) -> CheckItem:
        shown = 'data-widget="' + page.key + '"' in html
        return CheckItem(f"page {page.id}", shown, "widget found", "add the widget")


def test_abilities_are_asked_of_the_objects_whatever_their_name(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2))
    unlicensed = LicensedArchive(archive, licensed=False)
    closed = f"http://127.0.0.1:{free_port()}"
    report = Migration(
        unlicensed, HttpTarget(closed, token="t"), checkpoint=tmp_path / "cp.json"
    ).check()
    assert [item.name for item in report][:3] == ["config", "licence", "pages"]
    found = {item.name: item for item in report}
    assert found["licence"].fix == "buy one"
    assert found["pages"].detail == "not checked: the licence item failed"
    assert unlicensed.asked == []

    licensed = LicensedArchive(archive, licensed=True)
    site = {"/post0/": '<div data-widget="/post0/"></div>', "/post1/": "<div></div>"}
    with ContractServer(token="t") as server, StaticSite(site) as web:
        report = Migration(
            licensed, WidgetTarget(server.url, token="t"), checkpoint=tmp_path / "cp.json"
        ).check(site_url=web.url)
    found = {item.name: item for item in report}
    assert (
        found["pages"].detail == "2 pages (from site.archive.jsonl); read from a licensed archive"
    )
    assert found["page post0"].ok
    assert found["page post0"].detail == (
        f"archived as /post0/, {web.url}/post0/ answers 200, widget found"
    )
    assert not found["page post1"].ok and found["page post1"].fix == "add the widget"
    assert sorted(licensed.asked) == ["post0", "post1"]
