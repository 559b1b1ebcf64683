"""What readers saw is what they see: a real Synapse seeded the way clients write, migrated
into a real Isso over its API, read back rendered (`GET /?uri=...` without `plain`).

The room holds comments in the Cactus web client's shape (Markdown body + rendered HTML),
Element-style replies in every relation shape (rich replies with and without the quoted
fallback, threads falling back with and without it, a real reply inside a thread, an
`<mx-reply>` on an event that is no reply), a visitor's own leading quote, an edit, an emote,
an uploaded image and file, and an author with an avatar. Each shape carries a phrase of its
own, so "appears once" and "no parent quote anywhere" are counts over the rendered page.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from migrate.config import parse_config
from migrate.errors import ConfigError
from migrate.media import InMemoryMediaLedger, MediaMirror
from migrate.migration import Migration
from migrate.model import Comment, PageComments
from migrate.pages import KeyedSource
from migrate.systems.matrix import MatrixCommentExtractor
from tests.migration_helpers import REPO, invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.faulty import Behaviour, FaultyServer
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy
from tests.servers.synapse import SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.isso]

SITE = "fidelity"
SECTION = "birds"
URI = "/birds/"
BASE_URL = "https://example.org/comment-media/"
T0 = 1_600_000_000_000
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"field notes " * 300
AVATAR = b"\x89PNG\r\n\x1a\n" + b"avatar" * 50


@dataclass
class Seeded:
    server: SynapseServer
    room: str
    ids: dict[str, str]
    pages_file: Path
    media: dict[str, tuple[str, bytes]]  # name -> (mxc, uploaded bytes)


@pytest.fixture(scope="module")
def seeded(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    server = synapse
    alice, bob, cy = (server.user_id(f"cactus_fid_{n}") for n in ("alice", "bob", "cy"))
    room = server.create_comment_room(SITE, SECTION)
    avatar = server.upload_media(AVATAR, "image/png", "alice.png", alice)
    server.join(room, alice)
    state = f"/_matrix/client/v3/rooms/{room}/state/m.room.member/{alice}"
    server.as_call(
        "PUT",
        state,
        user_id=alice,
        body={"membership": "join", "displayname": "Alice", "avatar_url": avatar},
    )
    server.set_room_displayname(room, bob, "Bob")
    server.set_room_displayname(room, cy, "Cy")
    ids: dict[str, str] = {}
    minute = 0

    def send(name: str, content: dict[str, Any], user: str) -> None:
        nonlocal minute
        minute += 1
        ids[name] = server.send_message(room, content, user, T0 + minute * 60_000)

    send(
        "cactus",
        {
            "msgtype": "m.text",
            "body": "Spotted a **merlin** at https://birds.example/merlin today",
            "format": "org.matrix.custom.html",
            "formatted_body": 'Spotted a <strong>merlin</strong> at <a href="https://birds.example/'
            'merlin">https://birds.example/merlin</a> today',
        },
        alice,
    )
    send("rich_reply", server.reply_content(room, ids["cactus"], "Lovely find, Alice"), bob)
    send(
        "rich_reply_no_fallback",
        server.reply_content(room, ids["cactus"], "Where exactly was it?", fallback=False),
        cy,
    )
    send(
        "thread_falling_back",
        server.reply_content(
            room,
            ids["rich_reply_no_fallback"],
            "In the thread: near the old mill",
            thread_root=ids["cactus"],
            falling_back=True,
        ),
        alice,
    )
    send(
        "thread_falling_back_bare",
        server.reply_content(
            room,
            ids["thread_falling_back"],
            "Thread again: thanks both",
            fallback=False,
            thread_root=ids["cactus"],
            falling_back=True,
        ),
        bob,
    )
    send(
        "thread_reply",
        server.reply_content(
            room,
            ids["thread_falling_back"],
            "Answering the mill bit directly",
            thread_root=ids["cactus"],
        ),
        cy,
    )
    # an <mx-reply> on an event that is no reply (a client that lost the relation)
    quoted = server.reply_content(room, ids["rich_reply"], "Loose quote answer")
    del quoted["m.relates_to"]
    send("mx_reply_no_relation", quoted, alice)
    send(
        "own_quote", {"msgtype": "m.text", "body": "> a quote of my own\n\nand my words on it"}, cy
    )
    send("edited", {"msgtype": "m.text", "body": "teh first draft"}, bob)
    send(
        "edit",
        {
            "msgtype": "m.text",
            "body": "* the final draft",
            "m.new_content": {"msgtype": "m.text", "body": "the final draft"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": ids["edited"]},
        },
        bob,
    )
    send("emote", {"msgtype": "m.emote", "body": "waves at the merlin watchers"}, bob)
    image = server.upload_media(PNG, "image/png", "heron.png", cy)
    send(
        "image",
        {
            "msgtype": "m.image",
            "body": "heron.png",
            "url": image,
            "info": {"mimetype": "image/png", "size": len(PNG)},
        },
        cy,
    )
    pdf = server.upload_media(PDF, "application/pdf", "notes.pdf", alice)
    send(
        "file",
        {
            "msgtype": "m.file",
            "body": "notes.pdf",
            "url": pdf,
            "info": {"mimetype": "application/pdf", "size": len(PDF)},
        },
        alice,
    )
    pages = tmp_path_factory.mktemp("fidelity") / "pages.csv"
    pages.write_text(f"section_id,uri,title\n{SECTION},{URI},Birds\n", encoding="utf-8")
    media = {"avatar": (avatar, AVATAR), "image": (image, PNG), "file": (pdf, PDF)}
    return Seeded(server, room, ids, pages, media)


def extractor(
    seeded: Seeded, mirror: MediaMirror | None = None, homeserver: str | None = None
) -> MatrixCommentExtractor:
    return MatrixCommentExtractor(
        homeserver=homeserver or seeded.server.url,
        site=SITE,
        server_name=seeded.server.server_name,
        pages_file=seeded.pages_file,
        mirror=mirror,
    )


def extract(
    seeded: Seeded, mirror: MediaMirror | None = None, homeserver: str | None = None
) -> PageComments:
    source = extractor(seeded, mirror, homeserver)
    try:
        return source.comments(source.page_for(SECTION, URI, "Birds"))
    finally:
        source.close()


def by_id(page: PageComments) -> dict[str, Comment]:
    return {c.id: c for c in page.comments}


# -- the source ---------------------------------------------------------------------------

PARENT_PHRASES = {  # reply -> text of what it answers, which must not come along
    "rich_reply": "Spotted a",
    "thread_falling_back": "Where exactly",
    "thread_reply": "near the old mill",
    "mx_reply_no_relation": "Lovely find",
}


def test_every_relation_shape_hangs_right_and_loses_its_quote(seeded: Seeded) -> None:
    page = extract(seeded)
    c = {
        name: by_id(page)[event_id]
        for name, event_id in seeded.ids.items()
        if event_id in by_id(page)
    }
    ids = seeded.ids
    assert c["rich_reply"].parent_id == ids["cactus"]
    assert c["rich_reply_no_fallback"].parent_id == ids["cactus"]
    assert c["thread_falling_back"].parent_id == ids["cactus"]  # the root, not the fallback
    assert c["thread_falling_back_bare"].parent_id == ids["cactus"]
    assert c["thread_reply"].parent_id == ids["thread_falling_back"]  # a real reply
    assert c["mx_reply_no_relation"].parent_id is None
    for name, phrase in PARENT_PHRASES.items():
        assert phrase not in c[name].text, name
        assert phrase not in (c[name].html or ""), name
    assert c["rich_reply"].text == "Lovely find, Alice"
    assert c["thread_falling_back"].text == "In the thread: near the old mill"
    assert c["mx_reply_no_relation"].text == "Loose quote answer"
    # a visitor's own quote in a comment that answers nobody is theirs: kept
    assert "a quote of my own" in c["own_quote"].text
    assert "a quote of my own" in (c["own_quote"].html or "")


def test_every_comment_has_html_and_markdown_in_its_form(seeded: Seeded) -> None:
    page = extract(seeded)
    c = {name: by_id(page).get(event_id) for name, event_id in seeded.ids.items()}
    assert all(comment.html for comment in page.comments)
    assert c["cactus"] is not None and "<strong>merlin</strong>" in (c["cactus"].html or "")
    assert c["cactus"].text.startswith("Spotted a **merlin**")  # the Markdown typed
    assert c["edited"] is not None and c["edited"].html == "<p>the final draft</p>"
    assert c["emote"] is not None and c["emote"].text.startswith("\\* Bob waves")
    image, file = c["image"], c["file"]
    assert image is not None and file is not None
    assert image.text.startswith("![heron.png](") and "<img " in (image.html or "")
    assert file.text.startswith("[notes.pdf](") and ">notes.pdf</a>" in (file.html or "")
    assert "![" not in (image.html or "") and "](" not in (file.html or "")


def test_without_media_links_avoid_the_legacy_endpoint_and_are_counted(seeded: Seeded) -> None:
    page = extract(seeded)
    links = [c.text + (c.html or "") + (c.author.avatar_url or "") for c in page.comments]
    assert not any("/_matrix/media/v3/" in link for link in links)
    assert any("/_matrix/client/v1/media/download/" in link for link in links)
    # the image, the file, and Alice's comments (her avatar): cactus, thread, loose quote, file
    alice_comments = sum(c.author.name == "Alice" for c in page.comments)
    assert page.source_media == 2 + alice_comments - 1  # the file is Alice's too


def test_display_names_as_they_were(seeded: Seeded) -> None:
    page = extract(seeded)
    names = {c.id: c.author.name for c in page.comments}
    assert names[seeded.ids["cactus"]] == "Alice"
    assert names[seeded.ids["emote"]] == "Bob"


# -- media ---------------------------------------------------------------------------------


def media_links(page: PageComments) -> list[str]:
    found: list[str] = []
    for c in page.comments:
        found += re.findall(r"\((https?://[^)\s]+)\)", c.text)
        found += [html_lib.unescape(u) for u in re.findall(r'(?:src|href)="([^"]+)"', c.html or "")]
        if c.author.avatar_url:
            found.append(c.author.avatar_url)
    return [u for u in found if "birds.example" not in u]


def test_media_are_copied_once_with_their_bytes_and_linked_from_base_url(
    seeded: Seeded, tmp_path: Path
) -> None:
    proxy = KillProxy(seeded.server.url).start()
    try:
        ledger = InMemoryMediaLedger()
        mirror = MediaMirror(tmp_path / "media", BASE_URL, homeserver=proxy.url, ledger=ledger)
        mirror.start()
        page = extract(seeded, mirror, homeserver=proxy.url)
        links = media_links(page)
        assert links and all(u.startswith(BASE_URL) for u in links), links
        assert page.source_media == 0
        names = {u.removeprefix(BASE_URL) for u in links}
        held = {p.name: p.read_bytes() for p in (tmp_path / "media").iterdir()}
        assert set(held) == names
        assert sorted(held.values()) == sorted(data for _, data in seeded.media.values())
        for mxc, data in seeded.media.values():
            info = ledger.get_media(mxc)
            assert info is not None and held[str(info["name"])] == data
            assert info["size"] == len(data)
        assert {Path(n).suffix for n in names} == {".png", ".pdf"}
        downloads = [p for _, p in proxy.log if "/media/" in p and "download" in p]
        assert len(downloads) == 3  # one per file: the avatar serves five comments
        # a rerun with the checkpoint's ledger fetches nothing
        again = MediaMirror(tmp_path / "media", BASE_URL, homeserver=proxy.url, ledger=ledger)
        again.start()
        assert media_links(extract(seeded, again, homeserver=proxy.url)) == links
        # and so does one that lost its ledger: a file under its final name is complete
        fresh = MediaMirror(tmp_path / "media", BASE_URL, homeserver=proxy.url)
        fresh.start()
        assert media_links(extract(seeded, fresh, homeserver=proxy.url)) == links
        downloads = [p for _, p in proxy.log if "/media/" in p and "download" in p]
        assert len(downloads) == 3 and again.fetched == 0 and fresh.fetched == 0
    finally:
        proxy.stop()


def _media_endpoints(
    body: bytes,
    *,
    v1_status: int = 200,
    stall_after: int | None = None,
    content_type: str = "image/png",
) -> Behaviour:
    """A homeserver's media endpoints misbehaving as no real one can be made to on cue:
    v1 refused (an old server), a body cut off mid-way, a size bigger than announced."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if "/client/v1/" in handler.path and v1_status != 200:
            refusal = b'{"errcode": "M_UNRECOGNIZED"}'
            handler.send_response(v1_status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(refusal)))
            handler.end_headers()
            handler.wfile.write(refusal)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if stall_after is None:
            handler.wfile.write(body)
            return
        handler.wfile.write(body[:stall_after])
        handler.wfile.flush()
        time.sleep(60)  # the client is killed meanwhile

    return answer


@pytest.fixture
def media_server(
    serve_faults: Callable[[Behaviour], FaultyServer],
) -> Callable[..., FaultyServer]:
    return lambda body, **kwargs: serve_faults(_media_endpoints(body, **kwargs))


def test_legacy_endpoint_is_the_fallback(
    media_server: Callable[..., FaultyServer], tmp_path: Path
) -> None:
    server = media_server(PNG, v1_status=404)
    mirror = MediaMirror(tmp_path, BASE_URL, homeserver=server.url)
    mirror.start()
    url = mirror.url_for("mxc://old.example/Abc123")
    assert url is not None and url.startswith(BASE_URL)
    assert (tmp_path / url.removeprefix(BASE_URL)).read_bytes() == PNG
    assert [p.split("/download/")[0] for p in server.requests] == [
        "/_matrix/client/v1/media",
        "/_matrix/media/v3",
    ]


def test_too_big_or_unsafe_types(media_server: Callable[..., FaultyServer], tmp_path: Path) -> None:
    big = media_server(PNG)
    mirror = MediaMirror(tmp_path / "a", BASE_URL, homeserver=big.url, max_bytes=100)
    mirror.start()
    assert mirror.url_for("mxc://hs.example/big") is None
    assert list((tmp_path / "a").iterdir()) == []
    svg = media_server(b"<svg onload='alert(1)'/>", content_type="image/svg+xml")
    mirror = MediaMirror(tmp_path / "b", BASE_URL, homeserver=svg.url)
    mirror.start()
    url = mirror.url_for("mxc://hs.example/../../etc/passwd") or ""
    assert url == ""  # not an mxc:// URI: nothing fetched, nothing named after it
    url = mirror.url_for("mxc://hs.example/pic") or ""
    assert url.endswith(".bin")  # served from the site's origin: never rendered as SVG


def test_sigkill_mid_download_leaves_no_half_file(
    media_server: Callable[..., FaultyServer], tmp_path: Path
) -> None:
    body = os.urandom(200_000)
    server = media_server(body, stall_after=150_000)
    target = tmp_path / "media"
    script = (
        "import sys; from migrate.media import MediaMirror; "
        f"m = MediaMirror({str(target)!r}, {BASE_URL!r}, homeserver={server.url!r}); "
        "m.start(); m.url_for('mxc://hs.example/slow')"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = list(target.glob(".*.part")) if target.exists() else []
            if parts and parts[0].stat().st_size >= 65_536:  # a whole chunk is written
                break
            time.sleep(0.02)
        else:
            pytest.fail("the download never started")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert [p.name for p in target.iterdir() if not p.name.startswith(".")] == []
    # the next mirror sweeps the leftover and downloads whole
    whole = media_server(body)
    whole_mirror = MediaMirror(target, BASE_URL, homeserver=whole.url)
    whole_mirror.start()
    url = whole_mirror.url_for("mxc://hs.example/slow")
    assert url is not None
    assert [p.name for p in target.iterdir()] == [url.removeprefix(BASE_URL)]
    assert (target / url.removeprefix(BASE_URL)).read_bytes() == body


# -- what a reader of the Isso site sees ------------------------------------------------------


def rendered(isso: IssoServer) -> list[dict[str, Any]]:
    """The thread as Isso's widget gets it: text rendered to HTML, flattened."""
    response = requests.get(f"{isso.url}/", params={"uri": URI}, timeout=10)
    response.raise_for_status()
    flat: list[dict[str, Any]] = []
    for top in response.json()["replies"]:
        flat.append(top)
        flat.extend(top.get("replies") or [])
    return flat


def visible(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def readers_see_each_comment_once(
    comments: list[dict[str, Any]], seeded: Seeded
) -> tuple[list[str], str]:
    """Every comment of the seeded room is there, each phrase once (no parent quote repeated
    it), the latest edit only; returns the rendered texts and what a reader sees of them."""
    texts = [c["text"] for c in comments]
    page_text = "\n".join(visible(t) for t in texts)
    assert len(comments) == len(extract(seeded).comments)
    for phrase in (
        "Spotted a",
        "Lovely find",
        "Where exactly",
        "near the old mill",
        "Thread again",
        "Answering the mill",
        "Loose quote answer",
        "a quote of my own",
        "the final draft",
        "notes.pdf",
    ):
        assert page_text.count(phrase) == 1, (phrase, page_text)
    assert "teh first draft" not in page_text
    return texts, page_text


def test_isso_readers_see_what_matrix_readers_saw(
    seeded: Seeded, isso_factory: Callable[..., IssoServer], tmp_path: Path
) -> None:
    isso = isso_factory(
        markup__allowed_elements="img", markup__allowed_attributes="src, alt, title"
    )
    source = {
        "type": "matrix",
        "homeserver": seeded.server.url,
        "site": SITE,
        "server_name": seeded.server.server_name,
        "pages_file": str(seeded.pages_file),
    }
    config = write_config(
        tmp_path, source=source, target={"type": "isso", "url": isso.url, "allow_images": True}
    )
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[media]\ndir = "media"\nbase_url = "{BASE_URL}"\n')
    code, summary, err = run_json(config)
    assert code == 0, (summary, err)
    comments = rendered(isso)
    texts, page_text = readers_see_each_comment_once(comments, seeded)
    cactus = next(t for t in texts if "Spotted a" in t)
    assert "<strong>merlin</strong>" in cactus
    assert 'href="https://birds.example/merlin"' in cactus
    emote = next(t for t in texts if "waves at the merlin" in t)
    assert "* Bob waves at the merlin watchers" in visible(emote) and "<li>" not in emote
    images = [t for t in texts if "<img" in t]
    assert len(images) == 1 and 'alt="heron.png"' in images[0]
    assert re.search(rf'<img [^>]*src="{re.escape(BASE_URL)}[^"]+\.png"', images[0]), images
    file = next(t for t in texts if "notes.pdf" in t)
    assert re.search(rf'<a href="{re.escape(BASE_URL)}[^"]+\.pdf"[^>]*>notes.pdf</a>', file)
    assert "_matrix" not in "".join(texts) and "![" not in page_text
    held = sorted(p.read_bytes() for p in (tmp_path / "media").iterdir())
    assert held == sorted(data for _, data in seeded.media.values())


@pytest.mark.parametrize(
    ("media", "message"),
    [
        ({"dir": "media"}, "key media.base_url is required"),
        ({"dir": "media", "base_url": "ftp://x/"}, "key media.base_url 'ftp://x/' does not"),
        ({"dir": "media", "base_url": "https://x/", "max_bytes": 0}, "key media.max_bytes"),
        ({"dir": "m", "base_url": "https://x/", "extra": 1}, "key media.extra is not a known"),
    ],
)
def test_media_config_errors_name_the_key(media: dict[str, Any], message: str) -> None:
    data = {
        "source": {"type": "archive", "path": "a.jsonl"},
        "target": {"type": "jsonl", "output": "o.jsonl"},
        "media": media,
    }
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(data, Path("migration.toml"))


def test_media_config_reaches_the_matrix_source(tmp_path: Path) -> None:
    data = {
        "source": {
            "type": "matrix",
            "homeserver": "http://127.0.0.1:9",
            "site": "s",
            "discover": "admin",
        },
        "target": {"type": "jsonl", "output": "o.jsonl"},
        "media": {"dir": "media", "base_url": "https://x.example/m", "max_bytes": 10},
    }
    config = parse_config(data, tmp_path / "migration.toml")
    keyed = Migration.from_config(config).source
    assert isinstance(keyed, KeyedSource)  # every source gets its keys by migrate/pages.py
    source = keyed.inner
    assert isinstance(source, MatrixCommentExtractor) and source.mirror is not None
    assert source.mirror.base_url == "https://x.example/m/"
    assert source.mirror.directory == tmp_path / "media" and source.mirror.max_bytes == 10
    source.close()


# -- verify (tests/test_verify_fidelity.py): no false difference on any shape clients write ------


@pytest.mark.synapse
@pytest.mark.isso
def test_every_shape_clients_write_verifies_ok_in_each_target(
    seeded: Seeded,
    isso_factory: Any,
    contract_server: ContractServer,
    tmp_path: Path,
) -> None:
    isso: IssoServer = isso_factory(
        markup__allowed_elements="img", markup__allowed_attributes="src, alt, title"
    )
    source = {
        "type": "matrix",
        "homeserver": seeded.server.url,
        "site": SITE,
        "server_name": seeded.server.server_name,
        "pages_file": str(seeded.pages_file),
    }
    targets: dict[str, dict[str, Any]] = {
        "isso": {"type": "isso", "url": isso.url},
        "http": {"type": "http", "url": contract_server.url},
        "wxr": {"type": "wxr", "output": str(tmp_path / "wxr" / "comments.wxr")},
    }
    for name, target in targets.items():
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        config = write_config(directory, source=source, target=target)
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f'\n[media]\ndir = "media"\nbase_url = "{BASE_URL}"\n')
        code, summary, err = run_json(config)
        assert code == 0, (name, summary, err)
        verified = invoke("verify", "-c", str(config), "--json")
        report = json.loads(verified.stdout)
        assert verified.exit_code == 0 and report["ok"], (name, report)
        assert report["pages"][0]["comments"] >= 10


@pytest.mark.parametrize("allow_images", [True, False])
def test_isso_readers_see_the_same_through_wxr_and_isso_import(
    seeded: Seeded, isso_factory: Callable[..., IssoServer], tmp_path: Path, allow_images: bool
) -> None:
    """The bulk path the README recommends for Isso: WXR written for Isso, `isso import`,
    then what Isso's readers get (its API without plain=1): each text, link and image once,
    no parent quote, emotes as written, images as images where Isso allows them, else links."""
    overrides = (
        {"markup__allowed_elements": "img", "markup__allowed_attributes": "src, alt, title"}
        if allow_images
        else {}
    )
    isso = isso_factory(**overrides)
    source = {
        "type": "matrix",
        "homeserver": seeded.server.url,
        "site": SITE,
        "server_name": seeded.server.server_name,
        "pages_file": str(seeded.pages_file),
    }
    output = tmp_path / "comments.wxr"
    target: dict[str, Any] = {"type": "wxr", "output": str(output), "importer": "isso"}
    if allow_images:
        target["allow_images"] = True
    config = write_config(tmp_path, source=source, target=target)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[media]\ndir = "media"\nbase_url = "{BASE_URL}"\n')
    code, summary, err = run_json(config)
    assert code == 0, (summary, err)
    imported = isso.import_wxr(output)
    assert imported.returncode == 0, imported.stderr
    comments = rendered(isso)
    texts, page_text = readers_see_each_comment_once(comments, seeded)
    cactus = next(t for t in texts if "Spotted a" in t)
    assert "<strong>merlin</strong>" in cactus and "&lt;" not in cactus
    assert 'href="https://birds.example/merlin"' in cactus
    emote = next(t for t in texts if "waves at the merlin" in t)
    assert "* Bob waves at the merlin watchers" in visible(emote) and "<li>" not in emote
    heron = next(t for t in texts if "heron.png" in t)
    if allow_images:
        assert re.search(rf'<img [^>]*src="{re.escape(BASE_URL)}[^"]+\.png"', heron), heron
    else:  # a stock Isso drops <img>: the image comes as a link to it, never lost
        assert re.search(rf'<a href="{re.escape(BASE_URL)}[^"]+\.png"', heron), heron
    assert "_matrix" not in "".join(texts) and "![" not in page_text
    assert "<p>" not in page_text  # no literal tags for readers
