"""A STAND-IN FOR GITHUB'S GRAPHQL API, checked against GitHub's published schema.

GitHub cannot run on these machines, so the GitHub target is tested against this server on
127.0.0.1. It is not GitHub. What makes it worth testing against:
- every query and mutation is parsed, validated and executed by graphql-core against GitHub's
  own schema, the `schema.graphql` of the npm package `@octokit/graphql-schema` (installed
  with npm into a cache folder by `schema_path()`): a field GitHub lacks, a wrong argument
  type or a missing variable fails as it would on GitHub (and is kept in `invalid`);
- its data (migrate.testing.github_store) keeps the rules the migration depends on: two
  levels of comments, NOT_FOUND for unknown ids, deletion of replies with their comment;
- it answers limits the way GitHub documents them: the primary limit (points per hour) with
  200, a RATE_LIMITED error and `x-ratelimit-remaining: 0`; the secondary limits on content
  creation (`per_minute`, `per_hour` creations, sliding windows) with 403, 429 or a 200
  GraphQL error naming "secondary rate limit" (`secondary_answers`, taken in turn), with
  `retry-after` (unless `retry_after=False`); every answer carries the x-ratelimit-* headers.
  `rate_headers=False` leaves them out (only `rateLimit` in a query tells the budget then).
  `minute` sets how many real seconds its minute lasts (tests shrink it; its hour is 60 such
  minutes).

Importable without pytest::

    server = GitHubStandIn(token="t", per_minute=20, minute=2.0).start()
    ... GitHubTarget("owner/site", "Comments", token="t", api_url=server.url) ...
    server.store.discussions, server.requests, server.secondary_hits, server.invalid
    server.stop()

`kill_after_creations(pid, n)`: SIGKILL `pid` right after the n-th creation from now is
stored, before it is answered (the crash window of the exactly-once protocol); with
`counting_from="createDiscussion"` the count starts at the first such creation (n=1: right
after a discussion is made, before its first comment).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from migrate.testing.github_store import GitHubError, Store
from migrate.testing.loopback import Answer, serve

log = logging.getLogger(__name__)

SCHEMA_PACKAGE = "@octokit/graphql-schema"
SCHEMA_VERSION = "15.26.1"
SCHEMA_ENV = "GITHUB_GRAPHQL_SCHEMA"  # a schema.graphql to use instead of the npm package
# what GitHub counts as content creation (edits included) for its secondary limits
CREATIONS = frozenset({"createDiscussion", "addDiscussionComment", "updateDiscussionComment"})
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
DOCS = "https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "comment-migrate" / f"octokit-graphql-schema-{SCHEMA_VERSION}"


def schema_path(cache_dir: Path | None = None) -> Path:
    """GitHub's published schema.graphql, installed with npm into `cache_dir` once."""
    override = os.environ.get(SCHEMA_ENV)
    if override:
        return Path(override)
    folder = cache_dir or default_cache()
    path = folder / "node_modules" / SCHEMA_PACKAGE / "schema.graphql"
    if path.is_file():
        return path
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is needed once to install {SCHEMA_PACKAGE} (GitHub's schema)")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder),
         f"{SCHEMA_PACKAGE}@{SCHEMA_VERSION}"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return path


@cache
def github_schema(path: Path) -> GraphQLSchema:
    # GitHub's published SDL defines two fields twice (EnterpriseOwnerInfo), which strict SDL
    # validation rejects; the schema itself builds and validates documents as GitHub does
    return build_schema(path.read_text(encoding="utf-8"), assume_valid_sdl=True)


def _format(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(original, GitHubError):
        formatted["type"] = original.kind
    elif isinstance(error, GitHubError):
        formatted["type"] = error.kind
    return formatted


class GitHubStandIn:
    def __init__(
        self,
        *,
        token: str = "standin-token",  # noqa: S107 - the stand-in's own test token
        repo: str = "owner/site",
        categories: Sequence[str] = ("Announcements", "Comments"),
        discussions_enabled: bool = True,
        per_minute: int | None = None,
        per_hour: int | None = None,
        minute: float = 60.0,
        points_per_hour: int = 5000,
        secondary_answers: Sequence[str] = ("403",),
        retry_after: bool = True,
        rate_headers: bool = True,
        schema: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.store = Store(repo, tuple(categories), discussions_enabled=discussions_enabled)
        self.schema = github_schema(schema or schema_path())
        self.per_minute, self.per_hour = per_minute, per_hour
        self.minute = minute
        self.points_per_hour = points_per_hour
        self.secondary_answers = list(secondary_answers)
        self.retry_after = retry_after
        self.rate_headers = rate_headers  # False: as behind a proxy that drops them
        self.clock = clock
        self.lock = threading.Lock()
        self.creations: deque[float] = deque()  # times of stored creations (last hour)
        self.window_start = clock()
        self.points_used = 0
        self.requests = 0
        self.operations: Counter[str] = Counter()  # top-level field -> times executed
        self.invalid: list[str] = []  # documents the schema refused, with why
        self.torn = 0  # bodies that were not JSON (a client killed while sending)
        self.secondary_hits = 0
        self.secondary_kinds: Counter[str] = Counter()
        self.primary_hits = 0
        self.created_at: list[float] = []  # when each creation was stored
        self._kill: tuple[int, int] | None = None  # (pid, creations left)
        self._kill_from: str | None = None  # the creation that starts the count
        self.kills = 0
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    # -- serving ------------------------------------------------------------------------------

    def start(self) -> Self:
        self._httpd, _ = serve(self)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/graphql"
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def kill_after_creations(
        self, pid: int, creations: int, *, counting_from: str | None = None
    ) -> None:
        with self.lock:
            self._kill, self._kill_from = (pid, creations), counting_from

    def disarm(self) -> None:
        with self.lock:
            self._kill = None

    # -- limits -------------------------------------------------------------------------------

    def _hour(self) -> float:
        return 60 * self.minute

    def _rate_headers(self, now: float) -> dict[str, str]:
        if now >= self.window_start + self._hour():
            self.window_start, self.points_used = now, 0
        if not self.rate_headers:
            return {}
        return {
            "x-ratelimit-limit": str(self.points_per_hour),
            "x-ratelimit-remaining": str(max(0, self.points_per_hour - self.points_used)),
            "x-ratelimit-used": str(self.points_used),
            "x-ratelimit-reset": str(math.ceil(self.window_start + self._hour())),
            "x-ratelimit-resource": "graphql",
        }

    def rate_limit(self) -> dict[str, Any]:
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.window_start + self._hour()))
        return {
            "cost": 1,
            "limit": self.points_per_hour,
            "remaining": max(0, self.points_per_hour - self.points_used),
            "used": self.points_used,
            "resetAt": reset,
            "nodeCount": 1,
        }

    def _secondary_wait(self, now: float) -> float | None:
        """Seconds until one more creation is within the secondary limits, or None."""
        while self.creations and self.creations[0] <= now - self._hour():
            self.creations.popleft()
        waits = []
        for limit, window in ((self.per_minute, self.minute), (self.per_hour, self._hour())):
            if limit is None:
                continue
            inside = [t for t in self.creations if t > now - window]
            if len(inside) >= limit:
                waits.append(inside[-limit] + window - now)
        return max(waits) if waits else None

    def _secondary_answer(self, wait: float, headers: dict[str, str]) -> Answer:
        self.secondary_hits += 1
        kind = self.secondary_answers[(self.secondary_hits - 1) % len(self.secondary_answers)]
        self.secondary_kinds[kind] += 1
        if self.retry_after:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        if kind == "graphql":
            return 200, {"errors": [{"message": SECONDARY_MESSAGE}]}, headers
        return int(kind), {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, headers

    # -- one request --------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if method != "POST":
            return 404, {"message": "Not Found"}, {}
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
        try:
            request = json.loads(raw)
            query = request["query"]
        except (ValueError, KeyError, TypeError):
            # a client killed while sending leaves half a body: not a query GitHub refused
            self.torn += 1
            return 400, {"message": "Problems parsing JSON", "documentation_url": DOCS}, {}
        try:
            document = parse(query)
        except GraphQLError as exc:
            self.invalid.append(f"unparseable: {exc.message}")
            return 200, {"errors": [{"message": f"Parse error: {exc.message}"}]}, {}
        problems = validate(self.schema, document)
        if problems:
            self.invalid += [p.message for p in problems]
            return 200, {"errors": [_format(p) for p in problems]}, {}
        fields = {
            selection.name.value
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
            for selection in definition.selection_set.selections
            if hasattr(selection, "name")
        }
        with self.lock:
            self.requests += 1
            now = self.clock()
            rate = self._rate_headers(now)
            if self.points_used >= self.points_per_hour:
                self.primary_hits += 1
                message = "API rate limit exceeded for user ID 1."
                return 200, {"errors": [{"type": "RATE_LIMITED", "message": message}]}, rate
            creates = bool(fields & CREATIONS)
            wait = self._secondary_wait(now) if creates else None
            if wait is not None:
                return self._secondary_answer(wait, rate)
            self.points_used += 1
            rate = self._rate_headers(now)
            with self.store.lock:
                result = execute_sync(
                    self.schema,
                    document,
                    root_value=self._root(document),
                    variable_values=request.get("variables") or {},
                )
            self.operations.update(fields)
            body: dict[str, Any] = {"data": result.data}
            if result.errors:
                body["errors"] = [_format(e) for e in result.errors]
            if creates and not result.errors:
                self.creations.append(now)
                self.created_at.append(now)
                self._maybe_kill(fields)
        return 200, body, rate

    def _root(self, document: Any) -> dict[str, Any]:
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        if operation.operation.value == "mutation":
            return self.store.mutation_root()
        return self.store.query_root(self.rate_limit)

    def _maybe_kill(self, fields: set[str]) -> None:
        if self._kill is None:
            return
        if self._kill_from is not None:
            if self._kill_from not in fields:
                return
            self._kill_from = None  # counted from here on
        pid, left = self._kill
        if left > 1:
            self._kill = (pid, left - 1)
            return
        self._kill = None
        try:
            os.kill(pid, signal.SIGKILL)
            self.kills += 1
        except ProcessLookupError:
            pass
