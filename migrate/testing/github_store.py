"""The stand-in for GitHub's data: one repository's discussions and comments in memory, and
the resolvers that answer GraphQL over them (used by migrate.testing.github_standin).

A STAND-IN, not GitHub: what it answers follows GitHub's GraphQL reference for the fields the
migration uses, and graphql-core executes every document against GitHub's published schema,
so a field GitHub lacks or a wrong type fails. Rules it keeps: two levels (a reply to a reply
is refused, as GitHub refuses it), a blank body is refused, unknown ids are NOT_FOUND,
deleting a comment deletes its replies, deleting a discussion deletes its comments. Search
is a simplified GitHub search: `repo:`, `category:`, `in:title` / `in:body` and one quoted
phrase or words, matched as case-insensitive substrings (GitHub matches words; substring
matching is the stricter test of giscus's non-strict mode, which can match several).
"""

from __future__ import annotations

import itertools
import re
import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

VIEWER = "standin-bot"


class GitHubError(GraphQLError):
    """An error as GitHub reports it: a `type` beside the message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Comment:
    id: str
    discussion_id: str
    body: str
    created_at: str
    reply_to: str | None = None
    replies: list[str] = field(default_factory=list)


@dataclass
class Discussion:
    id: str
    number: int
    title: str
    body: str
    category_id: str
    created_at: str
    updated_at: str
    comments: list[str] = field(default_factory=list)  # top-level comment ids, in order


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def connection(items: list[Any], args: dict[str, Any], cursor: Callable[[Any], str]) -> Any:
    """A GraphQL connection over `items` (first/last/after/before, cursors by item)."""
    keys = [cursor(item) for item in items]
    start, end = 0, len(items)
    if args.get("after") in keys:
        start = keys.index(args["after"]) + 1
    if args.get("before") in keys:
        end = keys.index(args["before"])
    if args.get("first") is not None:
        end = min(end, start + int(args["first"]))
    if args.get("last") is not None:
        start = max(start, end - int(args["last"]))
    window = items[start:end]
    return {
        "totalCount": len(items),
        "nodes": window,
        "edges": [{"node": item, "cursor": cursor(item)} for item in window],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": keys[start] if window else None,
            "endCursor": keys[end - 1] if window else None,
        },
    }


class Store:
    """One repository (`owner/name`) with its categories, discussions and comments."""

    def __init__(
        self, repo: str, categories: tuple[str, ...], *, discussions_enabled: bool = True
    ) -> None:
        self.owner, self.name = repo.split("/")
        self.repo_id = "R_standin"
        self.discussions_enabled = discussions_enabled
        self.categories = [
            {"id": f"DIC_{i}", "name": name, "slug": re.sub(r"\W+", "-", name.lower())}
            for i, name in enumerate(categories, 1)
        ]
        self.discussions: dict[str, Discussion] = {}
        self.comments: dict[str, Comment] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.numbers = 0

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    # -- objects as GraphQL sees them ---------------------------------------------------------

    def repository(self) -> dict[str, Any]:
        return {
            "__typename": "Repository",
            "id": self.repo_id,
            "name": self.name,
            "nameWithOwner": f"{self.owner}/{self.name}",
            "hasDiscussionsEnabled": self.discussions_enabled,
            "viewerPermission": "ADMIN",
            "discussionCategories": lambda info, **args: connection(
                [self.category(c["id"]) for c in self.categories], args, lambda c: c["id"]
            ),
            "discussions": self._discussions,
        }

    def category(self, category_id: str) -> dict[str, Any]:
        found = next(c for c in self.categories if c["id"] == category_id)
        return {"__typename": "DiscussionCategory", **found}

    def _discussions(self, info: GraphQLResolveInfo, **args: Any) -> Any:
        items = [
            d
            for d in self.discussions.values()
            if args.get("categoryId") is None or d.category_id == args["categoryId"]
        ]
        order = args.get("orderBy") or {"field": "UPDATED_AT", "direction": "DESC"}
        key = "created_at" if order["field"] == "CREATED_AT" else "updated_at"
        items.sort(key=lambda d: (getattr(d, key), d.number), reverse=order["direction"] == "DESC")
        return connection([self.discussion(d) for d in items], args, lambda d: d["id"])

    def discussion(self, d: Discussion) -> dict[str, Any]:
        return {
            "__typename": "Discussion",
            "id": d.id,
            "number": d.number,
            "title": d.title,
            "body": d.body,
            "createdAt": d.created_at,
            "updatedAt": d.updated_at,
            "url": f"https://github.com/{self.owner}/{self.name}/discussions/{d.number}",
            "category": self.category(d.category_id),
            "repository": self.repository(),
            "author": {"__typename": "User", "login": VIEWER},
            "comments": lambda info, **args: connection(
                [self.comment(self.comments[c]) for c in d.comments], args, lambda c: c["id"]
            ),
        }

    def comment(self, c: Comment) -> dict[str, Any]:
        parent = self.comments.get(c.reply_to) if c.reply_to else None
        return {
            "__typename": "DiscussionComment",
            "id": c.id,
            "body": c.body,
            "createdAt": c.created_at,
            "author": {"__typename": "User", "login": VIEWER},
            "isMinimized": False,
            "deletedAt": None,
            "replyTo": self.comment(parent) if parent is not None else None,
            "discussion": self.discussion(self.discussions[c.discussion_id]),
            "replies": lambda info, **args: connection(
                [self.comment(self.comments[r]) for r in c.replies], args, lambda r: r["id"]
            ),
        }

    # -- queries ------------------------------------------------------------------------------

    def query_root(self, rate_limit: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return {
            "viewer": {"__typename": "User", "login": VIEWER},
            "rateLimit": lambda info, **args: rate_limit(),
            "repository": self._repository_field,
            "node": lambda info, **args: self.node(args["id"]),
            "search": self._search,
        }

    def _repository_field(self, info: GraphQLResolveInfo, **args: Any) -> Any:
        owner, name = str(args["owner"]), str(args["name"])
        if (owner.lower(), name.lower()) != (self.owner.lower(), self.name.lower()):
            raise GitHubError(
                "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return self.repository()

    def node(self, node_id: str) -> dict[str, Any] | None:
        if node_id in self.discussions:
            return self.discussion(self.discussions[node_id])
        if node_id in self.comments:
            return self.comment(self.comments[node_id])
        raise GitHubError(
            "NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'"
        )

    def _search(self, info: GraphQLResolveInfo, **args: Any) -> Any:
        found = self.search(str(args["query"])) if args["type"] == "DISCUSSION" else []
        result = connection([self.discussion(d) for d in found], args, lambda d: d["id"])
        result["discussionCount"] = len(found)
        return result

    def search(self, query: str) -> list[Discussion]:
        """Discussions matching a search string (the simplified rules in the docstring)."""
        repo, category, words = None, None, []
        where: tuple[str, ...] = ("title", "body")
        for token in shlex.split(query):
            qualifier, _, value = token.partition(":")
            if value and qualifier == "repo":
                repo = value.lower()
            elif value and qualifier == "category":
                category = value.lower()
            elif value and qualifier == "in":
                where = (value,)
            else:
                words.append(token.lower())
        if repo is not None and repo != f"{self.owner}/{self.name}".lower():
            return []
        names = {c["id"]: c["name"].lower() for c in self.categories}
        found = []
        for d in sorted(self.discussions.values(), key=lambda d: d.number):
            text = " ".join(getattr(d, part, "") for part in where).lower()
            if category is not None and names[d.category_id] != category:
                continue
            if all(word in text for word in words):
                found.append(d)
        return found

    # -- mutations ----------------------------------------------------------------------------

    def mutation_root(self) -> dict[str, Any]:
        return {
            "createDiscussion": lambda info, input: {"discussion": self.create_discussion(input)},
            "addDiscussionComment": lambda info, input: {"comment": self.add_comment(input)},
            "updateDiscussionComment": lambda info, input: {"comment": self.update_comment(input)},
            "deleteDiscussionComment": lambda info, input: {"comment": self.delete_comment(input)},
            "deleteDiscussion": lambda info, input: {"discussion": self.delete_discussion(input)},
        }

    def create_discussion(self, fields: dict[str, Any]) -> dict[str, Any]:
        if fields["repositoryId"] != self.repo_id:
            raise GitHubError("NOT_FOUND", "Could not resolve to a node with the global id")
        if not any(c["id"] == fields["categoryId"] for c in self.categories):
            raise GitHubError("NOT_FOUND", "Could not resolve to a DiscussionCategory")
        if not fields["title"].strip() or not fields["body"].strip():
            raise GitHubError("UNPROCESSABLE", "Title can't be blank, Body can't be blank")
        now = _now()
        self.numbers += 1  # numbers are never reused, like GitHub's
        d = Discussion(
            self._id("D"), self.numbers, fields["title"], fields["body"], fields["categoryId"],
            now, now,
        )  # fmt: skip
        self.discussions[d.id] = d
        return self.discussion(d)

    def add_comment(self, fields: dict[str, Any]) -> dict[str, Any]:
        d = self.discussions.get(fields["discussionId"])
        if d is None:
            raise GitHubError("NOT_FOUND", "Could not resolve to a Discussion")
        if not fields["body"].strip():
            raise GitHubError("UNPROCESSABLE", "Body can't be blank")
        reply_to = fields.get("replyToId")
        if reply_to is not None:
            parent = self.comments.get(reply_to)
            if parent is None or parent.discussion_id != d.id:
                raise GitHubError("NOT_FOUND", "Could not resolve to a DiscussionComment")
            if parent.reply_to is not None:  # GitHub keeps two levels
                raise GitHubError("UNPROCESSABLE", "Parent comment is already a reply")
        c = Comment(self._id("DC"), d.id, fields["body"], _now(), reply_to)
        self.comments[c.id] = c
        if reply_to is None:
            d.comments.append(c.id)
        else:
            self.comments[reply_to].replies.append(c.id)
        d.updated_at = c.created_at
        return self.comment(c)

    def update_comment(self, fields: dict[str, Any]) -> dict[str, Any]:
        c = self._known_comment(fields["commentId"])
        if not fields["body"].strip():
            raise GitHubError("UNPROCESSABLE", "Body can't be blank")
        c.body = fields["body"]
        return self.comment(c)

    def _known_comment(self, comment_id: str) -> Comment:
        c = self.comments.get(comment_id)
        if c is None:
            raise GitHubError(
                "NOT_FOUND", f"Could not resolve to a node with the global id of '{comment_id}'"
            )
        return c

    def delete_comment(self, fields: dict[str, Any]) -> dict[str, Any]:
        c = self._known_comment(fields["id"])
        shown = self.comment(c)
        for reply in list(c.replies):
            self.comments.pop(reply, None)
        self.comments.pop(c.id)
        d = self.discussions[c.discussion_id]
        if c.reply_to is None:
            d.comments.remove(c.id)
        elif c.reply_to in self.comments:
            self.comments[c.reply_to].replies.remove(c.id)
        return shown

    def delete_discussion(self, fields: dict[str, Any]) -> dict[str, Any]:
        d = self.discussions.get(fields["id"])
        if d is None:
            raise GitHubError(
                "NOT_FOUND", f"Could not resolve to a node with the global id of '{fields['id']}'"
            )
        shown = self.discussion(d)
        for cid in [cid for cid, c in self.comments.items() if c.discussion_id == d.id]:
            del self.comments[cid]
        del self.discussions[d.id]
        return shown
