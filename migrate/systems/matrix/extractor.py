"""MatrixCommentExtractor: the Cactus Comments source, as migrate.abilities.Source describes one.

It ties the parts together: discovery.py lists the pages, client.py reads each page's room
from the homeserver, normalize.py turns the room's events into comments. Sync reads are cheap:
`comments_since` asks one small `/messages` whether anything happened after a cursor.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from migrate.abilities import PageError
from migrate.config import MediaConfig, RunConfig
from migrate.media import MediaMirror, MediaUnavailable
from migrate.model import Page, PageComments
from migrate.plugins import retry_policy
from migrate.systems.matrix.client import MAX_PAGE_SIZE, HomeserverClient
from migrate.systems.matrix.discovery import DISCOVERY_MODES, RoomNames, discover_pages
from migrate.systems.matrix.normalize import normalize_room
from migrate.systems.matrix.preflight import MatrixPreflight
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
        uri_template: str = "/{section_id}/",
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

    def room_events(self, room_id: str, label: str) -> Iterator[Any]:
        """Every event of a room, oldest first."""
        return self.client.room_events(room_id, label, self.page_size)

    def comments(self, page: Page) -> PageComments:
        self.check()
        room_id = self.resolve(page)
        alias = self._alias(page)
        page = dataclasses.replace(page, ref=room_id)
        label = alias
        if self.mirror is not None:
            self.mirror.use_token(self.client.http.token)  # a guest's token may have been renewed
        try:
            result = normalize_room(
                self.room_events(room_id, label), page, self.homeserver, self.mirror
            )
        except MediaUnavailable as exc:
            raise PageError(f"room {label}: media: {exc.message}", retryable=True) from exc
        log.debug(
            "%s: %d comments, %d skipped, %d orphans",
            label,
            len(result.comments),
            len(result.skipped),
            len(result.orphans),
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

    def comments_with_cursor(self, page: Page) -> tuple[PageComments, str]:
        """The page's comments and a cursor taken *before* the read: an event that arrives
        during the read is then seen again by the next sync (harmless), never missed."""
        self.check()
        room_id = self.resolve(page)
        cursor = self.client.timeline_now(room_id, self._alias(page))
        return self.comments(dataclasses.replace(page, ref=room_id)), cursor

    def comments_since(self, page: Page, cursor: str) -> tuple[PageComments | None, str]:
        """One small forward `/messages` from `cursor`: None when nothing happened after it
        (the usual case, one request), else the whole page read again and a new cursor."""
        self.check()
        room_id = self.resolve(page)
        kept = self.client.quiet_since(room_id, self._alias(page), cursor)
        if kept is not None:
            return None, kept
        return self.comments_with_cursor(dataclasses.replace(page, ref=room_id))
