"""Copies of the media comments link (`[media]`), so they outlive the homeserver.

`MediaMirror.url_for(mxc)` downloads each mxc:// file once into `dir` and returns
`base_url + name`:
- authenticated media API first (`/_matrix/client/v1/media/download`, Matrix 1.11), the legacy
  `/_matrix/media/v3/download` as fallback;
- at most `max_bytes` (announced or received); a bigger file is not kept;
- the name comes from the media id (its safe characters, plus a short hash of the whole mxc://
  URI so two servers' ids never collide) and an extension from an allowlist of content types:
  anything that a browser would run when served from the site's own origin (HTML, SVG,
  scripts) gets `.bin`, so it is downloaded, never rendered;
- written durably: a temp file in `dir`, fsync, rename, fsync of the directory; a crash leaves
  at most a `.part` file (removed by the next `start`), never a half file under its final name;
- nothing is written before `start`, which only a command holding the checkpoint's lock calls
  (run, sync): until then (verify, check, a dry run, a command waiting for the lock) the
  mirror links the copies it finds and downloads nothing, so it never sweeps away the `.part`
  of a download another process is making;
- each download is bounded as a whole by the HTTP client's deadline (`timeout`), and
  redirects are followed only on the homeserver's origin;
- recorded through a `MediaLedger` (the checkpoint implements it): when the ledger knows a file
  and it is on disk, nothing is fetched. A file already on disk under its final name is
  complete (only a rename puts it there) and is adopted without fetching too.

A file that cannot be had for good (404 on both endpoints, too big) gives None: the caller
keeps the homeserver link and counts it. Transient failures (5xx, timeouts after the retry
policy) raise `MediaUnavailable` with `retryable=True`, so the page fails and a rerun retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import requests

from migrate.content import parse_mxc
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
CHUNK = 64 * 1024
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# content types a static file host can serve as they are, without running anything
SAFE_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/bmp": ".bmp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "audio/wav": ".wav",
    "audio/webm": ".weba",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/ogg": ".ogv",
    "application/zip": ".zip",
}
FALLBACK_EXTENSION = ".bin"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class MediaLedger(Protocol):
    """Where the mirror remembers what it holds (the checkpoint implements these two)."""

    def get_media(self, mxc: str) -> Mapping[str, Any] | None: ...

    def record_media(self, mxc: str, info: Mapping[str, Any]) -> None: ...


class InMemoryMediaLedger:
    """A MediaLedger that lives as long as the process (tests, dry runs)."""

    def __init__(self) -> None:
        self._media: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get_media(self, mxc: str) -> Mapping[str, Any] | None:
        with self._lock:
            info = self._media.get(mxc)
            return dict(info) if info is not None else None

    def record_media(self, mxc: str, info: Mapping[str, Any]) -> None:
        with self._lock:
            self._media[mxc] = dict(info)


class MediaUnavailable(Exception):
    """A media file could not be fetched now (the page fails; a rerun tries again)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class _TooBig(Exception):
    pass


def content_type_of(header: str | None) -> str:
    """`type/subtype` of a Content-Type header, lower case; anything odd is octet-stream."""
    value = (header or "").split(";", 1)[0].strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", value):
        return "application/octet-stream"
    return value


def file_name(mxc: str, content_type: str) -> str:
    """The file's name: from the media id (safe characters only) and the content type."""
    parsed = parse_mxc(mxc)
    media_id = parsed[1] if parsed else "media"
    stem = _UNSAFE_NAME_CHARS.sub("_", media_id)[:80] or "media"
    digest = hashlib.sha256(mxc.encode("utf-8")).hexdigest()[:10]
    return f"{stem}-{digest}{SAFE_EXTENSIONS.get(content_type, FALLBACK_EXTENSION)}"


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class MediaMirror:
    """Downloads each referenced mxc:// file once and links it from `base_url`."""

    def __init__(
        self,
        directory: Path | str,
        base_url: str,
        *,
        homeserver: str,
        token: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        ledger: MediaLedger | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.max_bytes = max_bytes
        self.ledger: MediaLedger = ledger if ledger is not None else InMemoryMediaLedger()
        self.client = HttpClient(homeserver, token=token, timeout=timeout, policy=policy)
        self.fetched = 0  # files downloaded by this mirror (a rerun should show 0)
        self.started = False  # until `start`, it only links the copies it finds: it writes nothing
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"MediaMirror({str(self.directory)!r}, {self.base_url!r})"

    def use_token(self, token: str | None) -> None:
        """The source's current access token (a guest's may be renewed mid-run)."""
        self.client.token = token

    def start(self, ledger: MediaLedger | None = None) -> None:
        """Let the mirror download and record (`ledger`: the checkpoint), after sweeping the
        `.part` files an interrupted download left. Only a command that holds the
        checkpoint's lock may call this: another's download may be running otherwise."""
        if ledger is not None:
            self.ledger = ledger
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_parts()
        self.started = True

    def _remove_stale_parts(self) -> None:
        for part in self.directory.glob(f".*{PART_SUFFIX}"):
            with contextlib.suppress(OSError):
                part.unlink()
                log.info("removed %s, left by an interrupted download", part.name)

    def _lock_for(self, mxc: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(mxc, threading.Lock())

    def url_for(self, mxc: str) -> str | None:
        """`base_url + name` of the local copy of `mxc`, fetched if needed; None when the file
        cannot be had for good (not found, too big, not an mxc:// URI)."""
        parsed = parse_mxc(mxc)
        if parsed is None:
            return None
        mxc = mxc.strip()
        with self._lock_for(mxc):
            known = self.ledger.get_media(mxc)
            name = known.get("name") if known is not None else None
            if isinstance(name, str) and (self.directory / name).is_file():
                return self.base_url + name
            for existing in self._on_disk(mxc):
                if self.started:
                    self.ledger.record_media(
                        mxc, {"name": existing.name, "size": existing.stat().st_size}
                    )
                return self.base_url + existing.name
            if not self.started:
                return None  # a reader (verify, check, a dry run): the homeserver's link
            info = self._download(mxc, *parsed)
            if info is None:
                return None
            self.ledger.record_media(mxc, info)
            return self.base_url + str(info["name"])

    def _on_disk(self, mxc: str) -> Iterator[Path]:
        stem = file_name(mxc, "").rsplit(".", 1)[0]
        for path in self.directory.glob(f"{stem}.*"):
            if path.is_file() and not path.name.startswith("."):
                yield path

    def _paths(self, server: str, media_id: str) -> list[str]:
        quoted = f"{urllib.parse.quote(server, safe='')}/{urllib.parse.quote(media_id, safe='')}"
        return [
            f"/_matrix/client/v1/media/download/{quoted}",
            f"/_matrix/media/v3/download/{quoted}",
        ]

    def _download(self, mxc: str, server: str, media_id: str) -> dict[str, Any] | None:
        last: HttpError | None = None
        for path in self._paths(server, media_id):
            try:
                return self._fetch(mxc, path)
            except _TooBig:
                log.warning("%s is larger than max_bytes (%d): not copied", mxc, self.max_bytes)
                return None
            except HttpError as exc:
                if exc.retryable:
                    raise MediaUnavailable(f"{mxc}: {exc.message}", retryable=True) from exc
                last = exc  # 401/403/404 on one endpoint: try the other
        log.warning("%s cannot be downloaded (%s): not copied", mxc, last.message if last else "")
        return None

    def _fetch(self, mxc: str, path: str) -> dict[str, Any]:
        """One download through the one HTTP client: streamed to a temp file that is renamed
        into place when complete, within the client's deadline for the whole download,
        redirects followed only on the homeserver; retried by the shared policy
        (connection errors, timeouts, a body cut off, 429, 5xx)."""
        return self.client.stream(path, lambda response: self._store(mxc, response))

    def _store(self, mxc: str, response: requests.Response) -> dict[str, Any]:
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_bytes:
            raise _TooBig()
        content_type = content_type_of(response.headers.get("Content-Type"))
        name = file_name(mxc, content_type)
        digest = hashlib.sha256()
        size = 0
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=PART_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in response.iter_content(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _TooBig()
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temp).replace(self.directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temp).unlink()
            raise
        _fsync_directory(self.directory)
        self.fetched += 1
        log.debug("copied %s to %s (%d bytes, %s)", mxc, name, size, content_type)
        return {
            "name": name,
            "content_type": content_type,
            "size": size,
            "sha256": digest.hexdigest(),
        }

    def close(self) -> None:
        self.client.close()
