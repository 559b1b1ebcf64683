"""The root of the project's errors, and the plumbing's own ones.

Every error the tool raises on purpose derives from ToolError and carries a human `message`
(what is wrong, where, and what to do), so the command line maps one hierarchy to exit
statuses. utils/ knows no comments: these errors name files, not pages.
"""

from __future__ import annotations

import errno
from pathlib import Path

# the errnos a write gets when there is no room left for it (RLIMIT_FSIZE gives EFBIG)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class ToolError(Exception):
    """An error the tool expects and explains; `message` is what a person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DiskFull(ToolError):
    """A durable write found no room (ENOSPC, EFBIG, EDQUOT); nothing half-written was kept."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path}: the disk is full ({reason}); nothing partial was kept. "
            "Free some space, then run the command again: it resumes where it stopped."
        )
        self.path = Path(path)


class UnsafeFile(ToolError):
    """A path the tool would write is a symbolic link or a file it did not create."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)


class TornAppend(ToolError):
    """A failed append left a partial record that could not be cut off again."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path}: a failed append could not be undone ({problem}); the partial record "
            "at the end is removed the next time the file is opened"
        )
        self.path = Path(path)
