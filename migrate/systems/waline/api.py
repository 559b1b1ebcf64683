"""Waline's HTTP API as the administrator sees it: the reads the target and the source share.

- `GET /api/comment?path=<key>&page=N&pageSize=100` is what a visitor's widget reads (roots,
  each with its `children`, `comment` rendered to HTML); with the administrator's JWT the
  same endpoint also lists waiting and spam comments, and adds `orig` (the stored Markdown)
  and `mail`. Its `time` is milliseconds since the epoch, worked out by the server from its
  own stored wall clock, so it is right whatever the server's zone.
- `GET /api/db` is the administrator's export: every table, every row as stored.

Waline answers `{"errno": 0, "data": ...}`; any other errno is an error with its `errmsg`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from utils.http import HttpClient, HttpError

PAGE_SIZE = 100  # Waline's largest pageSize
_REFUSALS = {
    401: "no valid administrator's token (missing, expired, or signed for another server)",
    403: "the token is not an administrator's",
}


def waline_data(client: HttpClient, method: str, path: str, **kwargs: Any) -> Any:
    """One call; Waline's own error (`errno` other than 0) becomes an HttpError."""
    response = client.request(method, path, **kwargs)
    try:
        body = response.json()
    except ValueError as exc:
        raise HttpError(
            f"{method} {client.url(path)} answered {response.status_code} without JSON",
            status=response.status_code,
            url=client.url(path),
        ) from exc
    if not isinstance(body, dict) or body.get("errno"):
        errno = body.get("errno") if isinstance(body, dict) else None
        known = errno if isinstance(errno, int) and errno in _REFUSALS else None
        message = (body.get("errmsg") if isinstance(body, dict) else None) or (
            _REFUSALS[known] if known else repr(body)
        )
        raise HttpError(
            f"{method} {client.url(path)}: Waline answered {errno}: {message}",
            status=known or 400,
            url=client.url(path),
            body=message,
        )
    return body.get("data")


def page_comments(client: HttpClient, key: str) -> list[dict[str, Any]]:
    """Every comment of the page at `key` (all statuses with an admin token), flattened:
    each root, then its children, as the widget API serves them."""
    found: list[dict[str, Any]] = []
    number = 1
    while True:
        data = waline_data(
            client,
            "GET",
            "/api/comment",
            params={"path": key, "page": number, "pageSize": PAGE_SIZE},
        )
        if not isinstance(data, Mapping):
            return found
        for root in data.get("data") or ():
            found.append(root)
            found.extend(root.get("children") or ())
        if number >= int(data.get("totalPages") or 0):
            return found
        number += 1


def shown_time(comment: Mapping[str, Any]) -> datetime | None:
    """The comment's time as the widget shows it (`time`, ms since the epoch)."""
    value = comment.get("time")
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def target_id(value: object) -> str | None:
    return None if value in (None, "", 0) else str(value)
