"""MatrixCommentExtractor: the Cactus Comments source, as migrate.abilities.Source describes one.

It ties the parts together: discovery.py lists the pages, rooms.py finds each page's rooms
(upgrades are one page), client.py reads them from the homeserver, normalize.py turns the
events into comments. Sync reads are cheap: `comments_since` asks one small `/messages`
whether anything happened after a cursor, in the room the cursor was taken in.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migrate.abilities import PageError
from migrate.config import MediaConfig, RunConfig
from migrate.media import MediaMirror, MediaUnavailable
from migrate.model import Cursor, Page, PageComments
from migrate.plugins import retry_policy
from migrate.systems.matrix.client import MAX_PAGE_SIZE, HomeserverClient
from migrate.systems.matrix.discovery import DISCOVERY_MODES, RoomNames, discover_pages
from migrate.systems.matrix.normalize import normalize_room
from migrate.systems.matrix.preflight import MatrixPreflight
from migrate.systems.matrix.rooms import newest_room, room_chain
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)


class MatrixCommentExtractor:
    """Reads a Cactus site's comment rooms through the client-server API."""

    system = "matrix"

    def __init__(
        self,
        *,
        homeserver: str,
        site: str,
        server_name: str | None = None,
        prefix: str = "comments_",
        token: str | None = None,
        token_env: str | None = None,  # the variable the token came from, for messages
        discover: str = "pages_file",
        pages_file: Path | None = None,
        uri_template: str = "/{page_id}/",
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        page_size: int = MAX_PAGE_SIZE,
        mirror: MediaMirror | None = None,
    ) -> None:
        if discover not in DISCOVERY_MODES:
            modes = ", ".join(DISCOVERY_MODES)
            raise ValueError(f"discover must be one of {modes}, not {discover!r}")
        if discover == "pages_file" and pages_file is None:
            raise ValueError('discover = "pages_file" needs a pages_file')
        if not site or "_" in site:
            raise ValueError(f"invalid Cactus site name {site!r} (must be non-empty, without '_')")
        self.homeserver = homeserver.rstrip("/")
        self.site = site
        self.server_name = server_name or (urllib.parse.urlsplit(self.homeserver).hostname or "")
        self.prefix = prefix
        self.discover = discover
        self.pages_file = Path(pages_file) if pages_file is not None else None
        self.uri_template = uri_template
        self.page_size = max(1, min(MAX_PAGE_SIZE, page_size))
        self.mirror = mirror  # [media]: copies of images, files and avatars
        self.token_env = token_env
        self.names = RoomNames(site, prefix, self.server_name, uri_template)
        self.client = HomeserverClient(self.homeserver, token=token, timeout=timeout, policy=policy)

    def __repr__(self) -> str:
        return f"MatrixCommentExtractor({self.homeserver!r}, site={self.site!r})"

    def identity(self) -> dict[str, str]:
        return {
            "homeserver": self.homeserver,
            "server_name": self.server_name,
            "site": self.site,
            "prefix": self.prefix,
        }

    def alias_for(self, section_id: str) -> str:
        return self.names.alias_for(section_id)

    def _alias(self, page: Page) -> str:
        """The room alias of a page, by the site's naming rule."""
        return self.alias_for(page.id)

    def page_for(
        self,
        section_id: str,
        uri: str | None = None,
        title: str | None = None,
        room_id: str | None = None,
    ) -> Page:
        return self.names.page_for(section_id, uri, title, room_id)

    def check(self) -> None:
        """Make sure the homeserver answers and the token (or a new guest's) is accepted."""
        self.client.check()

    def preflight(self, timeout: float) -> MatrixPreflight:
        """What `comment-migrate check` asks of this source (see preflight.py)."""
        return MatrixPreflight(self, timeout)

    def pages(self) -> Iterator[Page]:
        self.check()
        yield from discover_pages(
            self.discover, self.client, self.names, self.pages_file, self.page_size
        )

    def resolve(self, page: Page) -> str:
        """The room id of a page (alias lookup; see the package docstring's side effect)."""
        if page.ref:
            return page.ref
        return self.client.room_id(self._alias(page))

    def rooms(self, page: Page) -> list[str]:
        """The page's rooms, oldest first: the one it names now, followed to the room it
        was last upgraded to, and every readable room that one replaced (rooms.py)."""
        label = self._alias(page)
        return room_chain(self.client, newest_room(self.client, self.resolve(page), label), label)

    def room_events(self, room_id: str, label: str) -> Iterator[Any]:
        """Every event of a room, oldest first."""
        return self.client.room_events(room_id, label, self.page_size)

    def comments(self, page: Page) -> PageComments:
        self.check()
        return self._read(page, self.rooms(page))

    def _read(self, page: Page, rooms: list[str]) -> PageComments:
        """The comments of the page's rooms (oldest first) as one page; its ref is the newest."""
        label = self._alias(page)
        page = dataclasses.replace(page, ref=rooms[-1])
        if self.mirror is not None:
            self.mirror.use_token(self.client.http.token)  # a guest's token may have been renewed
        events = itertools.chain.from_iterable(self.room_events(room, label) for room in rooms)
        try:
            result = normalize_room(events, page, self.homeserver, self.mirror)
        except MediaUnavailable as exc:
            raise PageError(f"room {label}: media: {exc.message}", retryable=True) from exc
        log.debug(
            "%s: %d comments, %d skipped, %d orphans (%d rooms)",
            label,
            len(result.comments),
            len(result.skipped),
            len(result.orphans),
            len(rooms),
        )
        return result

    def attach_media(self, media: MediaConfig, run: RunConfig) -> None:
        """[media]: copy the images, files and avatars comments link (an optional source
        ability, asked for by name of the method, never of the source)."""
        self.mirror = MediaMirror(
            media.dir,
            media.base_url,
            homeserver=self.homeserver,
            max_bytes=media.max_bytes,
            timeout=run.timeout,
            policy=retry_policy(run),
        )

    def close(self) -> None:
        self.client.close()
        if self.mirror is not None:
            self.mirror.close()

    # sync: cheap re-reads (migrate.abilities.IncrementalSource)

    def comments_with_cursor(self, page: Page) -> tuple[PageComments, Cursor]:
        """The page's comments and a cursor taken *before* the read, in the newest room: an
        event that arrives during the read is then seen again by the next sync (harmless),
        never missed."""
        self.check()
        rooms = self.rooms(page)
        token = self.client.timeline_now(rooms[-1], self._alias(page))
        return self._read(page, rooms), Cursor(token, rooms[-1])

    def comments_since(self, page: Page, cursor: Cursor) -> tuple[PageComments | None, Cursor]:
        """One small forward `/messages` from `cursor`: None when nothing happened after it
        (the usual case, one request), else the whole page read again and a new cursor.
        A cursor taken in another room than the page's newest is never applied there:
        Matrix tokens are positions of the whole server, and another room's events after
        it are not this room's news (a replaced room, or a cursor of an older version)."""
        self.check()
        label = self._alias(page)
        room = self.resolve(page)
        if cursor.ref is not None and room != cursor.ref:
            room = newest_room(self.client, room, label)  # an alias left on the old room
        if room != cursor.ref:
            log.info("%s: now in room %s; reading the page whole", label, room)
            return self.comments_with_cursor(page)
        kept = self.client.quiet_since(room, label, cursor.token)
        if kept is not None:
            return None, Cursor(kept, room)
        return self.comments_with_cursor(page)
