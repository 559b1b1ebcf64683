"""`comment-migrate checkpoint`: inspect and maintain a checkpoint file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from migrate.cli.common import MigrateGroup, checkpoint_for, config_option

log = logging.getLogger(__name__)


@click.group(cls=MigrateGroup)
def checkpoint() -> None:
    """Inspect and maintain a checkpoint file (PATH, or [run] checkpoint of -c FILE).

    \b
    Example:
      comment-migrate checkpoint validate .migration_checkpoint.json
    """


def checkpoint_arg(command: Any) -> Any:
    """PATH, or [run] checkpoint of the configuration (-c) when PATH is not given."""
    command = click.argument("path", type=click.Path(path_type=Path), required=False)(command)
    return config_option(command)


@checkpoint.command("validate")
@checkpoint_arg
@click.pass_context
def checkpoint_validate(ctx: click.Context, config_path: Path, path: Path | None) -> None:
    """Check a checkpoint against its schema (exit 0 valid, 4 invalid).

    \b
    Example:
      comment-migrate checkpoint validate .migration_checkpoint.json
    """
    from utils.checkpoint_manager import validate_checkpoint_file

    path = checkpoint_for(config_path, path)
    summary = validate_checkpoint_file(path)
    click.echo(
        f"{path}: valid (version {summary.get('version')}, "
        f"{summary.get('pages', 0)} pages, {summary.get('mappings', 0)} mappings)"
    )


@checkpoint.command("show")
@checkpoint_arg
@click.option("--mappings", is_flag=True, help="Include the full source -> target id mapping.")
def checkpoint_show(config_path: Path, path: Path | None, mappings: bool) -> None:
    """Print a checkpoint as JSON (with the journal applied).

    \b
    Example:
      comment-migrate checkpoint show .migration_checkpoint.json --mappings
    """
    from migrate.commands.status import checkpoint_document

    path = checkpoint_for(config_path, path)
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
def checkpoint_compact(config_path: Path, path: Path | None) -> None:
    """Fold the journal into a new snapshot (takes the checkpoint's lock).

    \b
    Example:
      comment-migrate checkpoint compact .migration_checkpoint.json
    """
    from migrate.commands.status import compact_checkpoint

    path = checkpoint_for(config_path, path)
    compact_checkpoint(path)
    click.echo(f"{path}: compacted")
