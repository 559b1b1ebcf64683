"""The one place that writes files durably.

A file is replaced whole or not at all: write a temp file in the same folder, flush, fsync,
os.replace, then fsync the folder so the rename itself survives a power cut. An append is
whole or not at all too: a failed write or fsync is cut back to the length before it, so
the next append never lands after half a record.

Files are created with `mode` (0600 by default: they hold comments and their authors), less
the umask, like open(2). Files are opened without following a symbolic link in the last
component (O_NOFOLLOW): a link planted where the tool writes is an error, never a way to
overwrite or truncate what it points to. A full disk (ENOSPC, EFBIG, EDQUOT) is a DiskFull
naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from utils.errors import DISK_FULL_ERRNOS, DiskFull, TornAppend, UnsafeFile

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (no-op where folders can't be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def disk_full_as_error(path: Path) -> Iterator[None]:
    """Turn an OSError saying the disk is full into a DiskFull naming `path`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise DiskFull(Path(path), exc.strerror or os.strerror(exc.errno or 0)) from exc
        raise


def open_nofollow(path: Path, flags: int, mode: int = PRIVATE_MODE) -> int:
    """os.open without following a symbolic link, refusing anything but a regular file."""
    path = Path(path)
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(
                path,
                "is a symbolic link; refusing to follow it (it could point "
                "at any file). Replace it with the file itself.",
            ) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(path, "is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path) -> bytes:
    """The whole file, opened without following a link (FileNotFoundError when missing)."""
    fd = open_nofollow(Path(path), os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def atomic_writer(
    path: Path, mode: int = PRIVATE_MODE
) -> contextlib.AbstractContextManager[IO[str]]:
    """A text file to write; on success it replaces `path` atomically and durably, created
    with `mode` less the umask."""
    return cast(contextlib.AbstractContextManager[IO[str]], _atomic_writer(Path(path), mode, True))


def atomic_binary_writer(
    path: Path, mode: int = PRIVATE_MODE
) -> contextlib.AbstractContextManager[IO[bytes]]:
    """atomic_writer for bytes."""
    return cast(
        contextlib.AbstractContextManager[IO[bytes]], _atomic_writer(Path(path), mode, False)
    )


@contextlib.contextmanager
def _atomic_writer(path: Path, mode: int, text: bool) -> Iterator[IO[str] | IO[bytes]]:
    folder = _folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            # O_EXCL on a fresh random name: the umask applies, unlike mkstemp + fchmod
            fd = open_nofollow(tmp, flags, mode)
            break
        except FileExistsError:
            continue
    try:
        with disk_full_as_error(path):
            if text:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                    yield handle
                    handle.flush()
                    os.fsync(handle.fileno())
            else:
                with os.fdopen(fd, "wb") as raw:
                    yield raw
                    raw.flush()
                    os.fsync(raw.fileno())
            tmp.replace(path)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: Path, content: str, mode: int = PRIVATE_MODE) -> None:
    with atomic_writer(path, mode) as handle:
        handle.write(content)


def open_append_fd(path: Path, mode: int = PRIVATE_MODE) -> int:
    """Open `path` for appending as a raw descriptor (no Python buffering), created with `mode`.

    Appending through a raw descriptor lets a caller put one record in one write() call, so a
    process killed right after that call returns has its record in the kernel already.
    """
    path = Path(path)
    created = not os.path.lexists(path)
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    if created:
        fsync_dir(_folder(path))
    return fd


def open_append(path: Path, mode: int = PRIVATE_MODE) -> IO[str]:
    """Open a text file for appending, created with `mode` (prefer append_durably: it undoes a
    failed append)."""
    return os.fdopen(open_append_fd(path, mode), "a", encoding="utf-8", newline="\n")


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` with as few write() calls as the kernel allows (normally one)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def append_all(fd: int, data: bytes, *, size: int, path: Path, fsync: bool = False) -> None:
    """Append `data` to `fd` (opened O_APPEND, `size` bytes long), fsync it if asked.

    If the write or the fsync fails, the file is cut back to `size` before the error is
    raised (DiskFull for a full disk), so a half record never stays to be built upon; if even
    that fails, TornAppend says so (the next load repairs the torn tail).
    """
    try:
        with disk_full_as_error(path):
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
    except BaseException as failure:
        raise undo_append(fd, size, path, failure)  # noqa: B904 (its cause is set there)


def undo_append(fd: int, size: int, path: Path, failure: BaseException) -> BaseException:
    """Cut `fd` back to `size` after an append failed with `failure`; what to raise: the
    failure, or TornAppend (caused by it) when even the cut fails."""
    try:
        os.ftruncate(fd, size)
    except OSError as exc:
        torn = TornAppend(Path(path), exc.strerror or str(exc))
        torn.__cause__ = failure
        return torn
    log.warning("%s: undid a failed append (%s)", path, failure)
    return failure


def append_durably(path: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Append `data` with one write() and fsync it, creating the file with `mode`; on failure
    nothing of it stays (see append_all)."""
    path = Path(path)
    created = not os.path.lexists(path)
    if created:
        _folder(path).mkdir(parents=True, exist_ok=True)
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        append_all(fd, data, size=os.fstat(fd).st_size, path=path, fsync=True)
    finally:
        os.close(fd)
    if created:
        fsync_dir(_folder(path))


def truncate_durably(path: Path, size: int) -> None:
    """Cut a file the tool wrote back to `size` bytes (a torn tail), durably."""
    fd = open_nofollow(Path(path), os.O_WRONLY)
    try:
        with disk_full_as_error(path):
            os.ftruncate(fd, size)
            os.fsync(fd)
    finally:
        os.close(fd)


def remove_durably(*paths: Path) -> None:
    """Delete files (missing ones are fine) and make the deletions survive a power cut."""
    folders: set[Path] = set()
    for path in map(Path, paths):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            folders.add(_folder(path))
    for folder in folders:
        fsync_dir(folder)
