"""The one place that writes files durably.

A file is replaced whole or not at all: write a temp file in the same folder, flush, fsync,
os.replace, then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PRIVATE_MODE = 0o600


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
def atomic_writer(path: Path, mode: int = PRIVATE_MODE, text: bool = True) -> Iterator[IO[str]]:
    """Yield a file to write; on success it replaces `path` atomically and durably."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: Path, content: str, mode: int = PRIVATE_MODE) -> None:
    with atomic_writer(path, mode) as handle:
        handle.write(content)


def open_append(path: Path, mode: int = PRIVATE_MODE) -> IO[str]:
    """Open a file for appending, creating it with `mode` (0600 by default)."""
    path = Path(path)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    if created:
        fsync_dir(path.parent if str(path.parent) else Path())
    return os.fdopen(fd, "a", encoding="utf-8", newline="\n")


def open_append_fd(path: Path, mode: int = PRIVATE_MODE) -> int:
    """Open `path` for appending as a raw descriptor (no Python buffering), created with `mode`.

    Appending through a raw descriptor lets a caller put one record in one write() call, so a
    process killed right after that call returns has its record in the kernel already.
    """
    path = Path(path)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    if created:
        fsync_dir(path.parent if str(path.parent) else Path())
    return fd


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` with as few write() calls as the kernel allows (normally one)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def remove_durably(*paths: Path) -> None:
    """Delete files (missing ones are fine) and make the deletions survive a power cut."""
    folders: set[Path] = set()
    for path in map(Path, paths):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            folders.add(path.parent if str(path.parent) else Path())
    for folder in folders:
        fsync_dir(folder)
