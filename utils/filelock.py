"""An exclusive, non-blocking lock on a file, holding the owner's PID.

flock(2) locks belong to the open file and vanish when the holder dies, so a lock left by a
killed process is simply taken over; the PID written into the file only names the holder in
messages. The lock file is never deleted: unlinking it would let two processes lock two
different inodes under the same name.

The lock file is opened without following a symbolic link, and an existing file is emptied
only when it looks like a lock file (nothing, or a PID): the tool never truncates a file it
did not create.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from utils.errors import UnsafeFile
from utils.fileio import PRIVATE_MODE, open_nofollow


class LockHeld(Exception):
    """Another open file (normally another process) holds the lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"{path} is locked by {holder}")
        self.path = path
        self.pid = pid


def read_holder_pid(path: Path) -> int | None:
    """The PID written in a lock file, or None when it is absent or unreadable."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _looks_like_a_lock(head: bytes) -> bool:
    return head.strip() == b"" or (head.endswith(b"\n") and head[:-1].isdigit())


class FileLock:
    """`FileLock(path).acquire()` fails at once with LockHeld if someone else holds it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.path, read_holder_pid(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            if not _looks_like_a_lock(os.pread(fd, 64, 0)):
                raise UnsafeFile(
                    self.path,
                    "exists and is not a lock file (it holds other data); refusing to "
                    "overwrite it. Move it away, or choose another checkpoint path.",
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)  # closing the descriptor drops the flock too
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no stale PID for the next reader while we still hold it
        os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
