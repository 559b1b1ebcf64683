"""The homeserver as the Matrix source uses it: one token, and the reads a page needs.

Without a token the client registers a guest (what the Cactus web client does) and registers
a new one when that guest's token expires; a token that was given and is refused makes the
source unusable (SourceUnavailable). A room is read with forward `/messages` pages under
MESSAGES_FILTER; a sync asks one small `/messages` from its cursor whether anything happened.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from migrate.abilities import PageError
from migrate.errors import SourceError
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000  # Synapse caps /messages at 1000 events
# What the normalizer reads: messages (comments and edits) and memberships (the display name
# in effect at each message). Redactions are not needed (a redacted event carries
# unsigned.redacted_because), nor reactions; encrypted events and stickers are asked for only
# to be reported as skipped. Lazy-loaded members put the senders' membership in each answer's
# `state`, which names the authors of a page read from a cursor (their join is older).
MESSAGES_FILTER = json.dumps(
    {
        "types": ["m.room.message", "m.room.member", "m.room.encrypted", "m.sticker"],
        "lazy_load_members": True,
    },
    separators=(",", ":"),
)
_MAX_EMPTY_BATCHES = 20  # filtered-out events only; beyond that, read the page again
# a redaction of an old comment is news for a sync, though a full read needs no redactions;
# so is a tombstone: the page moved on to a new room
_SINCE_FILTER = json.dumps(
    {
        "types": [
            *json.loads(MESSAGES_FILTER).get("types", []),
            "m.room.redaction",
            "m.room.tombstone",
        ]
    },
    separators=(",", ":"),
)


class SourceUnavailable(SourceError):
    """The homeserver cannot be used at all (unreachable, token refused, bad pages file)."""


def quoted(value: str) -> str:
    """A room id or alias as one path segment."""
    return urllib.parse.quote(value, safe="")


def page_error(label: str, exc: HttpError) -> PageError:
    """What a failed read of one room means for its page."""
    if exc.status == 404 or exc.errcode == "M_NOT_FOUND":
        return PageError(f"room {label} not found")
    if exc.status == 403 or exc.errcode == "M_FORBIDDEN":
        return PageError(f"room {label}: forbidden ({exc.message})")
    if exc.retryable:
        return PageError(f"room {label}: gave up after retries: {exc.message}", retryable=True)
    return PageError(f"room {label}: {exc.message}")


class HomeserverClient:
    """The client-server API with the source's token (or a guest's); safe across threads."""

    def __init__(
        self,
        homeserver: str,
        *,
        token: str | None,
        timeout: float,
        policy: RetryPolicy | None,
    ) -> None:
        self.homeserver = homeserver
        self.guest = token is None
        self.http = HttpClient(homeserver, token=token, timeout=timeout, policy=policy)
        # registration must not carry a (possibly expired) token: a second, anonymous client
        self._anon = HttpClient(homeserver, timeout=timeout, policy=policy)
        self._auth_lock = threading.Lock()
        self._checked = False

    def _register_guest(self) -> None:
        try:
            result = self._anon.post_json(
                "/_matrix/client/v3/register", {}, params={"kind": "guest"}
            )
        except HttpError as exc:
            raise SourceUnavailable(
                f"cannot register a guest on {self.homeserver}: {exc.message}"
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str):
            raise SourceUnavailable(f"guest registration on {self.homeserver} returned no token")
        self.http.token = token
        log.debug("registered a guest on %s", self.homeserver)

    def check(self) -> None:
        """Make sure the homeserver answers and the token (or a new guest's) is accepted."""
        with self._auth_lock:
            if self._checked:
                return
            try:
                if self.http.token is None:
                    self._register_guest()
                self.get("/_matrix/client/v3/account/whoami")
            except HttpError as exc:
                raise SourceUnavailable(f"homeserver {self.homeserver}: {exc.message}") from exc
            self._checked = True

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET with the source's token; an expired guest token is replaced once."""
        used = self.http.token
        try:
            return self.http.get_json(path, params=params)
        except HttpError as exc:
            if exc.errcode not in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise
            if not self.guest:
                raise SourceUnavailable(
                    f"homeserver {self.homeserver} refused the access token ({exc.errcode})"
                ) from exc
        with self._auth_lock:
            if self.http.token == used:  # another worker may have renewed it already
                log.info("guest token expired; registering a new guest")
                self._register_guest()
        try:
            return self.http.get_json(path, params=params)
        except HttpError as exc:
            if exc.errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise SourceUnavailable(
                    f"homeserver {self.homeserver} refused even a new guest's token ({exc.errcode})"
                ) from exc
            raise

    def room_id(self, alias: str) -> str:
        """The room an alias names (see the package docstring's side effect)."""
        try:
            data = self.get(f"/_matrix/client/v3/directory/room/{quoted(alias)}")
        except HttpError as exc:
            raise page_error(alias, exc) from exc
        room_id = data.get("room_id") if isinstance(data, dict) else None
        if not isinstance(room_id, str):
            raise PageError(f"room {alias}: the homeserver returned no room id")
        return room_id

    def room_state(self, room_id: str, event_type: str, label: str) -> dict[str, Any] | None:
        """The content of a room's state event (empty state key); None when the room has
        none, or this account may not read the room (gone, or not world_readable)."""
        path = f"/_matrix/client/v3/rooms/{quoted(room_id)}/state/{quoted(event_type)}/"
        try:
            data = self.get(path)
        except HttpError as exc:
            if exc.status in (403, 404) or exc.errcode in ("M_NOT_FOUND", "M_FORBIDDEN"):
                return None
            raise page_error(label, exc) from exc
        return data if isinstance(data, dict) else None

    def room_events(self, room_id: str, label: str, page_size: int) -> Iterator[Any]:
        """Every event of a room, oldest first (`/messages`, forward, until `end` is absent)."""
        path = f"/_matrix/client/v3/rooms/{quoted(room_id)}/messages"
        params: dict[str, Any] = {"dir": "f", "limit": page_size, "filter": MESSAGES_FILTER}
        while True:
            data, chunk = self._messages(path, params, label)
            # lazy-loaded members: the senders' membership at the chunk's start
            state = data.get("state")
            if isinstance(state, list):
                yield from (e for e in state if isinstance(e, Mapping))
            yield from chunk
            end = data.get("end")
            if not isinstance(end, str):
                return  # only a missing `end` means the end; an empty chunk does not
            if not chunk and end == params.get("from"):
                return  # no progress at all: the server would loop forever
            params["from"] = end

    def _messages(
        self, path: str, params: Mapping[str, Any], label: str
    ) -> tuple[dict[str, Any], list[Any]]:
        """One `/messages` answer and its chunk; a page error when either is unusable."""
        try:
            data = self.get(path, params)
        except HttpError as exc:
            raise page_error(label, exc) from exc
        chunk = data.get("chunk") if isinstance(data, dict) else None
        if not isinstance(chunk, list):
            raise PageError(f"room {label}: /messages answered without a chunk list")
        return data, chunk

    def quiet_since(self, room_id: str, label: str, cursor: str) -> str | None:
        """The cursor to keep when nothing happened in the room after `cursor` (one small
        forward `/messages`, the usual case); None when something did, or when too many
        empty batches leave it unknown."""
        path = f"/_matrix/client/v3/rooms/{quoted(room_id)}/messages"
        params: dict[str, Any] = {"dir": "f", "from": cursor, "limit": 1, "filter": _SINCE_FILTER}
        for _ in range(_MAX_EMPTY_BATCHES):
            data, chunk = self._messages(path, params, label)
            if chunk:
                return None
            end = data.get("end")
            if not isinstance(end, str) or end == params["from"]:
                return str(params["from"])  # nothing after the cursor
            params["from"] = end  # an empty batch (filtered events) is not the end
        return None

    def timeline_now(self, room_id: str, label: str) -> str:
        """A token for the room's present: backward `/messages` starts from it."""
        path = f"/_matrix/client/v3/rooms/{quoted(room_id)}/messages"
        try:
            data = self.get(path, {"dir": "b", "limit": 1, "filter": MESSAGES_FILTER})
        except HttpError as exc:
            raise page_error(label, exc) from exc
        start = data.get("start") if isinstance(data, dict) else None
        if not isinstance(start, str) or not start:
            raise PageError(f"room {label}: /messages answered without a start token")
        return start

    def close(self) -> None:
        self.http.close()
        self._anon.close()
