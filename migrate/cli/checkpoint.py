"""`comment-migrate checkpoint`: inspect and maintain a checkpoint file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from migrate.cli.common import MigrateGroup
from migrate.config import DEFAULT_CHECKPOINT

log = logging.getLogger(__name__)


@click.group(cls=MigrateGroup)
def checkpoint() -> None:
    """Inspect and maintain a checkpoint file.

    \b
    Example:
      comment-migrate checkpoint validate .migration_checkpoint.json
    """


checkpoint_arg = click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_CHECKPOINT)


@checkpoint.command("validate")
@checkpoint_arg
@click.pass_context
def checkpoint_validate(ctx: click.Context, path: Path) -> None:
    """Check a checkpoint against its schema (exit 0 valid, 4 invalid).

    \b
    Example:
      comment-migrate checkpoint validate .migration_checkpoint.json
    """
    from utils.checkpoint_manager import validate_checkpoint_file

    summary = validate_checkpoint_file(path)
    click.echo(
        f"{path}: valid (version {summary.get('version')}, "
        f"{summary.get('pages', 0)} pages, {summary.get('mappings', 0)} mappings)"
    )


@checkpoint.command("show")
@checkpoint_arg
@click.option("--mappings", is_flag=True, help="Include the full source -> target id mapping.")
def checkpoint_show(path: Path, mappings: bool) -> None:
    """Print a checkpoint as JSON (with the journal applied).

    \b
    Example:
      comment-migrate checkpoint show .migration_checkpoint.json --mappings
    """
    from migrate.commands.status import checkpoint_document

    click.echo(
        json.dumps(
            checkpoint_document(path, mappings=mappings),
            indent=2,
            ensure_ascii=False,
            sort_keys=True,
        )
    )


@checkpoint.command("compact")
@checkpoint_arg
def checkpoint_compact(path: Path) -> None:
    """Fold the journal into a new snapshot (takes the checkpoint's lock).

    \b
    Example:
      comment-migrate checkpoint compact .migration_checkpoint.json
    """
    from migrate.commands.status import compact_checkpoint

    compact_checkpoint(path)
    click.echo(f"{path}: compacted")
