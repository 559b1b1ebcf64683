"""Which pages a Cactus site has, and how its rooms are named.

A page (Cactus "section") of site `S` lives in the room `#{prefix}S_{section_id}:{server_name}`;
`#{prefix}S:{server_name}` is the site's moderation room and never a page. The pages come from
a pages file (`pages_file`: section_id[,uri[,title]] per line), from the Synapse admin room
list (`admin`: a server admin's token) or from the rooms the token's account joined
(`joined_rooms`: the Cactus appservice's token); the last two resolve no aliases.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrate.model import Page
from migrate.pages import templated_key
from migrate.systems.matrix.client import HomeserverClient, SourceUnavailable, quoted
from utils.http import HttpError

DISCOVERY_MODES = ("pages_file", "admin", "joined_rooms")
_SECTION_ID = re.compile(r"^[^_\s:]+$")


@dataclass(frozen=True)
class RoomNames:
    """How a Cactus site names its pages' rooms."""

    site: str
    prefix: str
    server_name: str
    uri_template: str

    def alias_for(self, section_id: str) -> str:
        return f"#{self.prefix}{self.site}_{section_id}:{self.server_name}"

    def page_for(
        self,
        section_id: str,
        uri: str | None = None,
        title: str | None = None,
        room_id: str | None = None,
    ) -> Page:
        return Page(
            id=section_id,
            key=uri or templated_key(self.uri_template, section_id),
            title=title or None,
            ref=room_id,
        )

    def section_of(self, alias: Any) -> str | None:
        """The section id a room alias names, or None when it is no page of this site."""
        pattern = (
            rf"^#{re.escape(self.prefix)}{re.escape(self.site)}_([^_\s:]+)"
            rf":{re.escape(self.server_name)}$"
        )
        match = re.match(pattern, alias) if isinstance(alias, str) else None
        return match.group(1) if match else None


def discover_pages(
    mode: str,
    client: HomeserverClient,
    names: RoomNames,
    pages_file: Path | None,
    page_size: int,
) -> Iterator[Page]:
    """The site's pages: in the file's order, or by section id when listed from the server."""
    if mode == "pages_file":
        assert pages_file is not None  # the extractor checks it
        yield from pages_from_file(pages_file, names)
    elif mode == "admin":
        yield from one_room_per_page(pages_from_admin(client, names, page_size), client, names)
    else:
        yield from one_room_per_page(pages_from_joined_rooms(client, names), client, names)


def one_room_per_page(
    pages: Iterable[Page], client: HomeserverClient, names: RoomNames
) -> list[Page]:
    """The listed pages by section id, one each: a room deleted from the directory and made
    again by Cactus can still carry the page's alias as its canonical alias, and then the
    room the alias names now is the page's (its earlier rooms are read through rooms.py when
    they were upgraded, and their comments stay in the target either way)."""
    by_section: dict[str, list[Page]] = {}
    for page in pages:
        by_section.setdefault(page.id, []).append(page)
    chosen = []
    for section, found in sorted(by_section.items()):
        if len(found) > 1:
            current = client.room_id(names.alias_for(section))
            found = [p for p in found if p.ref == current] or [
                dataclasses.replace(found[0], ref=current)
            ]
        chosen.append(found[0])
    return chosen


def pages_from_file(path: Path, names: RoomNames) -> Iterator[Page]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceUnavailable(f"cannot read pages file {path}: {exc}") from exc
    seen: set[str] = set()
    for line_no, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if line_no == 1 and cells[0].lower() == "section_id":
            continue  # header row
        section_id = cells[0]
        if not _SECTION_ID.match(section_id):
            raise SourceUnavailable(
                f"{path}:{line_no}: invalid section id {section_id!r} "
                "(Cactus section ids contain no '_', ':' or spaces)"
            )
        if section_id in seen:
            raise SourceUnavailable(f"{path}:{line_no}: section id {section_id!r} listed twice")
        if len(cells) > 3:
            raise SourceUnavailable(
                f"{path}:{line_no}: expected section_id[,uri[,title]], got {len(cells)} columns"
            )
        seen.add(section_id)
        uri = cells[1] if len(cells) > 1 else None
        title = cells[2] if len(cells) > 2 else None
        yield names.page_for(section_id, uri, title)


def pages_from_admin(client: HomeserverClient, names: RoomNames, page_size: int) -> Iterator[Page]:
    if client.guest:
        raise SourceUnavailable('discover = "admin" needs a server admin\'s access token')
    # the room list pages like /messages does: page_size rooms at a time (at most 500)
    params: dict[str, Any] = {
        "search_term": f"{names.prefix}{names.site}_",
        "limit": min(page_size, 500),
    }
    while True:
        try:
            data = client.get("/_synapse/admin/v1/rooms", params)
        except HttpError as exc:
            raise SourceUnavailable(
                f'discover = "admin": the Synapse admin API refused: {exc.message}'
            ) from exc
        for room in data.get("rooms") or []:
            section = names.section_of(room.get("canonical_alias"))
            if section is not None and isinstance(room.get("room_id"), str):
                yield names.page_for(section, room_id=room["room_id"])
        next_batch = data.get("next_batch")
        if next_batch is None:
            return
        params["from"] = next_batch


def pages_from_joined_rooms(client: HomeserverClient, names: RoomNames) -> Iterator[Page]:
    try:
        rooms = client.get("/_matrix/client/v3/joined_rooms").get("joined_rooms") or []
    except HttpError as exc:
        raise SourceUnavailable(f'discover = "joined_rooms": {exc.message}') from exc
    for room_id in rooms:
        try:
            state = client.get(
                f"/_matrix/client/v3/rooms/{quoted(room_id)}/state/m.room.canonical_alias"
            )
        except HttpError as exc:
            if exc.status in (403, 404):
                continue  # no canonical alias: not a Cactus room
            raise SourceUnavailable(f'discover = "joined_rooms": {exc.message}') from exc
        section = names.section_of(state.get("alias") if isinstance(state, dict) else None)
        if section is not None:
            yield names.page_for(section, room_id=room_id)
