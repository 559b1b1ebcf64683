"""Every exit status, and the one function that maps an exception to one."""

from __future__ import annotations

import enum

from utils.errors import ToolError
from utils.signals import EXIT_INTERRUPTED  # the second Ctrl-C exits from utils, with this


class ExitStatus(enum.IntEnum):
    OK = 0  # every page complete
    ERROR = 1  # unexpected error
    USAGE = 2  # usage or configuration error
    PAGES_FAILED = 3  # finished, but some pages failed (or verify found differences)
    CHECKPOINT = 4  # checkpoint invalid, locked, or made for another configuration
    DISK_FULL = 5  # a durable write found no room; nothing partial was kept
    INTERRUPTED = EXIT_INTERRUPTED  # SIGINT/SIGTERM; the checkpoint was saved


class MigrateError(ToolError):
    """Base of the errors this package raises on purpose (utils' errors share the root)."""

    exit_status = ExitStatus.ERROR


class ConfigError(MigrateError):
    """The configuration file is missing, malformed or names something unusable."""

    exit_status = ExitStatus.USAGE


class MissingToken(ConfigError):
    """The configuration names the variable that holds a token, and it is unset or empty."""

    def __init__(self, variable: str, table: str) -> None:
        super().__init__(
            f"the environment variable {variable} (named by {table} token_env) is not set "
            f"or empty; nothing was sent. Set it (export {variable}=<the token>) and run again"
        )
        self.variable = variable


class SourceError(MigrateError):
    """The source cannot be read at all (not one page: the whole source)."""


class TargetError(MigrateError):
    """The target cannot be used at all."""


class UnsupportedOperation(MigrateError):
    """The target cannot do what was asked (rollback on a target that cannot delete)."""

    exit_status = ExitStatus.USAGE


class ConfigChanged(MigrateError):
    """The checkpoint belongs to a migration with another source or target."""

    exit_status = ExitStatus.CHECKPOINT


class Interrupted(MigrateError):
    exit_status = ExitStatus.INTERRUPTED


def exit_status_for(error: BaseException) -> ExitStatus:
    from utils.checkpoint_manager import CheckpointError  # utils never imports migrate
    from utils.errors import DiskFull

    if isinstance(error, MigrateError):
        return error.exit_status
    if isinstance(error, DiskFull):
        return ExitStatus.DISK_FULL
    if isinstance(error, CheckpointError):
        return ExitStatus.CHECKPOINT
    if isinstance(error, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    return ExitStatus.ERROR
