"""Waline target (https://waline.js.org), through the administrator's import endpoint.

- Each comment is one `POST /api/db?table=Comment` (Waline's admin Import uses it): the row
  is inserted as given, so it keeps its time (`insertedAt`, `createdAt`), `nick`, `mail`,
  `link`, `status` (approved | waiting), `like`, and `pid` (the parent) and `rid` (the
  thread's root) set from the mapping as it is sent: one write per comment, never a second
  pass to fix parents (Waline's own Migration page PUTs every reply again, after deleting
  every table first; this target never deletes what it did not create).
- Times go out as ISO 8601 in UTC with a `Z` (`2021-03-04T05:06:07.000Z`). Waline keeps
  SQLite strings as given and reads them with JavaScript's `new Date()`, so the widget's
  `time` is the original instant whatever zone the server runs in (its MySQL storage turns
  the same string into its own local wall clock, also exactly).
- Exactly once: Waline keeps no source id. `reconcile()` reads the page back through the
  widget API as the administrator (all statuses, `orig` text, `time` in ms) and adopts
  comments with the same nick, creation second and Markdown text that are not mapped yet
  (migrate.systems.waline.match); a lost answer is looked up the same way before a resend.
- Rollback: `DELETE /api/comment/<id>`. Waline deletes a comment's replies with it, so a
  comment that still has a reply (replies of ours go first: one left is a visitor's) is
  refused, never deleted. Sync: `PUT /api/comment/<id>` with the new text.
- The administrator's JWT (`POST /api/token` with the admin's email and password answers it)
  is read from the variable named by `token_env` (default WALINE_TOKEN).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from migrate.abilities import CheckFailed, CommentRefused, DurableEachComment, PageError
from migrate.errors import TargetError
from migrate.files.formats import web_url
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from migrate.systems.waline.api import page_comments, shown_time, target_id, waline_data
from migrate.systems.waline.match import match_pending, same_comment
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    max_depth=None,  # pid is any comment of the page, rid its root
    keeps_timestamps=True,
    idempotency="reconcile",
    can_delete=True,
    content="markdown",  # Waline stores Markdown and renders it for the widget
    keeps_pending=True,  # status "waiting"
)


def waline_time(moment: datetime) -> str:
    """An instant as Waline reads it whatever its zone: ISO 8601, UTC, milliseconds, `Z`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _AlreadyStored(Exception):
    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


class WalineTarget(DurableEachComment):
    name = "waline"
    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        token_env: str = "WALINE_TOKEN",  # noqa: S107 - a variable's name, not a secret
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token_env = token_env
        self.client = HttpClient(
            self.url, token=token, timeout=timeout, policy=policy, keep_cookies=False
        )
        self._has_token = token is not None
        # target id -> its root's id (None: a root); what pid/rid of a reply are made from
        self._roots: dict[str, str | None] = {}
        self._known: set[str] = set()  # ours: created, adopted or mapped; never adopted again
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"WalineTarget({self.url!r})"

    def identity(self) -> Mapping[str, str]:
        return {"url": self.url}

    def check(self, outgoing: OutgoingComment) -> str | None:
        return None if outgoing.text.strip() else "empty text (Waline refuses it)"

    def begin_page(self, page: Page) -> None:
        if not self._has_token:
            raise TargetError(
                f"no Waline administrator token: set ${self.token_env} to the JWT that "
                f"POST {self.url}/api/token answers for the administrator"
            )

    def row(self, outgoing: OutgoingComment, parent: str | None) -> dict[str, Any]:
        """The wl_Comment row of one comment, as Waline's import inserts it."""
        source = outgoing.source
        created = waline_time(source.created_at)
        root = None if parent is None else (self._root_of(outgoing.page, parent) or parent)
        return {
            "comment": outgoing.text,
            "nick": source.author.name,  # "" for an anonymous author, as the source has it
            "mail": source.author.email or None,
            "link": web_url(source.author.url),
            "url": outgoing.page.key,
            "status": "waiting" if source.status == "pending" else "approved",
            "like": source.likes,
            "pid": None if parent is None else int(parent),
            "rid": None if root is None else int(root),
            "insertedAt": created,
            "createdAt": created,
            "updatedAt": waline_time(source.edited_at or source.created_at),
        }

    def create(self, outgoing: OutgoingComment) -> Created:
        parent = outgoing.parent_target_id
        if parent is not None and not parent.isdigit():
            raise PageError(f"parent id {parent!r} of {outgoing.source.id} is not a Waline id")
        if not outgoing.text.strip():
            raise CommentRefused("empty text (Waline refuses it)")
        row = self.row(outgoing, parent)

        def look_before_resending() -> None:
            # the import endpoint is not idempotent: a lost answer may hide a stored row
            found = self._find_stored(outgoing)
            if found is not None:
                raise _AlreadyStored(found)

        try:
            data = waline_data(
                self.client,
                "POST",
                "/api/db",
                params={"table": "Comment"},
                json_body=row,
                ok=(200,),
                before_resend=look_before_resending,
            )
            new_id = str(data["objectId"])
        except _AlreadyStored as stored:
            new_id = stored.found
        except (KeyError, TypeError) as exc:
            raise HttpError(f"{self.url}/api/db answered without an objectId") from exc
        with self._lock:
            self._known.add(new_id)
            self._roots[new_id] = None if row["rid"] is None else str(row["rid"])
        return Created(target_id=new_id, parent_target_id=parent)

    def _root_of(self, page: Page, parent: str) -> str | None:
        """The root of `parent`'s thread, read from the page once if not known here."""
        with self._lock:
            if parent in self._roots:
                return self._roots[parent]
        self._learn(page_comments(self.client, page.key))
        with self._lock:
            if parent not in self._roots:
                raise PageError(f"parent {parent} is not a comment of {page.key} in Waline")
            return self._roots[parent]

    def _learn(self, comments: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            for comment in comments:
                self._roots[str(comment["objectId"])] = target_id(comment.get("rid"))

    def _candidates(self, page: Page, known: Collection[str]) -> list[dict[str, Any]]:
        """The page's comments that are not ours yet, oldest id first."""
        comments = page_comments(self.client, page.key)
        self._learn(comments)
        with self._lock:
            ours = self._known | set(known)
        free = [c for c in comments if str(c["objectId"]) not in ours]
        return sorted(free, key=lambda c: int(c["objectId"]))

    def _find_stored(self, outgoing: OutgoingComment) -> str | None:
        for comment in reversed(self._candidates(outgoing.page, ())):
            if same_comment(comment, outgoing):
                log.info(
                    "%s: Waline had stored %s after all", outgoing.page.key, outgoing.source.id
                )
                return str(comment["objectId"])
        return None

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        with self._lock:
            self._known.update(str(k) for k in known_target_ids)
        if not pending:
            return {}
        adopted = match_pending(self._candidates(page, known_target_ids), pending)
        with self._lock:
            self._known.update(adopted.values())
        return adopted

    def list_page(self, page: Page) -> list[TargetComment]:
        """The page as the widget API serves it (read as the administrator, so comments
        waiting for moderation are there too, `raw["status"]` says which): `html` is the
        rendered text a visitor's widget shows, `text` the stored Markdown."""
        comments = page_comments(self.client, page.key)
        self._learn(comments)
        return [
            TargetComment(
                target_id=str(c["objectId"]),
                parent_target_id=target_id(c.get("pid")),
                author_name=str(c.get("nick") or ""),
                text=str(c.get("orig") or ""),
                created_at=shown_time(c),
                html=str(c.get("comment") or ""),
                raw={k: v for k, v in c.items() if k not in ("children", "mail", "ip")},
            )
            for c in comments
        ]

    def delete(self, target_id: str, page: Page) -> bool:
        """Delete one comment of ours. Waline deletes a comment's replies with it, so one that
        still has a reply (ours are deleted first: what is left is someone else's) is refused."""
        comments = page_comments(self.client, page.key)
        if not any(str(c["objectId"]) == target_id for c in comments):
            return False
        replies = [
            str(c["objectId"])
            for c in comments
            if target_id in (str(c.get("pid")), str(c.get("rid")))
        ]
        if replies:
            raise TargetError(
                f"Waline comment {target_id} was kept: it has replies the migration did not "
                f"create ({', '.join(replies)}), and Waline would delete them with it"
            )
        waline_data(self.client, "DELETE", f"/api/comment/{target_id}", ok=(200,))
        return True

    def update(self, target_id: str, outgoing: OutgoingComment) -> bool:
        data = waline_data(
            self.client,
            "PUT",
            f"/api/comment/{target_id}",
            json_body={"comment": outgoing.text},
            ok=(200,),
        )
        return bool(data)

    def probe(self) -> str:
        """Writes nothing: the administrator's own profile (`GET /api/token`)."""
        fix = (
            f"export {self.token_env}=<the token POST {self.url}/api/token answers for the "
            "administrator's email and password>"
        )
        if not self._has_token:
            raise CheckFailed(f"${self.token_env} is not set", fix)
        data = waline_data(self.client, "GET", "/api/token", ok=(200,), retry=False)
        if not isinstance(data, Mapping) or data.get("type") != "administrator":
            raise CheckFailed(
                f"{self.url} does not take ${self.token_env} as an administrator's token", fix
            )
        return f"{self.url} answers as Waline and accepts the administrator's token"

    def close(self) -> None:
        self.client.close()
