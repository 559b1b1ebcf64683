"""`comment-migrate check`: the files a run writes (a file target's output, the checkpoint).

A folder is writable when a file can be created in it (made on demand when missing); an
existing output must be one its target's plugin `recognizes`, an existing checkpoint one of
this migration. Reads and proves, writes nothing that stays.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from migrate.model import CheckItem
from utils.checkpoint_manager import CheckpointError, read_checkpoint

log = logging.getLogger(__name__)


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (made on demand if missing), or None."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        # os.access says yes to root on a read-only mount; creating a file says the truth
        handle, name = tempfile.mkstemp(prefix=".comment-migrate-check-", dir=existing)
    except OSError as exc:
        return f"cannot create files in {existing}: {exc.strerror or exc}"
    os.close(handle)
    Path(name).unlink()
    return None


def output_item(
    output: Path, kind: str, recognizes: Callable[[Path], bool] | None, where: str
) -> CheckItem:
    problem = folder_problem(output.parent)
    if problem is not None:
        return CheckItem(
            "target",
            False,
            f"output {output}: {problem}",
            f"make the folder writable, or set [target] output in {where}",
        )
    if not output.exists():
        return CheckItem("target", True, f"{output} will be created (its folder is writable)")
    if not output.is_file():
        return CheckItem(
            "target",
            False,
            f"output {output} exists and is not a file",
            f"set [target] output in {where} to a file path",
        )
    try:
        recognized = recognizes is None or recognizes(output)
    except OSError as exc:
        return CheckItem(
            "target", False, f"cannot read {output}: {exc.strerror or exc}", "make it readable"
        )
    if not recognized:
        return CheckItem(
            "target",
            False,
            f"output {output} exists and is not a {kind} file",
            "move it away, or choose another [target] output",
        )
    return CheckItem(
        "target", True, f"{output} exists and is a {kind} file; a run adds to it what is missing"
    )


def checkpoint_item(path: Path, digest: str | None, where: str) -> CheckItem:
    """`digest`: the migration's identity, None when the source could not be built."""
    problem = folder_problem(path.parent)
    if problem is not None:
        return CheckItem(
            "checkpoint",
            False,
            f"{path}: {problem}",
            f"make the folder writable, or set [run] checkpoint in {where} (or --checkpoint)",
        )
    if not path.exists():
        return CheckItem("checkpoint", True, f"{path} will be created (its folder is writable)")
    try:
        state = read_checkpoint(path)
    except CheckpointError as exc:
        return CheckItem(
            "checkpoint",
            False,
            str(exc),
            f"`comment-migrate checkpoint validate {path}` says more",
        )
    if None not in (state.config_digest, digest) and state.config_digest != digest:
        return CheckItem(
            "checkpoint",
            False,
            f"{path} was made for another migration",
            "use the matching configuration, another [run] checkpoint or --checkpoint, or "
            "`run --reset` (moves it aside)",
        )
    progress = state.get_progress_summary()
    return CheckItem(
        "checkpoint",
        True,
        f"{path} exists: {progress['completed']} of {progress['total_pages']} pages "
        "complete; a run resumes it",
    )
