"""A Cactus-like site on the real Synapse for the end-to-end tests: threaded rooms, the
pages.csv that maps them, the `[source]` table that reads them, and what the source reads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migrate.model import Comment, Page
from migrate.systems.matrix import MatrixCommentExtractor
from tests.servers.synapse import SynapseServer


def seed_threaded_site(
    synapse: SynapseServer,
    folder: Path,
    *,
    site: str,
    sections: Sequence[str],
    users: dict[str, str],  # localpart -> display name
    per_page: int,
    depth: int,
    base_ts: int,
    step_ms: int = 3_600_000,
    body: str = "{section} #{i}",
) -> Path:
    """Rooms of `per_page` comments each, every `depth` comments a new top-level one with
    replies nested below it; returns the pages.csv (`/blog/<section>/`)."""
    user_ids = [synapse.user_id(localpart) for localpart in users]
    for user, name in zip(user_ids, users.values(), strict=True):
        synapse.set_displayname(user, name)
    ts = base_ts
    for section in sections:
        room = synapse.create_comment_room(site, section)
        chain: list[str] = []
        for i in range(per_page):
            ts += step_ms
            content: dict[str, object] = {
                "msgtype": "m.text",
                "body": body.format(section=section, i=i),
            }
            level = i % depth
            if level and chain:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": chain[-1]}}
            event = synapse.send_message(room, content, user_ids[i % len(user_ids)], ts)
            chain = [*chain[:level], event] if level else [event]
    (folder / "pages.csv").write_text(
        "".join(f"{s},/blog/{s}/,Post {s}\n" for s in sections), encoding="utf-8"
    )
    return folder / "pages.csv"


def matrix_source(synapse: SynapseServer, site: str, pages_file: Path) -> dict[str, object]:
    return {
        "type": "matrix",
        "homeserver": synapse.url,
        "server_name": synapse.server_name,
        "site": site,
        "pages_file": str(pages_file),
    }


def read_site(synapse: SynapseServer, site: str, pages_file: Path) -> dict[Page, list[Comment]]:
    """What the Matrix source reads of the site: the comments each target must hold."""
    source = MatrixCommentExtractor(
        homeserver=synapse.url, site=site, server_name=synapse.server_name, pages_file=pages_file
    )
    try:
        return {page: source.comments(page).comments for page in source.pages()}
    finally:
        source.close()
