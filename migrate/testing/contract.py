"""An in-memory server implementing the HTTP target contract (migrate/systems/http/target.py), for
tests and benchmarks: a real threaded HTTP/1.1 server with keep-alive on 127.0.0.1.

Importable without pytest::

    from migrate.testing.contract import ContractServer
    server = ContractServer(token="s3cret", fault_rate=0.2, seed=1).start()
    ... HttpTarget(server.url, token="s3cret") ...
    server.comments, server.posts
    server.stop()

Constructor (all keyword-only, all optional):
- `token`: when set, every request needs `Authorization: Bearer <token>` (else 401).
- `fault_rate` (0..1), `faults` (default (500, 503, 429, "reset")), `seed`: each POST fails
  with that probability with a fault drawn from `faults` by a seeded RNG. 429 carries
  `Retry-After: 0`; "reset" closes the connection without a response (TCP RST).
- `accept_then_fail` (0..1): the share of those faults that come *after* the comment was
  stored (the window between the server accepting and the client hearing about it).
- `fail_requests`: {request number: fault}, request numbers count every request from 1
  (reset() restarts them); a fault is 500/503/429/any status, "reset", or "accept:<fault>"
  (store first, then fail), e.g. {3: 503, 4: "accept:reset"}.
- `refuse_if`: callable(body) -> message | None; a message answers 400 {"error": message}.
- `delay`: seconds to wait before answering each request.
- `lookup`, `listing`, `deletion`, `patching` (default True): switch off GET ?source_id=,
  GET ?page_id= (both then answer a plain-text 404, like a server without the endpoint),
  DELETE or PATCH /comments/{id} (405).
- `batch` (default True): serve `POST /comments/batch`; False answers a plain-text 404 like
  a server without the endpoint, an int answers that status (e.g. 405) instead.
- `page_size`: comments per GET ?page_id= answer (the rest through the `next` cursor).
- `port`: the port on 127.0.0.1 (default 0: any free port).

Inspect: `url`, `comments` (stored POST bodies plus "id" and "idempotency_key", in order),
`posts` (POST requests received), `patches` (PATCH requests received), `requests` (all
requests), `faults_injected`, `batch_requests` (POSTs that reached /comments/batch),
`batch_sizes` (items of each batch it served, in order), `max_in_flight` (most requests
being answered at once), `max_in_flight_per_page` (page id -> most POSTs for it at once),
`reset()` (forget comments and counters, keep the settings). Server-side rules: a POST whose
`parent_id` is unknown is refused with 400 (in a batch: that item's {"error"}), so a reply
sent before its parent was stored shows; DELETE forgets the comment's Idempotency-Key;
PATCH takes {"text", "html", "edited_at"} and stores them.

The pytest fixture `contract_server` lives in tests/servers/contract.py.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from migrate.testing.loopback import Answer, Body, Fault, answer_fault, serve

logger = logging.getLogger(__name__)

__all__ = ["Body", "ContractServer", "Fault", "invalid_comment"]


class ContractServer:
    def __init__(
        self,
        *,
        token: str | None = None,
        fault_rate: float = 0.0,
        faults: Sequence[Fault] = (500, 503, 429, "reset"),
        accept_then_fail: float = 0.0,
        seed: int = 0,
        fail_requests: Mapping[int, Fault] | None = None,
        refuse_if: Callable[[Body], str | None] | None = None,
        delay: float = 0.0,
        lookup: bool = True,
        listing: bool = True,
        deletion: bool = True,
        batch: bool | int = True,
        patching: bool = True,
        page_size: int = 100,
        port: int = 0,
    ) -> None:
        self.token = token
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.accept_then_fail = accept_then_fail
        self.seed = seed
        self.fail_requests = dict(fail_requests or {})
        self.refuse_if = refuse_if
        self.delay = delay
        self.lookup = lookup
        self.listing = listing
        self.deletion = deletion
        self.batch = batch
        self.patching = patching
        self.page_size = page_size
        self.port = port  # 0: any free port
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.comments: list[Body] = []
            self._by_key: dict[str, str] = {}
            self._next = 1
            self.posts = 0
            self.patches = 0
            self.requests = 0
            self.faults_injected = 0
            self.batch_requests = 0
            self.batch_sizes: list[int] = []
            self.max_in_flight = 0
            self.max_in_flight_per_page: dict[str, int] = {}
            self._in_flight = 0
            self._in_flight_per_page: dict[str, int] = {}
            self._rng = random.Random(self.seed)  # noqa: S311  (reproducible faults, not secrets)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ContractServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        self._httpd, self._thread = serve(self, self.port)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def by_source_id(self, source_id: str) -> Body | None:
        with self._lock:
            return next((c for c in self.comments if c["source"]["id"] == source_id), None)

    # -- request handling (called from handler threads) ------------------------------------

    def _fault_for(self, method: str) -> tuple[int, Fault | None, bool]:
        """(request number, fault or None, store before failing?)"""
        with self._lock:
            self.requests += 1
            number = self.requests
            if method == "POST":
                self.posts += 1
            if method == "PATCH":
                self.patches += 1
            fault: Fault | None = self.fail_requests.get(number)
            accept = False
            if (
                fault is None
                and method == "POST"
                and self.fault_rate > 0
                and self._rng.random() < self.fault_rate
            ):
                fault = self._rng.choice(self.faults)
                accept = self._rng.random() < self.accept_then_fail
            if isinstance(fault, str) and fault.startswith("accept:"):
                fault, accept = fault.split(":", 1)[1], True
                fault = int(fault) if fault.isdigit() else fault
            if fault is not None:
                self.faults_injected += 1
            return number, fault, accept

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """One request -> (status, JSON body / plain text / nothing, extra headers)."""
        pages = _pages_of(raw) if method == "POST" else []
        self._enter(pages, +1)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(method, path, headers, raw)
        finally:
            self._enter(pages, -1)

    def _enter(self, pages: list[str], step: int) -> None:
        with self._lock:
            self._in_flight += step
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            for page in pages:
                now = self._in_flight_per_page.get(page, 0) + step
                self._in_flight_per_page[page] = now
                self.max_in_flight_per_page[page] = max(
                    self.max_in_flight_per_page.get(page, 0), now
                )

    def _answer(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        _, fault, accept = self._fault_for(method)
        if fault is not None and not accept:
            return answer_fault(fault)
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "missing or wrong bearer token"}, {}
        answer = self._route(method, path, headers, raw)
        if fault is not None:
            return answer_fault(fault)  # stored, but the client never hears so
        return answer

    def _route(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/comments" and method == "POST":
            return self._create(headers.get("Idempotency-Key"), raw)
        if parts.path == "/comments/batch" and method == "POST":
            with self._lock:
                self.batch_requests += 1
            if self.batch is not True:
                status = 404 if self.batch is False else int(self.batch)
                return status, "Not Found" if status == 404 else "Method Not Allowed", {}
            return self._create_batch(raw)
        if parts.path == "/comments" and method == "GET":
            if "source_id" in query:
                if not self.lookup:
                    return 404, "Not Found", {}
                found = self.by_source_id(query["source_id"])
                return (
                    (200, {"id": found["id"]}, {}) if found else (404, {"error": "not found"}, {})
                )
            if "page_id" in query:
                if not self.listing:
                    return 404, "Not Found", {}
                return 200, self._list(query["page_id"], int(query.get("cursor") or 0)), {}
            return 400, {"error": "give source_id or page_id"}, {}
        if parts.path.startswith("/comments/") and method == "DELETE":
            if not self.deletion:
                return 405, {"error": "method not allowed"}, {}
            return self._delete(unquote(parts.path[len("/comments/") :]))
        if parts.path.startswith("/comments/") and method == "PATCH":
            if not self.patching:
                return 405, {"error": "method not allowed"}, {}
            return self._patch(unquote(parts.path[len("/comments/") :]), raw)
        return 404, {"error": f"no endpoint {method} {parts.path}"}, {}

    def _create(self, key: str | None, raw: bytes) -> Answer:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "body is not JSON"}, {}
        status, answer = self._store(key, body)
        return status, answer, {}

    def _create_batch(self, raw: bytes) -> Answer:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "body is not JSON"}, {}
        items = body.get("comments") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return 400, {"error": "comments must be a list"}, {}
        with self._lock:
            self.batch_sizes.append(len(items))
        results: list[Body] = []
        for item in items:
            key = item.get("idempotency_key") if isinstance(item, dict) else None
            fields = (
                {k: v for k, v in item.items() if k != "idempotency_key"}
                if isinstance(item, dict)
                else item
            )
            status, answer = self._store(key if isinstance(key, str) else None, fields)
            if status == 201:
                results.append({"id": answer["id"]})
            elif status == 409:
                results.append({"id": answer["id"], "existing": True})
            else:
                results.append({"error": answer["error"], "status": status})
        return 200, {"results": results}, {}

    def _store(self, key: str | None, body: Any) -> tuple[int, Body]:
        """Store one comment: (201 | 409 | 400, answer)."""
        problem = invalid_comment(body)
        if problem is None and self.refuse_if is not None:
            problem = self.refuse_if(body)
        with self._lock:
            if key is not None and key in self._by_key:
                return 409, {"id": self._by_key[key]}
            if problem is not None:
                return 400, {"error": problem}
            parent = body.get("parent_id")
            if parent is not None and not any(c["id"] == parent for c in self.comments):
                return 400, {"error": f"unknown parent_id {parent}"}
            new_id = f"c{self._next}"
            self._next += 1
            self.comments.append({**body, "id": new_id, "idempotency_key": key})
            if key is not None:
                self._by_key[key] = new_id
            return 201, {"id": new_id}

    def _list(self, page_id: str, offset: int) -> Body:
        with self._lock:
            on_page = [c for c in self.comments if c["page"]["id"] == page_id]
        chunk = on_page[offset : offset + self.page_size]
        more = offset + self.page_size < len(on_page)
        return {
            "comments": [
                {
                    "id": c["id"],
                    "parent_id": c["parent_id"],
                    "author": {
                        "name": c["author"]["name"],
                        "avatar_url": c["author"].get("avatar_url"),
                    },
                    "text": c["text"],
                    "html": c.get("html"),
                    "created_at": c["created_at"],
                    "source": {"id": c["source"]["id"]},
                }
                for c in chunk
            ],
            "next": str(offset + self.page_size) if more else None,
        }

    def _patch(self, comment_id: str, raw: bytes) -> Answer:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "body is not JSON"}, {}
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("text"), str)
            or "html" not in body
            or "edited_at" not in body
        ):
            return 400, {"error": "PATCH needs text, html and edited_at"}, {}
        with self._lock:
            for comment in self.comments:
                if comment["id"] == comment_id:
                    comment.update(
                        text=body["text"], html=body["html"], edited_at=body["edited_at"]
                    )
                    return 200, {"id": comment_id}, {}
        return 404, {"error": "not found"}, {}

    def _delete(self, comment_id: str) -> Answer:
        with self._lock:
            for index, comment in enumerate(self.comments):
                if comment["id"] == comment_id:
                    del self.comments[index]
                    if comment.get("idempotency_key") is not None:
                        self._by_key.pop(comment["idempotency_key"], None)
                    return 204, None, {}
        return 404, {"error": "not found"}, {}


def _pages_of(raw: bytes) -> list[str]:
    """Page ids a POST body (one comment or a batch) is about, for the in-flight counts."""
    try:
        body = json.loads(raw)
    except ValueError:
        return []
    items = body.get("comments", [body]) if isinstance(body, dict) else []
    pages = {
        item["page"]["id"]
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("page"), dict)
        and isinstance(item["page"].get("id"), str)
    }
    return sorted(pages)


def invalid_comment(body: object) -> str | None:
    """Why a comment (a POST body, or one item of a batch) breaks the contract, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    page, author, source = body.get("page"), body.get("author"), body.get("source")
    if not isinstance(page, dict) or not isinstance(page.get("id"), str):
        return "page.id is required"
    if not isinstance(author, dict) or not isinstance(author.get("name"), str):
        return "author.name is required"
    if not isinstance(source, dict) or not isinstance(source.get("id"), str):
        return "source.id is required"
    if not isinstance(body.get("text"), str):
        return "text is required"
    created = body.get("created_at")
    if not isinstance(created, str) or not created.endswith("Z"):
        return "created_at must be RFC 3339 in UTC"
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "created_at must be RFC 3339 in UTC"
    for key in ("parent_id", "html"):
        if key not in body:
            return f"{key} is required (null allowed)"
    return None
