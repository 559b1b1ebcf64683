"""GitHub Discussions as giscus shows them: one discussion per page, the comments in it.

- The discussion: found in the configured category by giscus's term for the page (its
  title) and the `sha1:` hash of the term in its body, as giscus or an earlier run made it;
  else created as giscus creates one (migrate/systems/github/giscus.py), plus a hidden mark
  saying this tool made it (rollback deletes only those). The category's discussions are
  listed once per run (listing is consistent where GitHub's search index lags).
- Comments: `addDiscussionComment`, replies with `replyToId`. GitHub keeps two levels, so
  `max_depth = 1`: the pipeline hangs deeper replies under their thread's top comment,
  beginning with "@Name: ". GitHub cannot set the author or the date: each body begins with
  a line naming them (giscus.attribution) and ends with a hidden marker holding the source
  id, by which `reconcile` adopts what an interrupted run created, and a resend after a lost
  answer finds what GitHub created after all.
- Within GitHub's limits (migrate/systems/github/api.py, utils/pace.py): creations paced
  at `per_minute` / `per_hour`, limit answers waited out as told; the send times are kept
  beside the checkpoint so a restarted run keeps the pace, and `status` shows the end.
- `list_page` (verify, rollback's backup), `update` (sync's edits), `delete` (rollback,
  sync's deletions: the comment, then the discussion once empty if this tool made it),
  `remove_made` (rollback, for every page the checkpoint knows: the discussion this tool
  made, if nothing is in it, as a run killed before its first comment leaves it),
  `probe` (check: token, repository, discussions enabled, category; writes nothing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from migrate.abilities import CheckFailed, DurableEachComment, PageError
from migrate.model import Capabilities, Created, OutgoingComment, Page, TargetComment
from migrate.systems.github import giscus, queries
from migrate.systems.github.api import DEFAULT_API_URL, GitHubGraphQL, GraphQLFailed
from migrate.systems.github.discussions import Discussion, Discussions, Found
from utils.http import HttpError
from utils.pace import Pacer, WaitInterrupted
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

# the windows are kept 2% longer than configured: network and clock jitter must not carry
# one creation into a window GitHub already counts as full
PACE_MARGIN = 1.02

CAPABILITIES = Capabilities(
    max_depth=1,
    keeps_timestamps=False,
    idempotency="reconcile",
    can_delete=True,
    content="markdown",
    ordered_per_page=True,  # giscus shows comments in the order GitHub received them
    keeps_avatars=False,
    keeps_authors=False,  # every comment is the token's; the author is named in its text
)


class GitHubTarget(DurableEachComment):
    name = "github"
    capabilities = CAPABILITIES
    made_per_page = "discussion"  # one per page; rollback removes ours (remove_made)

    def __init__(
        self,
        repo: str,
        category: str,
        *,
        mapping: str = "pathname",
        token: str | None = None,
        token_env: str = "GITHUB_TOKEN",  # noqa: S107 - the variable's name, not a secret
        api_url: str = DEFAULT_API_URL,
        site_url: str | None = None,
        title_format: str = "{title}",
        per_minute: float = 80,
        per_hour: float = 500,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        pace_file: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.owner, _, self.repo_name = repo.partition("/")
        self.repo, self.category, self.token_env = repo, category, token_env
        self.mapping = mapping
        limits = [
            (count, PACE_MARGIN * seconds * count / per)
            for per, seconds in ((per_minute, 60.0), (per_hour, 3600.0))
            for count in (max(1, round(per)),)
        ]
        self.pacer = Pacer(limits, store=pace_file, clock=clock, sleep=sleep)
        self.api = GitHubGraphQL(api_url, token=token, pacer=self.pacer, timeout=timeout,
                                 policy=policy)  # fmt: skip
        self.discussions = Discussions(
            self.api, repo, category, mapping=mapping, site_url=site_url, title_format=title_format
        )
        self._left: dict[str, set[str]] = {}  # rollback: comment ids left per discussion

    def __repr__(self) -> str:
        return f"GitHubTarget({self.repo!r}, {self.category!r})"

    def identity(self) -> Mapping[str, str]:
        # as the plugin names it from a configuration: one identity (migrate/identity.py)
        return {"repo": self.repo.lower(), "category": self.category, "mapping": self.mapping}

    # -- comments ----------------------------------------------------------------------------

    def check(self, outgoing: OutgoingComment) -> str | None:
        size = len(giscus.comment_body(outgoing))
        if size > giscus.MAX_BODY:
            return (
                f"too long for GitHub ({size} characters with its attribution line; "
                f"at most {giscus.MAX_BODY})"
            )
        return None

    def begin_page(self, page: Page) -> None:
        self.discussions.term(
            page
        )  # a page without what its term needs fails before anything is sent

    def create(self, outgoing: OutgoingComment) -> Created:
        try:
            return self._create(outgoing)
        except WaitInterrupted as stopped:  # unsent: the next run sends it
            raise PageError(f"{outgoing.page.id}: {stopped}", retryable=True) from stopped

    def _create(self, outgoing: OutgoingComment) -> Created:
        found = self.discussions.discussion(outgoing.page, create=True)
        assert found is not None
        source_id = outgoing.source.id

        def look_before_resending() -> None:
            for node, parent in self.comments(found.id):
                if giscus.parse_body(node["body"]).source_id == source_id:
                    raise Found(node["id"], parent)

        fields = {"discussionId": found.id, "body": giscus.comment_body(outgoing)}
        if outgoing.parent_target_id is not None:
            fields["replyToId"] = outgoing.parent_target_id
        try:
            data = self.api.call(queries.ADD_COMMENT, {"input": fields}, creates=True,
                                 before_resend=look_before_resending)  # fmt: skip
        except Found as stored:
            log.info("%s: GitHub had made %s after all", outgoing.page.id, source_id)
            return Created(stored.target_id, stored.parent)
        except GraphQLFailed as exc:
            if "NOT_FOUND" in exc.types or "UNPROCESSABLE" in exc.types:
                raise PageError(f"{outgoing.page.id}: {exc.message}") from exc
            raise
        comment = data["addDiscussionComment"]["comment"]
        reply_to = comment.get("replyTo") or {}
        return Created(comment["id"], reply_to.get("id"))

    def comments(self, discussion_id: str) -> list[tuple[dict[str, Any], str | None]]:
        """Every comment and reply of a discussion, in order: (node, id of its parent)."""
        found: list[tuple[dict[str, Any], str | None]] = []
        after: str | None = None
        while True:
            data = self.api.call(queries.COMMENTS, {"id": discussion_id, "after": after})
            node = data.get("node") or {}
            page = node.get("comments")
            if page is None:
                return found  # the discussion is gone
            for comment in page["nodes"]:
                found.append((comment, None))
                found += [(reply, comment["id"]) for reply in self._replies(comment)]
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    def _replies(self, comment: Mapping[str, Any]) -> list[dict[str, Any]]:
        replies = comment["replies"]
        nodes = list(replies["nodes"])
        while replies["pageInfo"]["hasNextPage"]:
            variables = {"id": comment["id"], "after": replies["pageInfo"]["endCursor"]}
            replies = self.api.call(queries.REPLIES, variables)["node"]["replies"]
            nodes += replies["nodes"]
        return nodes

    def reconcile(
        self,
        page: Page,
        pending: Sequence[OutgoingComment],
        known_target_ids: Collection[str] = (),
    ) -> dict[str, str]:
        """Source id -> comment id of what an earlier run made on this page (by marker)."""
        found = self.discussions.discussion(page, create=False) if pending else None
        if found is None:
            return {}
        wanted = {out.source.id for out in pending}
        known = set(known_target_ids)
        adopted: dict[str, str] = {}
        for node, _ in self.comments(found.id):
            source_id = giscus.parse_body(node["body"]).source_id
            if source_id in wanted and source_id not in adopted and node["id"] not in known:
                adopted[source_id] = node["id"]
        return adopted

    def list_page(self, page: Page) -> list[TargetComment]:
        found = self.discussions.discussion(page, create=False)
        if found is None:
            return []
        held = []
        for node, parent in self.comments(found.id):
            parsed = giscus.parse_body(node["body"])
            login = (node.get("author") or {}).get("login") or ""
            held.append(
                TargetComment(
                    target_id=node["id"],
                    parent_target_id=parent,
                    author_name=parsed.author or login,
                    text=parsed.text,
                    created_at=datetime.fromisoformat(node["createdAt"].replace("Z", "+00:00")),
                    source_id=parsed.source_id,
                    raw={
                        "id": node["id"],
                        "body": node["body"],
                        "account": login,
                        "createdAt": node["createdAt"],
                    },
                )
            )
        return held

    def update(self, target_id: str, outgoing: OutgoingComment) -> bool:
        """Sync: the comment's new text (an edit, or a tombstone), attribution and marker
        kept; False when GitHub no longer has it. Paced like a creation: GitHub counts edits
        as content."""
        fields = {"commentId": target_id, "body": giscus.comment_body(outgoing)}
        try:
            self.api.call(queries.UPDATE_COMMENT, {"input": fields}, creates=True)
        except GraphQLFailed as exc:
            if "NOT_FOUND" not in exc.types:
                raise
            return False
        except WaitInterrupted as stopped:
            raise PageError(f"{outgoing.page.id}: {stopped}", retryable=True) from stopped
        return True

    # -- rollback ----------------------------------------------------------------------------

    def delete(self, target_id: str, page: Page) -> bool:
        found = self.discussions.discussion(page, create=False)
        if found is not None and found.id not in self._left:
            self._left[found.id] = {node["id"] for node, _ in self.comments(found.id)}
        try:
            self.api.call(queries.DELETE_COMMENT, {"input": {"id": target_id}})
            existed = True
        except GraphQLFailed as exc:
            if "NOT_FOUND" not in exc.types:
                raise
            existed = False
        if found is not None:
            left = self._left[found.id]
            left.discard(target_id)
            if not left and found.ours:
                self._delete_discussion(found)
        return existed

    def _delete_discussion(self, found: Discussion) -> bool:
        """Delete a discussion this tool made, once nothing is left in it (read again:
        a visitor may have commented meanwhile, and their comment would go with it)."""
        still = self.comments(found.id)
        if still:
            self._left[found.id] = {node["id"] for node, _ in still}
            log.info("discussion %r kept: %d comments are in it", found.term, len(still))
            return False
        try:
            self.api.call(queries.DELETE_DISCUSSION, {"input": {"id": found.id}})
        except GraphQLFailed as exc:
            if "NOT_FOUND" not in exc.types:
                raise
        self.discussions.forget(found)
        log.info("discussion %r deleted: this tool made it and nothing is left in it", found.term)
        return True

    def made_for(self, page: Page) -> bool:
        found = self.discussions.discussion(page, create=False)
        return found is not None and found.ours

    def remove_made(self, page: Page) -> bool:
        """A discussion a killed run made and never commented in (nothing of the page
        journaled), or one left after its comments went: deleted if ours and empty."""
        found = self.discussions.discussion(page, create=False)
        if found is None:
            return True  # gone already (`delete` took it with its last comment)
        return found.ours and self._delete_discussion(found)

    # -- check -------------------------------------------------------------------------------

    def probe(self) -> str:
        """Token, repository, Discussions on, the category there; writes nothing."""
        if self.api.client.token is None:
            raise CheckFailed(
                f"no token: ${self.token_env} is not set",
                f"export {self.token_env}=<a token allowed to write discussions in {self.repo}>",
            )
        try:
            data = self.api.call(queries.REPOSITORY, {"owner": self.owner, "name": self.repo_name})
        except GraphQLFailed as exc:
            if "NOT_FOUND" in exc.types:
                raise CheckFailed(
                    f"repository {self.repo} not found with this token",
                    "check `repo` and that the token may read it",
                ) from exc
            raise
        except HttpError as exc:
            if exc.status == 401:
                raise CheckFailed(
                    f"GitHub refused the token in ${self.token_env} ({exc.status})",
                    f"export {self.token_env}=<a valid token allowed to write discussions>",
                ) from exc
            raise
        try:
            repository = self.discussions.repository_from(data)
            category = self.discussions.category_of(repository)
        except PageError as exc:
            raise CheckFailed(exc.message, "enable Discussions and create the category") from exc
        rate = data.get("rateLimit") or {}
        return (
            f"{self.api.url} answers as {data['viewer']['login']}: {repository['nameWithOwner']} "
            f"has Discussions and the category {category['name']!r} "
            f"(permission {repository.get('viewerPermission')}, "
            f"{rate.get('remaining', '?')} points left this hour)"
        )

    def close(self) -> None:
        self.api.close()
