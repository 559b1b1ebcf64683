"""A real Isso database filled through Isso's own API: threads with replies, comments held
for moderation (pending, mode 2) and deleted ones (a tombstone kept for its replies, mode 4,
and one removed outright). Shared by the Isso-source tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from migrate.systems.isso.moderation import moderation_path
from migrate.testing.isso import IssoServer

PAGES = ("/blog/first/", "/blog/second/")


@dataclass
class IssoSite:
    server: IssoServer
    ids: dict[str, int] = field(default_factory=dict)  # label -> Isso id
    pending: set[str] = field(default_factory=set)  # labels left pending
    tombstone: str = "doomed"  # deleted with a reply: kept as mode 4
    removed: str = "gone"  # deleted without replies: no row left

    def visible(self) -> set[str]:
        """Labels of the comments a reader sees (and every target must get)."""
        return set(self.ids) - self.pending - {self.tombstone, self.removed}


def moderate(
    server: IssoServer, comment_id: int, action: str, body: dict[str, str] | None = None
) -> None:
    """Isso's moderation endpoint (activate, edit, delete), as its admin mail links use it."""
    path = moderation_path(server.db_path, str(comment_id), action)
    assert path is not None
    answer = requests.post(server.url + path, json=body, timeout=10)
    assert answer.status_code == 200, answer.text


def seed_isso(server: IssoServer) -> IssoSite:
    """`server` must run with moderation on: every post is pending until activated."""
    site = IssoSite(server)
    plan = [
        # label, page, parent label, author, text
        ("a", PAGES[0], None, "Ann", "First **comment** on the first post"),
        ("b", PAGES[0], "a", "Bob", "A reply to Ann, with a [link](https://example.org/x)"),
        ("c", PAGES[0], "b", "Cy", "Cy answers Bob (Isso keeps it under Ann)"),
        ("doomed", PAGES[0], None, "Dee", "I will delete this"),
        ("d-reply", PAGES[0], "doomed", "Ann", "Replying to what Dee deleted"),
        ("gone", PAGES[0], None, "Eve", "Removed without a trace"),
        ("e", PAGES[1], None, None, "An anonymous comment on the second post"),
        ("held", PAGES[1], "e", "Fay", "Still waiting for moderation"),
        ("f", PAGES[1], None, "Gus", "Ünïcode and emoji 🎉 survive"),
    ]
    for label, page, parent, author, text in plan:
        created = server.post(
            page,
            text,
            author=author,
            parent=site.ids[parent] if parent else None,
            title=f"Post {page}",
        )
        site.ids[label] = int(created["id"])
    site.pending = {"held"}
    for label, comment_id in site.ids.items():
        if label not in site.pending:
            moderate(server, comment_id, "activate")
    for label in (site.tombstone, site.removed):
        moderate(server, site.ids[label], "delete")
    modes = {row["id"]: row["mode"] for row in server.rows()}
    assert modes[site.ids[site.tombstone]] == 4 and site.ids[site.removed] not in modes
    assert modes[site.ids["held"]] == 2
    return site
