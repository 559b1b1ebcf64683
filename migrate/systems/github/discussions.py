"""A page's discussion: found in the configured category by giscus's term, or made as giscus
makes it (migrate/systems/github/giscus.py), plus a hidden mark saying this tool made it
(rollback deletes only those). The category's discussions are listed once per run: a
listing is consistent where GitHub's search index lags behind what was just created.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrate.abilities import PageError
from migrate.model import Page
from migrate.systems.github import giscus, queries
from migrate.systems.github.api import GitHubGraphQL

log = logging.getLogger(__name__)


@dataclass
class Discussion:
    id: str
    term: str
    ours: bool  # made by this tool (its hidden mark): rollback may delete it


class Found(Exception):
    """A lost attempt took effect after all: this is what it made."""

    def __init__(self, target_id: str, parent: str | None = None) -> None:
        super().__init__(target_id)
        self.target_id, self.parent = target_id, parent


class Discussions:
    """The discussions of one category of one repository, by giscus term."""

    def __init__(
        self,
        api: GitHubGraphQL,
        repo: str,
        category: str,
        *,
        mapping: str,
        site_url: str | None,
        title_format: str,
    ) -> None:
        self.api = api
        self.owner, _, self.repo_name = repo.partition("/")
        self.repo, self.category, self.mapping = repo, category, mapping
        self.site_url, self.title_format = site_url, title_format
        self._lock = threading.Lock()
        self._repo_id: str | None = None
        self._category_id: str | None = None
        self._index: dict[str, Discussion] | None = None
        self._term_locks: dict[str, threading.Lock] = {}
        self._term_pages: dict[str, str] = {}

    def page_url(self, page: Page) -> str | None:
        if self.site_url:
            return self.site_url.rstrip("/") + page.key
        return page.url

    def term(self, page: Page) -> str:
        term = giscus.term_for(
            self.mapping,
            key=page.key,
            title=page.title,
            url=self.page_url(page),
            title_format=self.title_format,
        )
        if not term:
            needs = "a URL (set site_url)" if self.mapping == "url" else "a title"
            raise PageError(f"page {page.id} has no {needs}, which mapping {self.mapping!r} needs")
        return term

    def _setup(self) -> tuple[str, str]:
        """The repository's and the category's ids (asked once)."""
        with self._lock:
            if self._repo_id is None or self._category_id is None:
                found = self.repository()
                self._repo_id, self._category_id = found["id"], self.category_of(found)["id"]
            return self._repo_id, self._category_id

    def repository(self) -> dict[str, Any]:
        return self.repository_from(
            self.api.call(queries.REPOSITORY, {"owner": self.owner, "name": self.repo_name})
        )

    def category_of(self, repository: Mapping[str, Any]) -> dict[str, Any]:
        nodes = repository["discussionCategories"]["nodes"]
        # giscus names the category; its slug or another case is what people type, too
        for key, wanted in (("name", self.category), ("slug", self.category),
                            ("lower", self.category.lower())):  # fmt: skip
            for node in nodes:
                if (node["name"].lower() if key == "lower" else node[key]) == wanted:
                    return dict(node)
        names = ", ".join(repr(c["name"]) for c in nodes) or "none"
        raise PageError(f"{self.repo} has no discussion category {self.category!r} ({names})")

    def _discussions(self) -> dict[str, Discussion]:
        """Term -> discussion, for the category's discussions (listed once per run)."""
        _, category_id = self._setup()
        with self._lock:
            if self._index is not None:
                return self._index
        index: dict[str, Discussion] = {}
        ranked: dict[str, tuple[bool, int]] = {}
        after: str | None = None
        while True:
            data = self.api.call(
                queries.DISCUSSIONS,
                {"owner": self.owner, "name": self.repo_name, "category": category_id,
                 "after": after},
            )  # fmt: skip
            page = data["repository"]["discussions"]
            for node in page["nodes"]:
                term, body = node["title"], node.get("body") or ""
                # giscus's strict mode trusts the hash; several with one title: the oldest
                rank = (not giscus.has_term_hash(body, term), int(node["number"]))
                if term not in ranked or rank < ranked[term]:
                    ranked[term] = rank
                    index[term] = Discussion(node["id"], term, giscus.DISCUSSION_MARKER in body)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        with self._lock:
            if self._index is None:
                self._index = index
            return self._index

    def discussion(self, page: Page, *, create: bool) -> Discussion | None:
        """The page's discussion: found, or (with `create`) made as giscus makes it."""
        term = self.term(page)
        with self._lock:
            lock = self._term_locks.setdefault(term, threading.Lock())
            other = self._term_pages.setdefault(term, page.id)
        if other != page.id:
            log.warning("pages %s and %s share the giscus term %r: one discussion", other,
                        page.id, term)  # fmt: skip
        with lock:
            found = self._discussions().get(term)
            if found is not None or not create:
                return found
            made = self._create_discussion(page, term)
            with self._lock:
                assert self._index is not None
                self._index[term] = made
            return made

    def _create_discussion(self, page: Page, term: str) -> Discussion:
        repo_id, category_id = self._setup()

        def look_before_resending() -> None:
            with self._lock:
                self._index = None  # list again: the lost attempt may have made it
            found = self._discussions().get(term)
            if found is not None:
                raise Found(found.id)

        link = self.page_url(page)  # giscus links the page as the browser had its address
        body = giscus.discussion_body(term, giscus.browser_url(link) if link else None)
        variables = {"input": {"repositoryId": repo_id, "categoryId": category_id,
                               "title": term, "body": body}}  # fmt: skip
        try:
            data = self.api.call(queries.CREATE_DISCUSSION, variables, creates=True,
                                 before_resend=look_before_resending)  # fmt: skip
        except Found as found:
            return Discussion(found.target_id, term, True)
        made = data["createDiscussion"]["discussion"]
        log.info("%s: discussion #%s made for term %r", page.id, made["number"], term)
        return Discussion(made["id"], term, True)

    def repository_from(self, data: Mapping[str, Any]) -> dict[str, Any]:
        repository = data.get("repository")
        if not isinstance(repository, dict):
            raise PageError(f"repository {self.repo} not found (or the token cannot see it)")
        if not repository.get("hasDiscussionsEnabled"):
            raise PageError(f"{self.repo} has Discussions turned off (Settings > Features)")
        return repository

    def forget(self, found: Discussion) -> None:
        with self._lock:
            if self._index is not None:
                self._index.pop(found.term, None)
