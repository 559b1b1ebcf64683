"""The HTTP contract's page listing, `GET {url}/comments?page_id=...[&cursor=...]`, followed
to its end, and only to its end.

A server's cursor is opaque, so a listing that never ends is told by its shape: a cursor
that comes back a second time (the server answers the same `next` forever), or more
requests than any page can need (`MAX_LISTING_REQUESTS`). Either is an HttpError naming the
endpoint and the page, which fails that page (a run, `verify`) or stops `rollback` before
anything is deleted, instead of looping until the process is killed.
"""

from __future__ import annotations

import logging

from migrate.model import TargetComment
from migrate.systems.http.answers import json_or_none, listed_comment
from utils.http import HttpClient, HttpError

log = logging.getLogger(__name__)

NOT_IMPLEMENTED = (404, 405, 501)
# a million comments at the Worker's default 100 per answer: no blog page has that many
MAX_LISTING_REQUESTS = 10_000


def list_comments(
    client: HttpClient, page_id: str, *, max_requests: int = MAX_LISTING_REQUESTS
) -> list[TargetComment] | None:
    """Every comment the server lists for `page_id`, or None when it has no listing."""
    comments: list[TargetComment] = []
    params: dict[str, str] = {"page_id": page_id}
    endpoint = f"GET {client.url('/comments')}?page_id="
    seen: set[str] = set()
    requests_made = 0
    while True:
        response = client.request("GET", "/comments", params=params, ok=(200, *NOT_IMPLEMENTED))
        requests_made += 1
        body = json_or_none(response)
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("comments"), list)
        ):
            return None
        comments.extend(listed_comment(item, endpoint, response) for item in body["comments"])
        cursor = body.get("next")
        if not cursor:
            return comments
        cursor = str(cursor)
        if cursor in seen:
            raise HttpError(
                f"{endpoint}{page_id}: the listing answered the cursor {cursor[:80]!r} a "
                f"second time (after {requests_made} requests): its pagination never ends; "
                "fix the server's `next`",
                url=response.url,
            )
        if requests_made >= max_requests:
            raise HttpError(
                f"{endpoint}{page_id}: still not at the end after {requests_made} requests "
                f"({len(comments)} comments): the server's `next` never ends",
                url=response.url,
            )
        seen.add(cursor)
        params = {"page_id": page_id, "cursor": cursor}
