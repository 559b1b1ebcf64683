"""The Cactus Comments source: each page's comments are the messages of one Matrix room.

A page (Cactus "section") of site `S` lives in the room `#{prefix}S_{section_id}:{server_name}`;
`#{prefix}S:{server_name}` is the site's moderation room and never a page. Comment rooms are
world_readable, so a guest account (what the Cactus web client uses) can read them all.

Side effect of resolving aliases: when a room alias does not exist, the homeserver asks the
Cactus appservice, which creates an empty room for it. Reading a page that nobody ever
commented on through `discover = "pages_file"` therefore leaves an empty comment room behind
on the homeserver, exactly as opening that page in a browser would. With a server admin's token
(`discover = "admin"`) or the Cactus appservice token (`discover = "joined_rooms"`) the tool
lists the rooms that exist instead, and resolves no aliases.

The parts, in the order a comment passes them: discovery.py (which pages, room names),
client.py (the homeserver: token or guest, `/messages` paging, sync cursors), events.py and
normalize.py (events -> comments), extractor.py (MatrixCommentExtractor ties them), plugin.py
(PLUGIN, the configuration entry point); preflight.py is the preflight.
"""

from __future__ import annotations

from migrate.systems.matrix.client import MAX_PAGE_SIZE, MESSAGES_FILTER, SourceUnavailable
from migrate.systems.matrix.discovery import DISCOVERY_MODES
from migrate.systems.matrix.extractor import MatrixCommentExtractor
from migrate.systems.matrix.normalize import normalize_room
from migrate.systems.matrix.plugin import PLUGIN as SOURCE

__all__ = [
    "DISCOVERY_MODES",
    "MAX_PAGE_SIZE",
    "MESSAGES_FILTER",
    "SOURCE",
    "MatrixCommentExtractor",
    "SourceUnavailable",
    "normalize_room",
]
