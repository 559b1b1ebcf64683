"""HTTP target: the comment API contract of the README, for a Cloudflare Worker or any
custom comment service. Every request carries `Authorization: Bearer <token>` when a token is
configured (the token is never logged or shown in `identity()`).

    POST {url}/comments                  Idempotency-Key: <source system>:<source id>
      {"page": {"id", "uri", "title"}, "parent_id": <target id or null>,
       "author": {"name", "source_id", "avatar_url"}, "text", "html",
       "created_at": RFC 3339 UTC, "source": {"system", "id", "parent_id"}}
      -> 200/201 {"id": ...}; 409 {"id": ...} means "already there" and counts as success
    GET {url}/comments?source_id=...     -> 200 {"id": ...} | 404   (optional: reconciliation)
    DELETE {url}/comments/{id}           -> 204 | 404 (already gone) (optional: rollback)
    PATCH {url}/comments/{id}            {"text", "html", "edited_at"} -> 200 | 404
                                         (optional: sync applies edits and tombstones)

Extension for `verify`, `rollback` backups and cheaper reconciliation (optional too):

    GET {url}/comments?page_id=...[&cursor=...]
      -> 200 {"comments": [{"id", "parent_id", "author": {"name", "avatar_url"}, "text",
                            "html", "created_at", "source": {"id"}}, ...],
              "next": <opaque cursor, or null/absent on the last batch>}

Batches (optional; `batch_size` in [target]: most comments per request, 0 = never batch;
unset: batches of 50 if the server has the endpoint; a server's own limit wins, learned from
its `X-Batch-Limit` header, or from a 413 answer, whose items are then sent again in batches
of what its `max_batch` says, or of half as many when it says nothing):

    POST {url}/comments/batch
      {"comments": [<the POST /comments body> + "idempotency_key": <its Idempotency-Key>, ...]}
      -> 200 {"results": [{"id": ...} | {"id": ..., "existing": true}
                          | {"error": "...", "status": <optional: a single POST's status>}]}

One result per item, in order. A batch holds only comments whose parents are mapped already
(sent in an earlier request), so the server can store the items in any order. {"existing":
true} is the batch's 409: that Idempotency-Key was stored before. {"error": ...} fails that
comment, and so its page, with the server's message, as a single POST's 4xx would; the other
items stand. A 404, 405 or 501 means the server has no batch endpoint (a POST to it names no
resource that could be missing): the client remembers and posts one by one, which is safe
even if the server did store something, since every item carries its Idempotency-Key. The
whole batch is retried like a single POST (5xx, 429, lost answers): items already stored
come back as "existing".

DELETE also forgets the comment's Idempotency-Key, so migrating again after a rollback
creates the comment anew instead of answering 409 with the id of a deleted comment.

How "optional" is told apart from "not found": a lookup's 404 for a missing comment carries
a JSON object body (e.g. {"error": "not found"}); a 404 without a JSON body, a 405 or a 501
means the endpoint is not implemented. Reconciliation then falls back from the page listing
to per-comment lookups to nothing at all, which is still safe: a resent comment carries the
same Idempotency-Key, and the server answers 409 with the id it already has.

Retries (connection errors, timeouts, 429, 5xx, honouring Retry-After) are utils.http's;
any other 4xx fails the comment, and so its page, with the server's message.

Ids in answers are non-empty strings or integers (an integer becomes its decimal string; a
JSON `true` is not an integer here). Anything else, or a missing id, fails the page with a
message naming the endpoint and what came back: a wrong id recorded in the checkpoint would
hang every later reply under a comment that does not exist (migrate.systems.http.answers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from migrate.abilities import (
    BatchUnsupported,
    CheckFailed,
    CommentRefused,
    DurableEachComment,
    PageError,
)
from migrate.errors import UnsupportedOperation
from migrate.files.records import comment_fields, page_record, rfc3339
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from migrate.plugins import TargetPlugin, retry_policy
from migrate.systems.http.answers import (
    batch_result,
    is_not_found,
    json_or_none,
    parent_id_of,
    server_batch_limit,
    target_id_of,
)
from migrate.systems.http.listing import NOT_IMPLEMENTED, list_comments
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

PROBE_SOURCE_ID = "comment-migrate:probe"  # a source id no comment has (`check`)
DEFAULT_BATCH_SIZE = 50
MAX_BATCH_SIZE = 1000


def comment_body(outgoing: OutgoingComment) -> dict[str, Any]:
    """The POST body of the contract, exactly."""
    return {"page": page_record(outgoing.page), **comment_fields(outgoing)}


# the variable read when the file names none (a variable's name, not a secret)
DEFAULT_TOKEN_ENV = "TARGET_TOKEN"  # noqa: S105


class HttpTarget(DurableEachComment):
    name = "http"
    capabilities = Capabilities(
        max_depth=None,
        keeps_timestamps=True,
        idempotency="key",
        can_delete=True,
        content="both",
        keeps_avatars=True,
    )

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        token_env: str | None = None,  # the variable the token came from, for messages
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token_env = token_env
        self.client = HttpClient(self.url, token=token, timeout=timeout, policy=policy)
        self._has_listing: bool | None = None  # None: not known yet
        self._has_lookup: bool | None = None
        # None: batches of the default size, if the server turns out to take them
        self.batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        self._has_batch: bool | None = None if self.batch_size > 1 else False
        self._batch_lock = threading.Lock()
        self._said_no_batch = False

    def __repr__(self) -> str:  # never show the token
        return f"HttpTarget({self.url!r})"

    def identity(self) -> Mapping[str, str]:
        return {"url": self.url}

    def check(self, outgoing: OutgoingComment) -> str | None:
        return None  # the contract has no rule known in advance

    def begin_page(self, page: Page) -> None:
        pass

    def create(self, outgoing: OutgoingComment) -> Created:
        response = self.client.request(
            "POST",
            "/comments",
            json_body=comment_body(outgoing),
            headers={"Idempotency-Key": outgoing.idempotency_key},
            ok=(200, 201, 409),
        )
        body = json_or_none(response)
        existed = response.status_code == 409
        endpoint = f"POST {self.client.url('/comments')}"
        # "already there" without saying where: ask by source id
        ask = existed and not (isinstance(body, dict) and body.get("id") is not None)
        target_id = self.lookup(outgoing.source.id) if ask else None
        if target_id is None:
            target_id = target_id_of(body, "id", endpoint, response)
        parent = outgoing.parent_target_id
        if isinstance(body, dict) and "parent_id" in body:
            parent = parent_id_of(body, endpoint, response)
        return Created(target_id=target_id, parent_target_id=parent, already_existed=existed)

    def batch_limit(self) -> int:
        return 0 if self._has_batch is False else self.batch_size

    def create_batch(
        self, outgoing: Sequence[OutgoingComment]
    ) -> list[Created | CommentRefused | PageError]:
        if self._has_batch is False:
            raise BatchUnsupported
        items = [{**comment_body(o), "idempotency_key": o.idempotency_key} for o in outgoing]
        response = self.client.request(
            "POST",
            "/comments/batch",
            json_body={"comments": items},
            ok=(200, 201, 413, *NOT_IMPLEMENTED),
        )
        where = f"POST {self.client.url('/comments/batch')}"
        said = server_batch_limit(response)
        if response.status_code == 413:  # too many, or too large: the same, in smaller ones
            self.batch_size = min(self.batch_size, said or len(outgoing) // 2, len(outgoing) - 1)
            log.info("%s -> 413: sending at most %d comments per batch", where, self.batch_size)
            if self.batch_size < 2:
                self._has_batch = False
                raise BatchUnsupported
            size = self.batch_size
            return [
                result
                for start in range(0, len(outgoing), size)
                for result in self.create_batch(outgoing[start : start + size])
            ]
        if said is not None and said < self.batch_size:
            self.batch_size = said  # the server's own limit, said before it is reached
        if response.status_code in NOT_IMPLEMENTED:
            with self._batch_lock:  # workers learn it together: say it once per run
                first, self._said_no_batch = not self._said_no_batch, True
                self._has_batch = False
            if first:
                log.info(
                    "%s -> %d: no batch endpoint; sending comments one by one",
                    where,
                    response.status_code,
                )
            raise BatchUnsupported
        self._has_batch = True
        body = json_or_none(response)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != len(outgoing):
            count = len(results) if isinstance(results, list) else "no"
            raise HttpError(
                f"{where} -> {response.status_code}: {count} results for {len(outgoing)} comments",
                status=response.status_code,
                url=self.client.url("/comments/batch"),
                body=body,
            )
        return [
            batch_result(where, index, out, item)
            for index, (out, item) in enumerate(zip(outgoing, results, strict=True))
        ]

    def lookup(self, source_id: str) -> str | None:
        """The target id of the comment made from `source_id`, or None (also when the
        server has no lookup endpoint)."""
        if self._has_lookup is False:
            return None
        response = self.client.request(
            "GET", "/comments", params={"source_id": source_id}, ok=(200, *NOT_IMPLEMENTED)
        )
        if response.status_code == 200:
            self._has_lookup = True
            endpoint = f"GET {self.client.url('/comments')}?source_id="
            return target_id_of(json_or_none(response), "id", endpoint, response)
        if is_not_found(response):
            self._has_lookup = True
            return None
        self._has_lookup = False
        log.info("%s has no lookup by source id; relying on the Idempotency-Key", self.url)
        return None

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        if not pending:
            return {}
        listed = self._list(page)
        if listed is not None:
            by_source = {c.source_id: c.target_id for c in listed if c.source_id}
            return {
                o.source.id: by_source[o.source.id] for o in pending if o.source.id in by_source
            }
        adopted: dict[str, str] = {}
        for outgoing in pending:
            found = self.lookup(outgoing.source.id)
            if self._has_lookup is False:
                break  # no lookup at all: resending is safe with the same Idempotency-Key
            if found is not None:
                adopted[outgoing.source.id] = found
        return adopted

    def list_page(self, page: Page) -> list[TargetComment]:
        listed = self._list(page)
        if listed is None:
            raise UnsupportedOperation(
                f"{self.url} does not implement GET /comments?page_id=..., "
                "so its comments cannot be listed"
            )
        return listed

    def _list(self, page: Page) -> list[TargetComment] | None:
        """The page's comments, or None when the server has no listing endpoint."""
        if self._has_listing is False:
            return None
        listed = list_comments(self.client, page.id)
        self._has_listing = listed is not None
        if listed is None:
            log.info("%s has no page listing (GET /comments?page_id=...)", self.url)
        return listed

    def delete(self, target_id: str, page: Page) -> bool:
        response = self.client.request(
            "DELETE", f"/comments/{quote(target_id, safe='')}", ok=(200, 204, *NOT_IMPLEMENTED)
        )
        if response.status_code in (405, 501):
            raise UnsupportedOperation(f"{self.url} does not implement DELETE /comments/{{id}}")
        return response.status_code != 404

    def update(self, target_id: str, outgoing: OutgoingComment) -> bool:
        """PATCH the comment's text and html (an edit, or the `[deleted]` tombstone of a
        comment deleted in the source that keeps its replies); False when it is gone."""
        edited = outgoing.source.edited_at
        response = self.client.request(
            "PATCH",
            f"/comments/{quote(target_id, safe='')}",
            json_body={
                "text": outgoing.text,
                "html": outgoing.html,
                "edited_at": rfc3339(edited) if edited is not None else None,
            },
            ok=(200, 204, *NOT_IMPLEMENTED),
        )
        if response.status_code in (405, 501) or (
            response.status_code == 404 and not is_not_found(response)
        ):
            raise UnsupportedOperation(f"{self.url} does not implement PATCH /comments/{{id}}")
        return response.status_code != 404

    def probe(self) -> str:
        """Writes nothing: looks up a source id nobody has, with the token. Says what
        answered; raises CheckFailed when the token is refused, HttpError otherwise."""
        try:
            response = self.client.request(
                "GET",
                "/comments",
                params={"source_id": PROBE_SOURCE_ID},
                ok=(200, *NOT_IMPLEMENTED),
                retry=False,
            )
        except HttpError as exc:
            if exc.status not in (401, 403):
                raise
            state = "is not set" if self.client.token is None else "was refused"
            variable = self.token_env or "<its variable>"
            where = f"${self.token_env}" if self.token_env else "the configured token"
            raise CheckFailed(
                f"{self.url} refused the request ({exc.status}): the token in {where} {state}",
                f"export {variable}=<the token the comment API expects> "
                "(for the Worker: its MIGRATE_TOKEN secret)",
            ) from exc
        if self.client.token is None and (response.status_code == 200 or is_not_found(response)):
            return (
                f"{self.url} answers without a token (no token_env set, ${DEFAULT_TOKEN_ENV} "
                "unset): fine if your API needs none"
            )
        if response.status_code == 200 or is_not_found(response):
            return f"{self.url} answers and accepts the token (lookup by source id)"
        return (
            f"{self.url} answers ({response.status_code}) but has no lookup by source id, "
            "so the token is not proven until the first comment is sent"
        )

    def close(self) -> None:
        self.client.close()


PLUGIN = TargetPlugin(
    name="http",
    build=lambda section, run: HttpTarget(
        section.text("url"),
        token=section.required_token(DEFAULT_TOKEN_ENV, "[target]"),
        token_env=section.text("token_env", DEFAULT_TOKEN_ENV),
        timeout=run.timeout,
        policy=retry_policy(run),
        batch_size=section.get("batch_size"),
    ),
    capabilities=lambda section: HttpTarget.capabilities,
    identity=lambda section: {"url": section.text("url").rstrip("/")},
    schema={
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://[^\\s]+$",
                "examples": ["https://comments.example.org"],
            },
            "token_env": {
                "type": "string",
                "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                "examples": ["TARGET_TOKEN"],
                "description": "the variable holding the bearer token; unset: the run stops",
            },
            # comments per POST /comments/batch; 0: never batch; unset: 50 if the server can
            "batch_size": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_BATCH_SIZE,
                "examples": [DEFAULT_BATCH_SIZE],
                "description": "comments per POST /comments/batch; 0: never batch",
            },
        },
    },
)
