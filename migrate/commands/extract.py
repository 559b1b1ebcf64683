"""`extract`: snapshot the source into an archive file, to migrate later or offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migrate.config import Config
from migrate.errors import ConfigError
from migrate.plugins import build_source
from migrate.systems.archive import write_archive


def extract(config: Config, output: Path) -> dict[str, Any]:
    """Write every page of the configured source to `output`; the summary counts pages,
    comments, skipped events and the pages that failed (with their errors)."""
    if output.is_dir():
        raise ConfigError(
            f"{output} is a folder; --output names the archive file to write "
            f"(for example {output / 'site.archive.jsonl'})"
        )
    source = build_source(config.source, config.run)
    try:
        return write_archive(output, source)
    finally:
        source.close()
