"""The checkpoint's errors: all CheckpointError, itself one of the project's ToolErrors."""

from __future__ import annotations

from pathlib import Path

from utils.errors import ToolError

RECOVERY = (
    "Restore it from a backup, check it with `comment-migrate checkpoint validate {path}`, "
    "or start over with `comment-migrate run --reset` (which moves it aside)."
)


class CheckpointError(ToolError):
    """The checkpoint cannot be used: invalid, unreadable, locked, or asked for something wrong."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class CheckpointLocked(CheckpointError):
    """Another process (PID in `.pid`, None if it could not be read) uses this checkpoint."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{path}: the checkpoint is in use by {holder} (another comment-migrate run?). "
            "Wait for it to finish or stop it, then try again.",
            path=path,
        )
        self.pid = pid


class MappingConflict(CheckpointError):
    """A source id already maps to another target id (or is mapped and is being skipped)."""

    def __init__(self, source_id: str, existing: str, new: str) -> None:
        super().__init__(
            f"source comment {source_id!r} is already mapped to {existing!r}; refusing to map it "
            f"to {new!r} as well (that would be a duplicate in the target). Remove the old "
            "mapping first if the target really holds the comment under the new id."
        )
        self.source_id = source_id
        self.existing = existing
        self.new = new


class SemanticError(Exception):
    """Valid against the schema but inconsistent (a mapping twice, a seq gap...)."""

    def __init__(self, message: str, json_path: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.json_path = json_path or []


def corrupt(file: Path, problem: str, *, checkpoint: Path, line: int | None) -> CheckpointError:
    """The error for a damaged file: where, what, and how to recover."""
    where = f"{file}, line {line}" if line is not None else str(file)
    return CheckpointError(
        f"{where}: {problem}. {RECOVERY.format(path=checkpoint)}", path=file, line=line
    )
