"""A comment's revision: a short digest of what the source shows of it (text, html,
tombstone). The checkpoint keeps, per mapped comment, the revision the target holds, so a
sync tells an edit made since from the version that was sent."""

from __future__ import annotations

import hashlib

from migrate.model import Comment


def revision(comment: Comment) -> str:
    """What the source shows of a comment, as a short digest."""
    shown = "\0".join((comment.text, comment.html or "", "deleted" if comment.deleted else ""))
    return hashlib.sha256(shown.encode("utf-8", "surrogatepass")).hexdigest()[:16]
