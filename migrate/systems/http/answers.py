"""What the answers of the HTTP comment API mean (migrate.systems.http.target): ids, a batch's
per-item results, listed comments, and a 404 that says "no such comment".

Ids are non-empty strings or integers (an integer becomes its decimal string; a JSON `true`
is not an integer here). Anything else, or a missing id, raises HttpError naming the endpoint
and what came back: a wrong id recorded in the checkpoint would hang every later reply under a
comment that does not exist.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from migrate.abilities import PageError
from migrate.files.records import parse_rfc3339
from migrate.model import Created, OutgoingComment, TargetComment
from utils.http import HttpError

log = logging.getLogger(__name__)


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _shown(body: Any) -> str:
    """What a server answered, short enough for a message."""
    text = json.dumps(body, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


def _valid_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None  # a bool is an int to Python, never an id
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def target_id_of(body: Any, key: str, endpoint: str, response: requests.Response) -> str:
    """`body[key]` as a target id. Raises HttpError naming the endpoint and the answer when
    it is missing or not an id."""
    value = body.get(key) if isinstance(body, dict) else None
    valid = _valid_id(value)
    if valid is None:
        problem = (
            f"without {key!r}"
            if value is None
            else (f"with {key!r} = {_shown(value)}, not a non-empty string or an integer")
        )
        raise HttpError(
            f"{endpoint} -> {response.status_code}: an answer {problem}: {_shown(body)}",
            status=response.status_code,
            url=response.url,
            body=body,
        )
    return valid


def parent_id_of(body: Any, endpoint: str, response: requests.Response) -> str | None:
    """`body["parent_id"]` as a target id, None for a top-level comment."""
    if not isinstance(body, dict) or body.get("parent_id") is None:
        return None
    return target_id_of(body, "parent_id", endpoint, response)


def is_not_found(response: requests.Response) -> bool:
    """A 404 that says "no such comment" rather than "no such endpoint"."""
    return response.status_code == 404 and isinstance(json_or_none(response), dict)


def batch_result(
    where: str, index: int, outgoing: OutgoingComment, item: Any
) -> Created | PageError:
    """One item of a batch answer: created, already there, or the server's refusal."""
    what = f"{where}: item {index} ({outgoing.source.id})"
    if not isinstance(item, dict):
        return PageError(f"{what}: the result is not a JSON object")
    error = item.get("error")
    if error is not None:
        status = item.get("status")  # optional: what a single POST would have answered
        code = f" -> {status}" if isinstance(status, int) and not isinstance(status, bool) else ""
        return PageError(f"{what}{code}: {str(error)[:500]}")
    target_id = item.get("id")
    if isinstance(target_id, bool) or not isinstance(target_id, str | int) or target_id == "":
        return PageError(f"{what}: the result has no usable id")
    parent = item.get("parent_id", outgoing.parent_target_id)
    return Created(
        target_id=str(target_id),
        parent_target_id=None if parent is None else str(parent),
        already_existed=item.get("existing") is True,
    )


def server_batch_limit(response: requests.Response) -> int | None:
    """The most comments per batch the server says it takes: its `X-Batch-Limit` header, or
    `max_batch` in a 413's body (None when it says neither, or nothing usable)."""
    said: Any = response.headers.get("X-Batch-Limit")
    if said is None:
        body = json_or_none(response)
        said = body.get("max_batch") if isinstance(body, dict) else None
    if isinstance(said, bool):
        return None
    try:
        limit = int(said)
    except (TypeError, ValueError):
        return None
    return limit if limit >= 1 else None


def listed_comment(item: Any, endpoint: str, response: requests.Response) -> TargetComment:
    target_id = target_id_of(item, "id", endpoint, response)  # so item is a dict below
    parent = parent_id_of(item, endpoint, response)
    author = item.get("author")
    author = author if isinstance(author, dict) else {}
    source = item.get("source") or {}
    source_id = source.get("id") if isinstance(source, dict) else None
    return TargetComment(
        target_id=target_id,
        parent_target_id=parent,
        author_name=str(author.get("name") or ""),
        text=str(item.get("text") or ""),
        created_at=parse_rfc3339(item.get("created_at")),
        source_id=None if source_id is None else str(source_id),
        html=item["html"] if isinstance(item.get("html"), str) else None,
        author_avatar_url=_text_or_none(author.get("avatar_url")),
        raw=dict(item),
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
