"""Small export files in the shapes Commento, Comentario, Remark42, Artalk and Twikoo write,
written here (never copied), quirks included. All hold one site:

/blog/first-post/ ("First post"):
  a1 Ann (top)  <-  a2 Bob  <-  a3 Cy         a2 comes before a1 in every file
  s1 Spammer (spam, or the format's nearest: flagged, rejected, blocked)
  d1 (deleted)  <-  d2 Dee                    d1 a tombstone; d3 deleted, no reply: skipped
  o1 Ola answers "ghost", which is not in the file: an orphan, top level
  p1 Pat (pending, where the format has it)
/blog/second/?utm_source=feed (the key drops the tracking parameter):
  b1 Bea
/blog/loop/ (only with `cycle=True`): c1 <-> c2 answer each other, a cycle: the page fails
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

FIRST = "/blog/first-post/"
SECOND = "/blog/second/?utm_source=feed"
LOOP = "/blog/loop/"
SITE = "https://blog.example.org"


@dataclass(frozen=True)
class Row:
    id: str
    page: str
    parent: str | None
    name: str
    state: str  # approved | pending | spam | deleted
    text: str
    minute: int
    email: str | None = None
    link: str | None = None

    @property
    def created(self) -> datetime:
        return datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC) + timedelta(minutes=self.minute)


ROWS = [
    Row("a2", FIRST, "a1", "Bob", "approved", "I *agree* <3", 5, "bob@example.net"),
    Row(
        "a1",
        FIRST,
        None,
        "Ann",
        "approved",
        "Hello **world** & all",
        0,
        "ann@example.net",
        "https://ann.example.net/",
    ),
    Row("a3", FIRST, "a2", "Cy <b>", "approved", "Third level", 9),
    Row("s1", FIRST, None, "Spammer", "spam", "Buy pills", 2, "spam@example.net"),
    Row("d1", FIRST, None, "Dan", "deleted", "removed", 3),
    Row("d2", FIRST, "d1", "Dee", "approved", "Answer to a deleted one", 4),
    Row("d3", FIRST, None, "Dot", "deleted", "gone", 6),
    Row("o1", FIRST, "ghost", "Ola", "approved", "Parent lost", 7),
    Row("p1", FIRST, None, "Pat", "pending", "Waiting for a moderator", 8),
    Row("b1", SECOND, None, "Bea", "approved", "Second page", 1),
]
CYCLE = [
    Row("c1", LOOP, "c2", "Cat", "approved", "loop one", 2),
    Row("c2", LOOP, "c1", "Cal", "approved", "loop two", 3),
]


def rows(cycle: bool) -> list[Row]:
    return ROWS + CYCLE if cycle else ROWS


@dataclass(frozen=True)
class Expected:
    """What a source of one format reads from its fixture."""

    parents: dict[str, str | None]  # migrated comment -> its parent after the rules
    skipped: set[str]
    orphans: set[str]
    pending: set[str]
    tombstones: set[str]


_TREE = {"a1": None, "a2": "a1", "a3": "a2", "o1": None, "b1": None}
EXPECTED = {
    # every state the format has: spam, deleted with and without replies, pending
    "commento": Expected(
        {**_TREE, "d1": None, "d2": "d1", "p1": None},
        {"s1", "d3"},
        {"o1"},
        {"p1"},
        {"d1"},
    ),
    "remark42": Expected(  # no pending state; spam is a blocked user
        {**_TREE, "d1": None, "d2": "d1"}, {"s1", "d3"}, {"o1"}, set(), {"d1"}
    ),
    "artalk": Expected(  # Artalk deletes outright and has no spam: d2 lost its parent
        {**_TREE, "d2": None, "p1": None}, set(), {"o1", "d2"}, {"p1"}, set()
    ),
    "twikoo": Expected(  # no deletion, no pending; spam flagged
        {**_TREE, "d2": None}, {"s1"}, {"o1", "d2"}, set(), set()
    ),
}
EXPECTED["comentario"] = EXPECTED["commento"]


def html(text: str) -> str:
    """The HTML a widget stored for `text` (what Remark42 and Twikoo export)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace("**world**", "<strong>world</strong>")
    return f"<p>{escaped.replace('*agree*', '<em>agree</em>')}</p>\n"


def _hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def commento(path: Path, *, compress: bool = True, cycle: bool = False) -> Path:
    """Commento's export: version 1, commenters repeated per comment, Go nanosecond times,
    a deleted comment as "[deleted]" by "anonymous" (its export omits `deleted`)."""
    comments, commenters = [], []
    for row in rows(cycle):
        deleted = row.state == "deleted"
        hex_id = "anonymous" if deleted else _hex(row.name)
        comments.append(
            {
                "commentHex": row.id,
                "domain": "blog.example.org",
                "url": row.page,
                "commenterHex": hex_id,
                "markdown": "[deleted]" if deleted else row.text,
                "html": "",
                "parentHex": row.parent or "root",
                "score": 2 if row.id == "a1" else 0,
                "state": {"spam": "flagged", "pending": "unapproved"}.get(row.state, "approved"),
                "creationDate": row.created.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
                "direction": 0,
                "deleted": False,
            }
        )
        if not deleted:
            commenters.append(
                {
                    "commenterHex": hex_id,
                    "email": row.email or f"{row.name.split()[0].lower()}@example.net",
                    "name": row.name,
                    "link": row.link or "undefined",
                    "photo": "undefined",
                    "provider": "commento",
                    "joinDate": "2020-01-01T00:00:00Z",
                    "isModerator": False,
                }
            )
    data = json.dumps({"version": 1, "comments": comments, "commenters": commenters * 2})
    raw = data.encode()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def comentario(path: Path, *, cycle: bool = False) -> Path:
    """Comentario's export, version 3: pages, comments (uuids, flags), commenters."""
    pages = {
        FIRST: "11111111-0000-0000-0000-000000000001",
        SECOND: "11111111-0000-0000-0000-000000000002",
        LOOP: "11111111-0000-0000-0000-000000000003",
    }
    anonymous = "00000000-0000-0000-0000-000000000000"
    users = {r.name: f"22222222-0000-0000-0000-{n:012d}" for n, r in enumerate(rows(cycle))}
    comments = []
    for row in rows(cycle):
        record: dict[str, Any] = {
            "id": row.id,
            "pageId": pages[row.page],
            "markdown": "" if row.state == "deleted" else row.text,
            "html": "<p>ignored</p>",
            "score": 2 if row.id == "a1" else 0,
            "isSticky": False,
            "isApproved": row.state in ("approved", "deleted"),
            "isPending": row.state == "pending",
            "isDeleted": row.state == "deleted",
            "createdTime": row.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "userCreated": anonymous if row.name == "Ola" else users[row.name],
            "authorIP": "203.0.113.9",
        }
        if row.parent:
            record["parentId"] = row.parent
        if row.name == "Ola":
            record["authorName"] = "Ola"
        comments.append(record)
    commenters = [
        {
            "id": uid,
            "email": f"{name.split()[0].lower()}@example.net",
            "name": name,
            "websiteUrl": "https://ann.example.net/" if name == "Ann" else "",
            "hasAvatar": False,
            "isModerator": False,
            "isCommenter": True,
            "colourIndex": 3,
            "createdTime": "2020-01-01T00:00:00.000Z",
        }
        for name, uid in users.items()
        if name != "Ola"
    ]
    doc = {
        "version": 3,
        "pages": [
            {
                "id": pid,
                "domainId": "33333333-0000-0000-0000-000000000000",
                "path": key,
                "title": "First post" if key == FIRST else "",
                "isReadonly": False,
                "countComments": -1,
                "countViews": -1,
            }
            for key, pid in pages.items()
        ],
        "comments": comments,
        "commenters": commenters,
    }
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    return path


def remark42(path: Path, *, cycle: bool = False) -> Path:
    """Remark42's backup: gzip JSON Lines, meta first; a blocked user stands for spam; times
    in a local zone with nanoseconds; names HTML-escaped; no pending state (p1 left out)."""
    zone = timezone(timedelta(hours=-5))
    meta = {
        "version": 1,
        "users": [
            {
                "id": "remark_spam",
                "blocked": {"status": True, "until": "2999-01-01T00:00:00Z"},
                "verified": False,
            }
        ],
        "posts": [{"url": SITE + FIRST, "read_only": False}],
    }
    lines = [json.dumps(meta)]
    for row in rows(cycle):
        if row.state == "pending":
            continue
        deleted = row.state == "deleted"
        record: dict[str, Any] = {
            "id": row.id,
            "pid": row.parent or "",
            "text": "" if deleted else html(row.text),
            "user": {
                "name": row.name.replace("<", "&lt;").replace(">", "&gt;"),
                "id": "remark_spam" if row.state == "spam" else f"github_{_hex(row.name)[:40]}",
                "picture": "https://remark42.example.org/api/v1/avatar/x.image",
                "ip": "7c2b4e6f0a1d9c8b7a6f5e4d3c2b1a0f9e8d7c6b",
                "admin": row.name == "Ann",
            },
            "locator": {"site": "remark", "url": SITE + row.page},
            "score": 1 if row.id == "a1" else 0,
            "votes": {"github_x": True} if row.id == "a1" else {},
            "vote": 0,
            "time": row.created.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.000000001-05:00"),
            "title": "First post" if row.page == FIRST else "",
        }
        if deleted:
            record["delete"] = True
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def artalk(path: Path, *, cycle: bool = False) -> Path:
    """Artrans: an array whose values are all strings; Artalk's own time form with a zone;
    no deleted or spam state (d1, d3 and s1 are not in Artalk's export: d2 and o1 lost
    their parents, as after Artalk deletes a comment)."""
    records = []
    for row in rows(cycle):
        if row.state in ("spam", "deleted"):
            continue
        records.append(
            {
                "id": row.id,
                "rid": row.parent or "0",
                "content": row.text,
                "ua": "Mozilla/5.0",
                "ip": "198.51.100.7",
                "is_collapsed": "false",
                "is_pending": "true" if row.state == "pending" else "false",
                "is_pinned": "false",
                "vote_up": "3" if row.id == "a1" else "0",
                "vote_down": "0",
                "created_at": row.created.astimezone(timezone(timedelta(hours=8))).strftime(
                    "%Y-%m-%d %H:%M:%S +0800"
                ),
                "updated_at": row.created.strftime("%Y-%m-%d %H:%M:%S +0000"),
                "nick": row.name,
                "email": row.email or "",
                "link": row.link or "",
                "badge_name": "",
                "badge_color": "",
                "page_key": SITE + row.page if row.page == SECOND else row.page,
                "page_title": "First post" if row.page == FIRST else "Second",
                "page_admin_only": "false",
                "site_name": "Blog",
                "site_urls": SITE,
            }
        )
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def twikoo(path: Path, *, lines: bool = False, prefix: str = "", cycle: bool = False) -> Path:
    """Twikoo's export: an array, or JSON Lines as database exports write it; ms times,
    MongoDB's {"$oid"} / {"$date"} in the JSON Lines form, `like` arrays. `prefix` goes
    before every page path (a server shared by several tests)."""
    docs = []
    for row in rows(cycle):
        if row.state in ("deleted", "pending"):
            continue
        created = int(row.created.timestamp() * 1000)
        doc: dict[str, Any] = {
            "_id": {"$oid": row.id} if lines else row.id,
            "nick": row.name,
            "mail": row.email or "",
            "mailMd5": hashlib.md5(
                (row.email or row.name).encode(), usedforsecurity=False
            ).hexdigest(),
            "link": row.link or "",
            "url": prefix + row.page,
            "href": SITE + prefix + row.page,
            "comment": html(row.text),
            "ua": "Mozilla/5.0",
            "ip": "192.0.2.4",
            "isSpam": row.state == "spam",
            "master": False,
            "like": ["u1", "u2"] if row.id == "a1" else [],
            "created": {"$date": row.created.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
            if lines
            else created,
            "updated": created + 999_000,
        }
        if row.parent:
            doc["pid"] = row.parent
            doc["rid"] = "a1" if row.page == FIRST and row.parent.startswith("a") else row.parent
        docs.append(doc)
    if lines:
        path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    else:
        path.write_text(json.dumps(docs, ensure_ascii=False))
    return path
