"""The root of every error the project raises on purpose, plumbing and domain alike, so the
command line maps one hierarchy to exit statuses."""

from __future__ import annotations


class ToolError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
