"""Logging to stderr, with the level set by -v/-q."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "comment_migrate"
# modules log under their own __name__: the package roots are configured together
ROOTS = ("migrate", "utils", LOGGER_NAME)


def setup_logger(verbosity: int = 0, stream: object = None) -> logging.Logger:
    """verbosity: -1 (quiet: warnings and errors), 0 (info), 1+ (debug)."""
    if verbosity < 0:
        level = logging.WARNING
    elif verbosity == 0:
        level = logging.INFO
    else:
        level = logging.DEBUG
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler._comment_migrate = True  # type: ignore[attr-defined]
    fmt = "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(levelname)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    for name in ROOTS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for old in list(logger.handlers):
            if getattr(old, "_comment_migrate", False):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
    return logging.getLogger(LOGGER_NAME)


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
