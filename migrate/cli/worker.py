"""`comment-migrate worker`: the reference comment API on Cloudflare Workers + D1."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from migrate.cli.common import MigrateGroup

log = logging.getLogger(__name__)


@click.group(cls=MigrateGroup)
def worker() -> None:
    """The reference comment API on Cloudflare Workers + D1.

    \b
    Example:
      comment-migrate worker init comment-api
    """


@worker.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def worker_init(directory: Path) -> None:
    """Write a Cloudflare Worker project implementing the HTTP contract (never overwrites).

    \b
    Example:
      comment-migrate worker init comment-api
      cd comment-api && npm ci
      echo MIGRATE_TOKEN=s3cret > .dev.vars && npm run dev -- --port 8787
    """
    from migrate.worker import write_project

    written = write_project(directory)
    click.echo(f"Wrote a Worker project in {directory} ({len(written)} files).")
    click.echo(
        f"Next: cd {directory} && npm ci, then follow {directory / 'README.md'} to try "
        "it locally or deploy it."
    )
