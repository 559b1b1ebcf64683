"""Isso's moderation key, which deletes and edits a comment of any age through Isso itself
(`POST /id/<id>/delete/<key>`, `POST /id/<id>/edit/<key>`): the comment id signed with the
server's session key, which lives in Isso's database (`preferences` table), read here
read-only. Isso's own `DELETE /id/<id>` needs the author's edit cookie, which expires after
15 minutes by default and which the migration never keeps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from migrate.errors import TargetError, UnsupportedOperation

log = logging.getLogger(__name__)

MODE_DELETED = 4  # deleted but kept because replies point at it


def sign_for_isso(secret: str, value: object, now: float | None = None) -> str:
    """What Isso's `isso.sign(value)` returns: itsdangerous URLSafeTimedSerializer with the
    default salt, SHA-1 HMAC and django-concat key derivation (kept here so the package does
    not depend on Isso's libraries)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    payload = b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))
    stamp = int(time.time() if now is None else now)
    signed = payload + b"." + b64(stamp.to_bytes((stamp.bit_length() + 7) // 8, "big"))
    # SHA-1 because that is what Isso verifies with, not a choice of ours
    key = hashlib.sha1(b"itsdangerous" + b"signer" + secret.encode("utf-8")).digest()  # noqa: S324
    signature = hmac.new(key, signed, hashlib.sha1).digest()
    return (signed + b"." + b64(signature)).decode("ascii")


def moderation_path(db_path: Path | None, target_id: str, action: str) -> str | None:
    """`/id/<id>/<action>/<signed key>`, or None when Isso has no such comment (for a
    deletion: no such comment that is not deleted already)."""
    if db_path is None:
        raise UnsupportedOperation(
            f"{action.rstrip('e')}ing Isso comments needs the path of Isso's database "
            "(db_path): its moderation key is signed with the session key stored there"
        )
    if not target_id.isdigit():
        return None
    secret, mode = read_isso_db(db_path, int(target_id))
    if mode is None or (action == "delete" and mode == MODE_DELETED):
        return None
    key = sign_for_isso(secret, int(target_id))
    return f"/id/{target_id}/{action}/{quote(key, safe='')}"


def read_isso_db(db_path: Path, comment_id: int) -> tuple[str, int | None]:
    """Isso's session key and the comment's mode (None: no such comment)."""
    if not db_path.exists():
        raise TargetError(f"Isso database {db_path} does not exist")
    uri = f"file:{quote(str(db_path.resolve()))}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=30) as db:
            row = db.execute("SELECT value FROM preferences WHERE key = 'session-key'").fetchone()
            mode = db.execute("SELECT mode FROM comments WHERE id = ?", (comment_id,)).fetchone()
    except sqlite3.Error as exc:
        raise TargetError(f"cannot read Isso database {db_path}: {exc}") from exc
    if row is None:
        raise TargetError(f"{db_path} has no session key: is it Isso's database?")
    return str(row[0]), None if mode is None else int(mode[0])
