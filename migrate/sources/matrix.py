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

Normalization (`normalize_room`, pure: tests feed it raw event dicts):
- a message whose content is malformed (content, body or msgtype missing or of the wrong type,
  m.relates_to not an object, unknown msgtype, media without an mxc:// URL) is skipped, and so
  is any other non-state event type (reactions, stickers, encrypted events), each with a reason;
- a reply whose parent cannot be used (unknown event, itself, a later event, a thread without
  a root) becomes a top-level comment and is listed in `orphans`;
- edits (`m.replace`) are not comments: the newest valid one by the original sender replaces
  the text and sets `edited_at`; an edit of an edit, of a redacted or unknown event, or by
  another sender is skipped with a reason;
- a redacted comment is dropped (skipped: "redacted") unless it has replies, in which case it
  stays as a tombstone (`deleted=True`, text "[deleted]") so the thread keeps its shape;
- the author's name is the display name of the sender's m.room.member state in effect at the
  message (timeline order), falling back to the localpart;
- text is repaired to valid Unicode (lone surrogates become U+FFFD); HTML comes only from
  `org.matrix.custom.html` and is sanitized by nh3.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.config import DEFAULT_URI, MediaConfig, RunConfig, SectionConfig
from migrate.content import (
    HTML_FORMAT,
    autolink_markdown,
    clean_text,
    emote_html,
    emote_markdown,
    has_html_reply_fallback,
    has_reply_fallback,
    media_html,
    media_markdown,
    mxc_to_http,
    plain_to_html,
    plain_to_markdown,
    sanitize_html,
    strip_html_reply_fallback,
    strip_reply_fallback,
)
from migrate.errors import SourceError
from migrate.media import MediaMirror, MediaUnavailable
from migrate.model import (
    DELETED_TEXT,
    Author,
    Comment,
    Page,
    PageComments,
    PageError,
    SkippedEvent,
)
from migrate.plugins import SourcePlugin, retry_policy
from migrate.sources.matrix_check import MatrixPreflight
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger("comment_migrate.source.matrix")

DISCOVERY_MODES = ("pages_file", "admin", "joined_rooms")
TEXT_MSGTYPES = frozenset({"m.text", "m.notice", "m.emote"})
MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.audio", "m.video"})
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
_SECTION_ID = re.compile(r"^[^_\s:]+$")


class SourceUnavailable(SourceError):
    """The homeserver cannot be used at all (unreachable, token refused, bad pages file)."""


# -- normalization ---------------------------------------------------------------------------


@dataclasses.dataclass
class _Message:
    event_id: str
    position: int  # timeline order: a reply can only point to an earlier event
    sender: str
    ts: int
    name: str | None  # display name in effect when it was sent
    avatar: str | None
    content: dict[str, Any]
    redacted: bool = False
    parent_ref: str | None = None
    relation_problem: str | None = None
    is_reply: bool = False  # has m.in_reply_to (in any shape): may carry a quoted fallback
    edit: tuple[int, str, dict[str, Any]] | None = None  # (ts, edit id, m.new_content)


def _localpart(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0] if user_id.startswith("@") else user_id


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1000, tz=UTC)


def _content_problem(content: Mapping[str, Any]) -> str | None:
    """Why this content cannot be shown as a comment, or None."""
    msgtype = content.get("msgtype")
    if not isinstance(msgtype, str):
        return "msgtype missing or not a string"
    if not isinstance(content.get("body"), str):
        return "body missing or not a string"
    if msgtype in MEDIA_MSGTYPES:
        url = content.get("url")
        if not isinstance(url, str) or not url.startswith("mxc://"):
            return f"{msgtype} without an mxc:// url"
        return None
    if msgtype not in TEXT_MSGTYPES:
        return f"unsupported msgtype {msgtype[:100]!r}"
    return None


def _relation(relates_to: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """(parent event id, problem, is a reply) of a message's relation.

    Every shape the spec allows: a rich reply (m.in_reply_to); a thread event (m.thread)
    falling back (its m.in_reply_to only points older clients at the thread's latest event:
    it hangs under the root) or a real reply inside the thread (is_falling_back false: it
    hangs under the event it answers). Any m.in_reply_to may come with a quoted fallback."""
    in_reply_to = relates_to.get("m.in_reply_to")
    reply_id = in_reply_to.get("event_id") if isinstance(in_reply_to, Mapping) else None
    reply_id = reply_id if isinstance(reply_id, str) and reply_id else None
    if relates_to.get("rel_type") == "m.thread":
        root = relates_to.get("event_id")
        falling_back = relates_to.get("is_falling_back") is True
        if reply_id is not None and not falling_back:
            return reply_id, None, True  # a real reply inside the thread
        if isinstance(root, str) and root:
            return root, None, reply_id is not None
        return None, "thread relation without a root event", reply_id is not None
    if in_reply_to is not None and reply_id is None:
        return None, "m.in_reply_to without an event id", False
    return reply_id, None, reply_id is not None


class _RoomNormalizer:
    def __init__(self, page: Page, homeserver: str, mirror: MediaMirror | None = None) -> None:
        self.page = page
        self.homeserver = homeserver
        self.mirror = mirror
        self.homeserver_media = 0  # comments that link media on the homeserver
        self._links_homeserver = False  # the comment being rendered does
        self.messages: dict[str, _Message] = {}
        self.edits: list[tuple[int, Mapping[str, Any]]] = []
        self.edit_ids: set[str] = set()
        self.skipped: list[SkippedEvent] = []
        self.skipped_ids: set[str] = set()
        self.members: dict[str, tuple[str | None, str | None]] = {}

    def skip(self, event_id: str, reason: str) -> None:
        self.skipped.append(SkippedEvent(event_id=event_id, page_id=self.page.id, reason=reason))
        self.skipped_ids.add(event_id)

    def read(self, position: int, event: Any) -> None:
        if not isinstance(event, Mapping):
            self.skip(f"<position {position}>", "event is not an object")
            return
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            self.skip(f"<position {position}>", "event without an event_id")
            return
        event_type = event.get("type")
        content = event.get("content")
        if isinstance(event.get("state_key"), str):
            if event_type == "m.room.member" and isinstance(content, Mapping):
                self._member(event["state_key"], content)
            return  # other state is room bookkeeping, not a comment
        if event_type == "m.room.redaction":
            return
        if event_type != "m.room.message":
            self.skip(event_id, f"unsupported event type {str(event_type)[:100]!r}")
            return
        if event_id in self.messages or event_id in self.edit_ids:
            self.skip(event_id, "duplicate event id")
            return
        sender, ts = event.get("sender"), event.get("origin_server_ts")
        if not isinstance(sender, str) or not sender:
            self.skip(event_id, "sender missing or not a string")
            return
        if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
            self.skip(event_id, "origin_server_ts missing or not an integer")
            return
        unsigned = event.get("unsigned")
        redacted = isinstance(unsigned, Mapping) and "redacted_because" in unsigned
        name, avatar = self.members.get(sender, (None, None))
        message = _Message(event_id, position, sender, ts, name, avatar, {}, redacted=redacted)
        if redacted:
            # kept for now: it may need a tombstone; some servers keep m.relates_to (MSC3389)
            relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
            if isinstance(relates, Mapping) and relates.get("rel_type") != "m.replace":
                message.parent_ref, _, _ = _relation(relates)
            self.messages[event_id] = message
            return
        if not isinstance(content, Mapping):
            self.skip(event_id, "content is not an object")
            return
        relates_to = content.get("m.relates_to")
        if relates_to is not None and not isinstance(relates_to, Mapping):
            self.skip(event_id, "m.relates_to is not an object")
            return
        if relates_to is not None and relates_to.get("rel_type") == "m.replace":
            self.edit_ids.add(event_id)
            self.edits.append((position, event))
            return
        problem = _content_problem(content)
        if problem is not None:
            self.skip(event_id, problem)
            return
        message.content = dict(content)
        if relates_to is not None:
            message.parent_ref, message.relation_problem, message.is_reply = _relation(relates_to)
        self.messages[event_id] = message

    def _member(self, user_id: str, content: Mapping[str, Any]) -> None:
        if content.get("membership") not in ("join", "invite"):
            return  # a leave or ban carries no new profile; keep the last known one
        # a join carries the whole profile: a missing displayname means "none"
        name = content.get("displayname")
        avatar = content.get("avatar_url")
        self.members[user_id] = (
            name if isinstance(name, str) and name.strip() else None,
            avatar if isinstance(avatar, str) else None,
        )

    def apply_edits(self) -> None:
        for _position, event in self.edits:
            edit_id = event["event_id"]
            relates_to = event["content"]["m.relates_to"]
            target_id = relates_to.get("event_id")
            new_content = event["content"].get("m.new_content")
            ts = event["origin_server_ts"]
            target = self.messages.get(target_id) if isinstance(target_id, str) else None
            if not isinstance(target_id, str) or not target_id:
                self.skip(edit_id, "edit without a target event id")
            elif target_id in self.edit_ids:
                self.skip(edit_id, "edit of an edit")
            elif target is None:
                self.skip(edit_id, f"edit of an unknown event {target_id[:100]}")
            elif target.redacted:
                self.skip(edit_id, "edit of a redacted comment")
            elif event["sender"] != target.sender:
                self.skip(edit_id, f"edit by {event['sender'][:100]}, not by the author")
            elif not isinstance(new_content, Mapping):
                self.skip(edit_id, "edit without an m.new_content object")
            elif (problem := _content_problem(self._merged(target, new_content))) is not None:
                self.skip(edit_id, f"edit with unusable m.new_content: {problem}")
            elif target.edit is None or (ts, edit_id) > target.edit[:2]:
                target.edit = (ts, edit_id, dict(new_content))

    @staticmethod
    def _merged(target: _Message, new_content: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(new_content)
        if target.content.get("msgtype") in MEDIA_MSGTYPES and "url" not in merged:
            merged["url"] = target.content.get("url")  # a caption edit keeps the media
        return merged

    def media_url(self, mxc: str) -> str | None:
        """The URL readers get for an mxc:// URI: the mirror's copy, else the homeserver's."""
        if self.mirror is not None:
            copied = self.mirror.url_for(mxc)
            if copied is not None:
                return copied
        url = mxc_to_http(mxc, self.homeserver)
        if url is not None:
            self._links_homeserver = True
        return url

    def render(self, message: _Message) -> tuple[str, str]:
        """(Markdown text, sanitized HTML) of a message, with its newest edit applied and
        the quoted parent of a reply left out."""
        name = clean_text(message.name or _localpart(message.sender))
        content = message.content
        if message.edit is not None:
            content = self._merged(message, message.edit[2])
        msgtype = content["msgtype"]
        body = clean_text(content["body"])
        formatted = content.get("formatted_body")
        if content.get("format") != HTML_FORMAT or not isinstance(formatted, str):
            formatted = None
        quoted_html = formatted is not None and has_html_reply_fallback(formatted)
        # a body's leading quote is a fallback only on a reply (or beside an <mx-reply>):
        # elsewhere it is the visitor's own quote
        if (message.is_reply or quoted_html) and has_reply_fallback(body):
            body = strip_reply_fallback(body)
        if msgtype in MEDIA_MSGTYPES:
            url = self.media_url(content["url"]) or ""
            return media_markdown(msgtype, url, body), media_html(msgtype, url, body)
        html = None
        if formatted is not None:
            html = sanitize_html(strip_html_reply_fallback(formatted), self.media_url)
        # the body is the Markdown the visitor typed when the client rendered it to HTML
        # (Cactus, Element); without HTML it is plain text and must show as such
        text = autolink_markdown(body) if html is not None else plain_to_markdown(body)
        if html is None:
            html = plain_to_html(body)
        if msgtype == "m.emote":
            return emote_markdown(name, text), emote_html(name, html)
        return text, html

    def avatar_url(self, mxc: str | None) -> str | None:
        return self.media_url(mxc) if mxc else None

    def resolve_parents(self) -> tuple[dict[str, str | None], list[str]]:
        parents: dict[str, str | None] = {}
        orphans: list[str] = []
        for message in self.messages.values():
            ref = message.parent_ref
            parent = self.messages.get(ref) if ref is not None else None
            if parent is not None and parent.position < message.position:
                parents[message.event_id] = ref
                continue
            parents[message.event_id] = None
            # self-replies, cycles and replies to later events all land here
            if (ref is not None or message.relation_problem) and not message.redacted:
                orphans.append(message.event_id)
        return parents, orphans

    def result(self) -> PageComments:
        self.apply_edits()
        parents, orphans = self.resolve_parents()
        tombstones: set[str] = set()
        for message in self.messages.values():
            if message.redacted:
                continue
            ancestor = parents[message.event_id]
            while ancestor is not None and self.messages[ancestor].redacted:
                if ancestor in tombstones:
                    break
                tombstones.add(ancestor)
                ancestor = parents[ancestor]
        comments: list[Comment] = []
        for message in self.messages.values():
            self._links_homeserver = False
            author = Author(
                name=clean_text(message.name or _localpart(message.sender)),
                source_id=clean_text(message.sender),
                avatar_url=self.avatar_url(message.avatar),
            )
            parent_id = parents[message.event_id]
            created_at = _utc(message.ts)
            if message.redacted:
                if message.event_id in tombstones:
                    comments.append(
                        Comment(
                            id=message.event_id,
                            page_id=self.page.id,
                            parent_id=parent_id,
                            author=author,
                            text=DELETED_TEXT,
                            html=plain_to_html(DELETED_TEXT),
                            created_at=created_at,
                            deleted=True,
                        )
                    )
                    self.homeserver_media += self._links_homeserver
                else:
                    self.skip(message.event_id, "redacted")
                continue
            text, html = self.render(message)
            self.homeserver_media += self._links_homeserver
            comments.append(
                Comment(
                    id=message.event_id,
                    page_id=self.page.id,
                    parent_id=parent_id,
                    author=author,
                    text=text,
                    html=html,
                    created_at=created_at,
                    edited_at=_utc(message.edit[0]) if message.edit else None,
                )
            )
        positions = {m.event_id: m.position for m in self.messages.values()}
        return PageComments(
            page=self.page,
            comments=_parents_first(comments, positions),
            skipped=self.skipped,
            orphans=orphans,
            homeserver_media=self.homeserver_media,
        )


def _parents_first(comments: list[Comment], position: Mapping[str, int]) -> list[Comment]:
    """Oldest first by timestamp, but never a reply before its parent (backdated events and
    clock skew can make a reply look older than what it answers)."""
    ordered = sorted(comments, key=lambda c: (c.created_at, position[c.id]))
    emitted: set[str] = set()
    waiting: dict[str, list[Comment]] = {}
    out: list[Comment] = []

    def emit(comment: Comment) -> None:
        stack = [comment]
        while stack:
            current = stack.pop()
            out.append(current)
            emitted.add(current.id)
            stack.extend(reversed(waiting.pop(current.id, [])))

    for comment in ordered:
        if comment.parent_id is None or comment.parent_id in emitted:
            emit(comment)
        else:
            waiting.setdefault(comment.parent_id, []).append(comment)
    return out


def normalize_room(
    events: Iterable[Any], page: Page, homeserver: str, mirror: MediaMirror | None = None
) -> PageComments:
    """Comments of one room from its events in timeline order (oldest first).

    With a mirror, media (images, files, avatars) link its copies; without one, or for a
    file it cannot copy, they link the homeserver and `homeserver_media` counts them."""
    normalizer = _RoomNormalizer(page, homeserver, mirror)
    for position, event in enumerate(events):
        normalizer.read(position, event)
    return normalizer.result()


# -- the source ------------------------------------------------------------------------------


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


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
        self._guest = token is None
        self.token_env = token_env
        self._client = HttpClient(self.homeserver, token=token, timeout=timeout, policy=policy)
        # registration must not carry a (possibly expired) token: a second, anonymous client
        self._anon = HttpClient(self.homeserver, timeout=timeout, policy=policy)
        self._auth_lock = threading.Lock()
        self._checked = False
        self._alias_re = re.compile(
            rf"^#{re.escape(prefix)}{re.escape(site)}_([^_\s:]+):{re.escape(self.server_name)}$"
        )

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
            uri=uri or self.uri_template.format(section_id=section_id),
            title=title or None,
            room_id=room_id,
            alias=self.alias_for(section_id),
        )

    # -- auth ------------------------------------------------------------------------------

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
        self._client.token = token
        log.debug("registered a guest on %s", self.homeserver)

    def check(self) -> None:
        """Make sure the homeserver answers and the token (or a new guest's) is accepted."""
        with self._auth_lock:
            if self._checked:
                return
            try:
                if self._client.token is None:
                    self._register_guest()
                self._get("/_matrix/client/v3/account/whoami")
            except HttpError as exc:
                raise SourceUnavailable(f"homeserver {self.homeserver}: {exc.message}") from exc
            self._checked = True

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET with the source's token; an expired guest token is replaced once."""
        used = self._client.token
        try:
            return self._client.get_json(path, params=params)
        except HttpError as exc:
            if exc.errcode not in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise
            if not self._guest:
                raise SourceUnavailable(
                    f"homeserver {self.homeserver} refused the access token ({exc.errcode})"
                ) from exc
        with self._auth_lock:
            if self._client.token == used:  # another worker may have renewed it already
                log.info("guest token expired; registering a new guest")
                self._register_guest()
        try:
            return self._client.get_json(path, params=params)
        except HttpError as exc:
            if exc.errcode in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise SourceUnavailable(
                    f"homeserver {self.homeserver} refused even a new guest's token ({exc.errcode})"
                ) from exc
            raise

    def preflight(self, timeout: float) -> MatrixPreflight:
        """What `comment-migrate check` asks of this source (migrate/sources/matrix_check.py)."""
        return MatrixPreflight(self, timeout)

    # -- discovery -------------------------------------------------------------------------

    def pages(self) -> Iterator[Page]:
        self.check()
        if self.discover == "pages_file":
            yield from self._pages_from_file()
        elif self.discover == "admin":
            yield from sorted(self._pages_from_admin(), key=lambda p: p.id)
        else:
            yield from sorted(self._pages_from_joined_rooms(), key=lambda p: p.id)

    def _pages_from_file(self) -> Iterator[Page]:
        path = self.pages_file
        assert path is not None  # checked in __init__
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
            yield self.page_for(section_id, uri, title)

    def _section_of(self, alias: Any) -> str | None:
        match = self._alias_re.match(alias) if isinstance(alias, str) else None
        return match.group(1) if match else None

    def _pages_from_admin(self) -> Iterator[Page]:
        if self._guest:
            raise SourceUnavailable('discover = "admin" needs a server admin\'s access token')
        # the room list pages like /messages does: page_size rooms at a time (at most 500)
        params: dict[str, Any] = {
            "search_term": f"{self.prefix}{self.site}_",
            "limit": min(self.page_size, 500),
        }
        while True:
            try:
                data = self._get("/_synapse/admin/v1/rooms", params)
            except HttpError as exc:
                raise SourceUnavailable(
                    f'discover = "admin": the Synapse admin API refused: {exc.message}'
                ) from exc
            for room in data.get("rooms") or []:
                section = self._section_of(room.get("canonical_alias"))
                if section is not None and isinstance(room.get("room_id"), str):
                    yield self.page_for(section, room_id=room["room_id"])
            next_batch = data.get("next_batch")
            if next_batch is None:
                return
            params["from"] = next_batch

    def _pages_from_joined_rooms(self) -> Iterator[Page]:
        try:
            rooms = self._get("/_matrix/client/v3/joined_rooms").get("joined_rooms") or []
        except HttpError as exc:
            raise SourceUnavailable(f'discover = "joined_rooms": {exc.message}') from exc
        for room_id in rooms:
            try:
                state = self._get(
                    f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.canonical_alias"
                )
            except HttpError as exc:
                if exc.status in (403, 404):
                    continue  # no canonical alias: not a Cactus room
                raise SourceUnavailable(f'discover = "joined_rooms": {exc.message}') from exc
            section = self._section_of(state.get("alias") if isinstance(state, dict) else None)
            if section is not None:
                yield self.page_for(section, room_id=room_id)

    # -- comments --------------------------------------------------------------------------

    def _page_error(self, label: str, exc: HttpError) -> PageError:
        if exc.status == 404 or exc.errcode == "M_NOT_FOUND":
            return PageError(f"room {label} not found")
        if exc.status == 403 or exc.errcode == "M_FORBIDDEN":
            return PageError(f"room {label}: forbidden ({exc.message})")
        if exc.retryable:
            return PageError(f"room {label}: gave up after retries: {exc.message}", retryable=True)
        return PageError(f"room {label}: {exc.message}")

    def resolve(self, page: Page) -> str:
        """The room id of a page (alias lookup; see the module docstring's side effect)."""
        if page.room_id:
            return page.room_id
        alias = page.alias or self.alias_for(page.id)
        try:
            data = self._get(f"/_matrix/client/v3/directory/room/{_q(alias)}")
        except HttpError as exc:
            raise self._page_error(alias, exc) from exc
        room_id = data.get("room_id") if isinstance(data, dict) else None
        if not isinstance(room_id, str):
            raise PageError(f"room {alias}: the homeserver returned no room id")
        return room_id

    def room_events(self, room_id: str, label: str) -> Iterator[Any]:
        """Every event of a room, oldest first (`/messages`, forward, until `end` is absent)."""
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/messages"
        params: dict[str, Any] = {"dir": "f", "limit": self.page_size, "filter": MESSAGES_FILTER}
        while True:
            try:
                data = self._get(path, params)
            except HttpError as exc:
                raise self._page_error(label, exc) from exc
            chunk = data.get("chunk") if isinstance(data, dict) else None
            if not isinstance(chunk, list):
                raise PageError(f"room {label}: /messages answered without a chunk list")
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

    def comments(self, page: Page) -> PageComments:
        self.check()
        room_id = self.resolve(page)
        alias = page.alias or self.alias_for(page.id)
        page = dataclasses.replace(page, room_id=room_id, alias=alias)
        label = page.alias or room_id
        if self.mirror is not None:
            self.mirror.use_token(self._client.token)  # a guest's token may have been renewed
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
            media.dir, media.base_url, homeserver=self.homeserver,
            max_bytes=media.max_bytes, timeout=run.timeout, policy=retry_policy(run),
        )

    def close(self) -> None:
        self._client.close()
        self._anon.close()
        if self.mirror is not None:
            self.mirror.close()


    # -- sync: cheap re-reads (migrate.model.IncrementalSource) ---------------------------

    def comments_with_cursor(self, page: Page) -> tuple[PageComments, str]:
        """The page's comments and a cursor taken *before* the read: an event that arrives
        during the read is then seen again by the next sync (harmless), never missed."""
        self.check()
        room_id = self.resolve(page)
        cursor = self._timeline_now(room_id, page.alias or self.alias_for(page.id))
        return self.comments(dataclasses.replace(page, room_id=room_id)), cursor

    def comments_since(self, page: Page, cursor: str) -> tuple[PageComments | None, str]:
        """One small forward `/messages` from `cursor`: None when nothing happened after it
        (the usual case, one request), else the whole page read again and a new cursor."""
        self.check()
        room_id = self.resolve(page)
        label = page.alias or self.alias_for(page.id)
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/messages"
        params: dict[str, Any] = {"dir": "f", "from": cursor, "limit": 1,
                                  "filter": _SINCE_FILTER}
        for _ in range(_MAX_EMPTY_BATCHES):
            try:
                data = self._get(path, params)
            except HttpError as exc:
                raise self._page_error(label, exc) from exc
            chunk = data.get("chunk") if isinstance(data, dict) else None
            if not isinstance(chunk, list):
                raise PageError(f"room {label}: /messages answered without a chunk list")
            if chunk:
                break
            end = data.get("end")
            if not isinstance(end, str) or end == params["from"]:
                return None, str(params["from"])  # nothing after the cursor
            params["from"] = end  # an empty batch (filtered events) is not the end
        return self.comments_with_cursor(dataclasses.replace(page, room_id=room_id))

    def _timeline_now(self, room_id: str, label: str) -> str:
        """A token for the room's present: backward `/messages` starts from it."""
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/messages"
        try:
            data = self._get(path, {"dir": "b", "limit": 1, "filter": MESSAGES_FILTER})
        except HttpError as exc:
            raise self._page_error(label, exc) from exc
        start = data.get("start") if isinstance(data, dict) else None
        if not isinstance(start, str) or not start:
            raise PageError(f"room {label}: /messages answered without a start token")
        return start


_MAX_EMPTY_BATCHES = 20  # filtered-out events only; beyond that, read the page again
# a redaction of an old comment is news for a sync, though a full read needs no redactions
_SINCE_FILTER = json.dumps(
    {"types": [*json.loads(MESSAGES_FILTER).get("types", []), "m.room.redaction"]},
    separators=(",", ":"),
)


def _server_name(section: SectionConfig) -> str:
    homeserver = section.text("homeserver").rstrip("/")
    return section.text("server_name") or (urllib.parse.urlsplit(homeserver).hostname or "")


def _identity(section: SectionConfig) -> dict[str, str]:
    return {
        "homeserver": section.text("homeserver").rstrip("/"),
        "server_name": _server_name(section),
        "site": section.text("site"),
        "prefix": section.text("prefix", "comments_"),
    }


def _build(section: SectionConfig, run: RunConfig) -> MatrixCommentExtractor:
    return MatrixCommentExtractor(
        homeserver=section.text("homeserver"),
        site=section.text("site"),
        server_name=_server_name(section) or None,
        prefix=section.text("prefix", "comments_"),
        token=section.token("MATRIX_ACCESS_TOKEN"),
        token_env=section.text("token_env", "MATRIX_ACCESS_TOKEN"),
        discover=section.text("discover", "pages_file"),
        pages_file=section.path("pages_file"),
        uri_template=section.text("uri_template", DEFAULT_URI),
        timeout=run.timeout,
        policy=retry_policy(run),
    )


PLUGIN = SourcePlugin(
    name="matrix",
    build=_build,
    identity=_identity,
    path_keys=("pages_file",),
    schema={
        "required": ["homeserver", "site"],
        "properties": {
            "homeserver": {"type": "string", "pattern": "^https?://[^\\s]+$"},
            "server_name": {"type": "string", "minLength": 1},
            "site": {"type": "string", "pattern": "^[^_\\s]+$"},
            "prefix": {"type": "string"},
            "token_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "discover": {"enum": list(DISCOVERY_MODES)},
            "pages_file": {"type": "string", "minLength": 1},
        },
        # discover defaults to pages_file, which needs the file
        "if": {"properties": {"discover": {"const": "pages_file"}}},
        "then": {"required": ["pages_file"]},
    },
)
