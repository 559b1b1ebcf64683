"""Logging to stderr, with the level set by -v/-q, and every record redacted.

`setup_logger` puts one stderr handler on each of the project's logger trees: the historical
"comment_migrate" name and the package names that `logging.getLogger(__name__)` gives
("migrate", "utils"). Each handler carries utils.redact.RedactingFilter, so no registered
secret reaches a log line, whichever module logged it.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from utils.redact import RedactingFilter

LOGGER_NAME = "comment_migrate"
# trees whose records the CLI shows: the old fixed name and the packages' own __name__ roots
LOGGER_TREES = (LOGGER_NAME, "migrate", "utils")


def setup_logger(verbosity: int = 0, stream: IO[str] | None = None) -> logging.Logger:
    """verbosity: -1 (quiet: warnings and errors), 0 (info), 1+ (debug)."""
    if verbosity < 0:
        level = logging.WARNING
    elif verbosity == 0:
        level = logging.INFO
    else:
        level = logging.DEBUG
    fmt = "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(levelname)s: %(message)s"
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._comment_migrate = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactingFilter())
    for name in LOGGER_TREES:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for old in list(logger.handlers):
            if getattr(old, "_comment_migrate", False):
                logger.removeHandler(old)
        logger.addHandler(handler)
    # the old tree always stood alone; the package trees keep propagating (pytest's caplog)
    logging.getLogger(LOGGER_NAME).propagate = False
    return logging.getLogger(LOGGER_NAME)


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
