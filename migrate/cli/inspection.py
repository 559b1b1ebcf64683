"""The commands that look and write nothing: `check` (preflight), `status` (progress, works
during a run) and `verify` (source and target compared as a reader sees them)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from migrate.cli.common import (
    checkpoint_for,
    checkpoint_option,
    config_option,
    json_option,
    open_migration,
)
from migrate.config import load_config
from migrate.errors import ExitStatus
from migrate.reporter import print_json
from utils.terminal import printable

log = logging.getLogger(__name__)


@click.command()
@config_option
@checkpoint_option
@json_option
@click.pass_context
def check(ctx: click.Context, config_path: Path, checkpoint: Path | None, as_json: bool) -> None:
    """Preflight, writing nothing: configuration, homeserver and token, every page's room,
    the target and its token, the checkpoint folder and, with [target] site_url, that each
    page answers and shows the thread the migration writes to. Exit 0 when all is well,
    3 with the list of what to fix, 2 for a configuration error.

    \b
    Example:
      comment-migrate check -c migration.toml
      comment-migrate check --json
    """
    from migrate.commands.check import run_checks

    report = run_checks(load_config(config_path), checkpoint=checkpoint)
    if as_json:
        click.echo(report.to_json())
    else:
        width = min(24, max(len(item.name) for item in report))
        for item in report:
            line = f"{'ok' if item.ok else 'FAIL':<4} {item.name:<{width}}  {item.detail}"
            click.echo(line + (f" -> fix: {item.fix}" if item.fix else ""))
        failed = len(report.failures)
        click.echo(
            "All checks passed: ready to run."
            if not failed
            else f"{failed} of {len(report)} checks failed.",
            err=True,
        )
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.PAGES_FAILED)


@click.command()
@config_option
@checkpoint_option
@json_option
@click.pass_context
def status(ctx: click.Context, config_path: Path, checkpoint: Path | None, as_json: bool) -> None:
    """Show progress and the failed pages with their errors (works during a run).

    \b
    Example:
      comment-migrate status -c migration.toml
      comment-migrate status --json
    """
    from migrate.commands.status import describe_status, load_status
    from utils.checkpoint_manager import checkpoint_exists

    path = checkpoint_for(config_path, checkpoint)
    if not checkpoint_exists(path):  # nothing is wrong: nothing has run yet
        if as_json:
            print_json({"checkpoint": str(path), "migration": None})
        else:
            click.echo(
                f"No migration yet: {path} does not exist. "
                "Start with `comment-migrate run --dry-run`, then `comment-migrate run`."
            )
        ctx.exit(ExitStatus.OK)
    report = load_status(path)
    if as_json:
        print_json(report)
    else:
        click.echo(printable(describe_status(report, path)))
    ctx.exit(ExitStatus.PAGES_FAILED if report["failed_pages"] else ExitStatus.OK)


@click.command()
@config_option
@checkpoint_option
@json_option
@click.pass_context
def verify(ctx: click.Context, config_path: Path, checkpoint: Path | None, as_json: bool) -> None:
    """Read source and target again; report per comment what a reader sees otherwise
    (text, links, images, author, avatar, time, parent), and per page what is missing or
    extra; say what the target cannot hold (times, depth, avatars), which is no difference.
    Exit 0 when everything matches, 3 otherwise.

    \b
    Example:
      comment-migrate verify -c migration.toml
      comment-migrate verify --json
    """
    from migrate.commands.verify import describe

    with open_migration(config_path, checkpoint) as migration:
        report = migration.verify()
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(printable(describe(report)))
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.PAGES_FAILED)
