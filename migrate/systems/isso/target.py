"""Isso target (https://isso-comments.de), through its public HTTP API.

- `POST /new?uri=<page uri>` as JSON (anything else is refused as CSRF), without a cookie
  jar: Isso sets cookies on every POST and a session that keeps them fails with 431 after
  ~600 posts. `title` is sent with every post so Isso never fetches the page for one; it only
  reads it when a thread is created.
- Isso keeps two levels (a reply to a reply is stored under the top-level comment: the
  `parent` it returns is recorded), cannot set `created`, and refuses text whose
  `rstrip()` is under 3 or whose length is over 65535 characters: `check()` refuses those
  up front, and such a 400 from the server becomes `CommentRefused`. Any other 4xx (the
  guard's 403, a CSRF 403, ...) is an `HttpError` with Isso's message: the page fails.
- Idempotency by lookup: `reconcile()` reads the thread (`GET /?uri=...&plain=1`) and adopts
  Isso comments, each at most once and never one whose id is in `known_target_ids` (already
  mapped): first by author and creation second (what `isso import` of our WXR brought), then,
  in send order, by author and visible text (what we posted): see isso_match. So a sync
  over the API into an Isso that imported the site's WXR sends only what is new.
  Comments held for moderation (mode 2) are invisible to that read: run with moderation off.
- Deletion (rollback): Isso's own `DELETE /id/<id>` needs the author's edit cookie, which
  expires after `max-age` (15 minutes by default) and which we never keep. The one path that
  works for a comment of any age is the moderation endpoint `POST /id/<id>/delete/<key>`,
  whose key is the comment id signed with the server's session key (itsdangerous,
  accepted for 2**32 seconds). That key lives in Isso's database (`preferences` table), so
  deletion needs `db_path` (read-only access to the live database); without it
  `capabilities.can_delete` is False and `delete()` raises UnsupportedOperation. Isso itself
  performs the deletion (a comment with replies becomes a tombstone, mode 4, removed with its
  last reply), so its caches and invariants stay its own. Edits (sync) use the same key:
  `POST /id/<id>/edit/<key>` with the new text. (The admin interface would need a
  password and HTML scraping; writing the SQLite file directly would bypass Isso's logic.)
  The key and its path: migrate.systems.isso.moderation.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate.abilities import CommentRefused, DurableEachComment, PageError
from migrate.errors import TargetError
from migrate.model import Capabilities, CheckItem, Created, OutgoingComment, Page, TargetComment
from migrate.plugins import TargetPlugin, retry_policy
from migrate.systems.isso.embed import check_isso_embed
from migrate.systems.isso.match import match_pending, same_comment
from migrate.systems.isso.moderation import MODE_DELETED, moderation_path
from migrate.systems.isso.moderation import sign_for_isso as sign_for_isso  # re-exported
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

MIN_TEXT = 3
MAX_TEXT = 65535
_RULE_REFUSALS = ("text is too short", "text is too long")
_WERKZEUG_MESSAGE = re.compile(r"<p>(.*?)</p>", re.DOTALL)


def isso_text_problem(text: str) -> str | None:
    """Isso's own rule (isso.views.comments.API.verify), applied before sending."""
    if len(text.rstrip()) < MIN_TEXT:
        return f"text is too short for Isso (minimum length: {MIN_TEXT})"
    if len(text) > MAX_TEXT:
        return f"text is too long for Isso (maximum length: {MAX_TEXT})"
    return None


class _AlreadyStored(Exception):
    """A lost attempt was stored after all: this is its id."""

    def __init__(self, target_id: str, parent: str | None) -> None:
        super().__init__(target_id)
        self.target_id = target_id
        self.parent = parent


def _plain_error(error: HttpError) -> HttpError:
    """Isso answers errors with a Werkzeug HTML page; keep only its sentence."""
    found = _WERKZEUG_MESSAGE.search(error.message)
    if not found:
        return error
    message = html.unescape(found.group(1)).strip()
    prefix = error.message.split(": <", 1)[0] if ": <" in error.message else error.message
    return HttpError(
        f"{prefix}: {message}",
        status=error.status,
        url=error.url,
        retryable=error.retryable,
        body=message,
    )


def _flatten(thread: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for comment in thread.get("replies") or ():
        yield comment
        yield from _flatten(comment)


def isso_capabilities(*, can_delete: bool, shows_images: bool = False) -> Capabilities:
    """Two levels, import-time timestamps, recognition by reading the thread back; deletion
    only with the server's database (its moderation key); images as links unless Isso is
    configured to show them (`allow_images`)."""
    return Capabilities(
        max_depth=1,
        keeps_timestamps=False,
        idempotency="reconcile",
        can_delete=can_delete,
        content="markdown",
        min_text_length=MIN_TEXT,
        ordered_per_page=True,  # a thread shows its comments in the order Isso stored them
        shows_images=shows_images,
    )


class IssoTarget(DurableEachComment):
    name = "isso"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        db_path: Path | str | None = None,
        allow_images: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.client = HttpClient(self.url, timeout=timeout, policy=policy, keep_cookies=False)
        self.db_path = Path(db_path) if db_path else None
        self.capabilities = isso_capabilities(
            can_delete=self.db_path is not None, shows_images=allow_images
        )
        self._warned_moderation = False
        # target ids that are ours (created, adopted, or mapped before): never adopted again
        self._known: set[str] = set()
        self._known_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"IssoTarget({self.url!r})"

    def advice(self) -> list[str]:
        return [
            "For original dates, write the wxr target and import the file with "
            "`isso import -t wordpress` instead (Isso's API stamps the import time)."
        ]

    def identity(self) -> Mapping[str, str]:
        return {"url": self.url}

    def check(self, outgoing: OutgoingComment) -> str | None:
        return isso_text_problem(outgoing.text)

    def begin_page(self, page: Page) -> None:
        pass

    def create(self, outgoing: OutgoingComment) -> Created:
        page = outgoing.page
        parent = outgoing.parent_target_id
        if parent is not None and not parent.isdigit():
            raise PageError(f"parent id {parent!r} of {outgoing.source.id} is not an Isso id")
        body = {
            "text": outgoing.text,
            "author": outgoing.source.author.name or None,
            "website": None,
            "email": None,
            "parent": int(parent) if parent is not None else None,
            "title": page.title or page.key,
        }

        def look_before_resending() -> None:
            # POST /new is not idempotent: an attempt whose answer was lost (a timeout, a
            # reset, a 5xx from a proxy) may have been stored, and a resend would duplicate it
            found = self._find_stored(outgoing)
            if found is not None:
                raise found

        try:
            response = self.client.request(
                "POST",
                "/new",
                params={"uri": page.key},
                json_body=body,
                ok=(201, 202),
                before_resend=look_before_resending,
            )
        except _AlreadyStored as stored:
            log.info(
                "%s: Isso had stored %s after all (id %s); not sending it again",
                page.key,
                outgoing.source.id,
                stored.target_id,
            )
            self._remember(stored.target_id)
            # this very request created it (only its answer was lost): imported, not found
            return Created(target_id=stored.target_id, parent_target_id=stored.parent)
        except HttpError as exc:
            error = _plain_error(exc)
            if (
                error.status == 400
                and isinstance(error.body, str)
                and error.body.startswith(_RULE_REFUSALS)
            ):
                raise CommentRefused(f"Isso refused it: {error.body}") from exc
            if error.status == 403 and isinstance(error.body, str) and "CSRF" not in error.body:
                # Isso's guard (rate limit, replies per thread) stops any bulk import
                error = HttpError(
                    f"{error.message} (Isso's guard refused it: set [guard] enabled = false "
                    "in Isso's configuration for the migration)",
                    status=error.status,
                    url=error.url,
                    body=error.body,
                )
            raise error from exc
        data = response.json()
        if response.status_code == 202 and not self._warned_moderation:
            self._warned_moderation = True
            log.warning(
                "%s holds new comments for moderation: they stay hidden until approved, "
                "and reconciliation after a crash cannot see them",
                self.url,
            )
        stored_parent = data.get("parent")
        if parent is not None and stored_parent is None:
            log.warning(
                "%s stored %s as a top-level comment: its parent %s is not in thread %s",
                self.url,
                outgoing.source.id,
                parent,
                page.key,
            )
        self._remember(str(data["id"]))
        return Created(
            target_id=str(data["id"]),
            parent_target_id=None if stored_parent is None else str(stored_parent),
        )

    def _remember(self, *target_ids: str) -> None:
        with self._known_lock:
            self._known.update(target_ids)

    def _find_stored(self, outgoing: OutgoingComment) -> _AlreadyStored | None:
        """The newest comment of the thread with this author and text that is not already
        one of ours: what a lost attempt to post `outgoing` would have left."""
        with self._known_lock:
            known = set(self._known)
        for comment in reversed(self.thread(outgoing.page)):
            if str(comment["id"]) in known or comment.get("mode") == MODE_DELETED:
                continue
            if same_comment(comment, outgoing):
                parent = comment.get("parent")
                return _AlreadyStored(str(comment["id"]), None if parent is None else str(parent))
        return None

    def thread(self, page: Page) -> list[Mapping[str, Any]]:
        """The thread's visible comments, flattened, in creation order (raw text)."""
        response = self.client.request(
            "GET", "/", params={"uri": page.key, "plain": "1"}, ok=(200, 404)
        )
        if response.status_code == 404:
            return []
        comments = list(_flatten(response.json()))
        comments.sort(key=lambda c: int(c["id"]))
        return comments

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        if not pending:
            return {}
        known = {str(k) for k in known_target_ids}
        self._remember(*known)
        candidates = [
            c
            for c in self.thread(page)
            if str(c["id"]) not in known and c.get("mode") != MODE_DELETED
        ]
        adopted = match_pending(candidates, pending)
        self._remember(*adopted.values())
        return adopted

    def list_page(self, page: Page) -> list[TargetComment]:
        """The thread as Isso shows it (tombstones of deleted comments left out): the raw
        Markdown as `text`, and as `html` the text rendered by Isso's renderer and sanitizer,
        which is what its widget shows (a second read, without `plain`)."""
        rendered = self._rendered(page)
        return [
            TargetComment(
                target_id=str(c["id"]),
                parent_target_id=None if c.get("parent") is None else str(c["parent"]),
                author_name=html.unescape(c.get("author") or ""),
                text=str(c.get("text") or ""),
                created_at=datetime.fromtimestamp(float(c["created"]), UTC)
                if c.get("created") is not None
                else None,
                html=rendered.get(str(c["id"])),
                raw=dict(c),
            )
            for c in self.thread(page)
            if c.get("mode") != MODE_DELETED
        ]

    def _rendered(self, page: Page) -> dict[str, str]:
        """Target id -> the comment's text as Isso renders it for readers."""
        response = self.client.request("GET", "/", params={"uri": page.key}, ok=(200, 404))
        if response.status_code == 404:
            return {}
        return {str(c["id"]): str(c.get("text") or "") for c in _flatten(response.json())}

    def delete(self, target_id: str, page: Page) -> bool:
        path = moderation_path(self.db_path, target_id, "delete")
        if path is None:
            return False
        return self.client.request("POST", path, ok=(200, 404)).status_code == 200

    def update(self, target_id: str, outgoing: OutgoingComment) -> bool:
        """Replace a comment's text (sync: an edit, or a tombstone) through the moderation
        endpoint, like `delete`; False when Isso no longer has it."""
        path = moderation_path(self.db_path, target_id, "edit")
        if path is None:
            return False
        try:
            response = self.client.request(
                "POST", path, json_body={"text": outgoing.text}, ok=(200, 404)
            )
        except HttpError as exc:
            raise _plain_error(exc) from exc
        return response.status_code == 200

    def probe(self) -> str:
        """Writes nothing: GET /config, which every Isso answers. Says what answered;
        raises HttpError, or TargetError when something else answers."""
        response = self.client.request("GET", "/config", retry=False)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise TargetError(f"{self.url}/config answers, but not as Isso does")
        return f"{self.url} answers as Isso"

    def check_embed(self, page: Page, html: str, url: str) -> CheckItem:
        """Does this page show the thread the migration writes (migrate/targets/isso_embed)?"""
        return check_isso_embed(page, html, url)

    def close(self) -> None:
        self.client.close()


PLUGIN = TargetPlugin(
    name="isso",
    build=lambda section, run: IssoTarget(
        section.text("url"),
        timeout=run.timeout,
        policy=retry_policy(run),
        db_path=section.path("db_path"),
        allow_images=bool(section.get("allow_images", False)),
    ),
    capabilities=lambda section: isso_capabilities(
        can_delete=section.get("db_path") is not None,
        shows_images=bool(section.get("allow_images", False)),
    ),
    identity=lambda section: {"url": section.text("url").rstrip("/")},
    path_keys=("db_path",),
    schema={
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://[^\\s]+$",
                "examples": ["http://127.0.0.1:8080"],
            },
            "db_path": {
                "type": "string",
                "minLength": 1,
                "examples": ["/var/lib/isso/comments.db"],
                "description": "read-only: for rollback and edits during sync",
            },
            "allow_images": {
                "type": "boolean",
                "examples": [False],
                "description": "true when Isso allows <img>",
            },
        },
    },
)
