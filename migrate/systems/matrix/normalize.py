"""A Matrix room's events as a page's comments (pure: tests feed it raw event dicts).

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
  `org.matrix.custom.html` and is sanitized by nh3;
- comments come in migrate.threads.send_order (parents first, otherwise oldest first), the
  room's timeline order breaking ties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
from migrate.media import MediaMirror
from migrate.model import DELETED_TEXT, Author, Comment, Page, PageComments, SkippedEvent
from migrate.systems.matrix.events import (
    MEDIA_MSGTYPES,
    Message,
    content_problem,
    localpart,
    relation,
    utc,
)
from migrate.threads import send_order


class _RoomNormalizer:
    def __init__(self, page: Page, homeserver: str, mirror: MediaMirror | None = None) -> None:
        self.page = page
        self.homeserver = homeserver
        self.mirror = mirror
        self.source_media = 0  # comments that link media on the homeserver
        self._links_homeserver = False  # the comment being rendered does
        self._links_media = False  # its text links a media file (a copy or the homeserver's)
        self.media_comments: list[str] = []
        self.messages: dict[str, Message] = {}
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
        message = Message(event_id, position, sender, ts, name, avatar, {}, redacted=redacted)
        if redacted:
            # kept for now: it may need a tombstone; some servers keep m.relates_to (MSC3389)
            relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
            if isinstance(relates, Mapping) and relates.get("rel_type") != "m.replace":
                message.parent_ref, _, _ = relation(relates)
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
        problem = content_problem(content)
        if problem is not None:
            self.skip(event_id, problem)
            return
        message.content = dict(content)
        if relates_to is not None:
            message.parent_ref, message.relation_problem, message.is_reply = relation(relates_to)
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
            elif (problem := content_problem(self._merged(target, new_content))) is not None:
                self.skip(edit_id, f"edit with unusable m.new_content: {problem}")
            elif target.edit is None or (ts, edit_id) > target.edit[:2]:
                target.edit = (ts, edit_id, dict(new_content))

    @staticmethod
    def _merged(target: Message, new_content: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(new_content)
        if target.content.get("msgtype") in MEDIA_MSGTYPES and "url" not in merged:
            merged["url"] = target.content.get("url")  # a caption edit keeps the media
        return merged

    def media_url(self, mxc: str) -> str | None:
        """The URL readers get for an mxc:// URI: the mirror's copy, else the homeserver's."""
        self._links_media = True
        if self.mirror is not None:
            copied = self.mirror.url_for(mxc)
            if copied is not None:
                return copied
        url = mxc_to_http(mxc, self.homeserver)
        if url is not None:
            self._links_homeserver = True
        return url

    def render(self, message: Message) -> tuple[str, str]:
        """(Markdown text, sanitized HTML) of a message, with its newest edit applied and
        the quoted parent of a reply left out."""
        name = clean_text(message.name or localpart(message.sender))
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
                name=clean_text(message.name or localpart(message.sender)),
                source_id=clean_text(message.sender),
                avatar_url=self.avatar_url(message.avatar),
            )
            parent_id = parents[message.event_id]
            created_at = utc(message.ts)
            deleted = message.redacted
            if deleted and message.event_id not in tombstones:
                self.skip(message.event_id, "redacted")
                continue
            self._links_media = False  # an avatar is no part of the text
            # a deleted comment stays only as a tombstone, so that its replies keep their place
            text, html = (
                (DELETED_TEXT, plain_to_html(DELETED_TEXT)) if deleted else self.render(message)
            )
            if self._links_homeserver:
                self.source_media += 1
            if self._links_media:
                self.media_comments.append(message.event_id)
            comments.append(
                Comment(
                    id=message.event_id,
                    page_id=self.page.id,
                    parent_id=parent_id,
                    author=author,
                    text=text,
                    html=html,
                    created_at=created_at,
                    edited_at=utc(message.edit[0]) if message.edit and not deleted else None,
                    deleted=deleted,
                )
            )
        return PageComments(
            page=self.page,
            comments=send_order(comments),  # built in timeline order: it breaks ties
            skipped=self.skipped,
            orphans=orphans,
            source_media=self.source_media,
            media_comments=self.media_comments,
        )


def normalize_room(
    events: Iterable[Any], page: Page, homeserver: str, mirror: MediaMirror | None = None
) -> PageComments:
    """Comments of one room from its events in timeline order (oldest first).

    With a mirror, media (images, files, avatars) link its copies; without one, or for a
    file it cannot copy, they link the homeserver and `source_media` counts them."""
    normalizer = _RoomNormalizer(page, homeserver, mirror)
    for position, event in enumerate(events):
        normalizer.read(position, event)
    return normalizer.result()
