"""The command line: parse options, call the library, map its errors to exit statuses.

Nothing below does migration work itself; every command is a few lines over the library.
What all commands share is in migrate.cli.common; `check`, `status` and `verify` in
migrate.cli.inspection; the `worker` and `checkpoint` groups in migrate.cli.worker and
migrate.cli.checkpoint. Only this package knows click.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from migrate import __version__
from migrate.cli.checkpoint import checkpoint
from migrate.cli.common import (
    MigrateGroup,
    checkpoint_option,
    config_option,
    fail,
    is_quiet,
    json_option,
    open_migration,
    verbosity_options,
)
from migrate.cli.inspection import check, status, verify
from migrate.cli.worker import worker
from migrate.config import DEFAULT_CONFIG, TEMPLATE, load_config
from migrate.errors import ExitStatus
from migrate.reporter import Reporter, RunSummary, print_json
from utils.terminal import printable

log = logging.getLogger(__name__)

WORKERS_HELP = "Requests in flight over the whole run [default: from the config]."


@click.group(cls=MigrateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="comment-migrate")
@verbosity_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Move a site's comments out of Cactus Comments into another comment system.

    \b
    Example:
      comment-migrate init
      comment-migrate run --dry-run
      comment-migrate run
    """
    ctx.ensure_object(dict)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG)
@click.option("--source", "source_type", metavar="TYPE", help="Source type (archive, matrix, ...).")
@click.option("--target", "target_type", metavar="TYPE", help="Target type (http, jsonl, ...).")
def init(path: Path, source_type: str | None, target_type: str | None) -> None:
    """Write a commented configuration (never overwrites). With --source and --target,
    just the keys those two need.

    \b
    Example:
      comment-migrate init migration.toml
      comment-migrate init --source archive --target jsonl
    """
    if path.exists():
        fail(f"{path} already exists; not overwriting it")
    from utils.fileio import atomic_write_text

    text = TEMPLATE
    if source_type or target_type:
        from migrate.starter import starter_config

        text = starter_config(source_type or "matrix", target_type or "http")
    atomic_write_text(path, text, mode=0o644)
    click.echo(f"Wrote {path}. Edit it, then try `comment-migrate run --dry-run -c {path}`.")


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Send nothing: write what would be sent as JSONL.")
@click.option(
    "--output",
    "--dry-run-output",
    "dry_run_output",
    type=click.Path(path_type=Path, allow_dash=True),
    default=None,
    help="Where --dry-run writes its plan; - for stdout [default: a new file beside the "
    "checkpoint, the last 5 kept].",
)
@click.option("--workers", type=click.IntRange(1, 64), default=None, help=WORKERS_HELP)
@checkpoint_option
@click.option(
    "--page", "page_ids", multiple=True, metavar="SECTION_ID", help="Only this page (repeatable)."
)
@click.option("--only-failed", is_flag=True, help="Only pages that failed before.")
@click.option(
    "--reset", is_flag=True, help="Start over: move the old checkpoint aside (it is never deleted)."
)
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    config_path: Path,
    dry_run: bool,
    dry_run_output: Path | None,
    workers: int | None,
    checkpoint: Path | None,
    page_ids: tuple[str, ...],
    only_failed: bool,
    reset: bool,
    as_json: bool,
) -> None:
    """Migrate: extract, transform and import every page not yet complete.

    Rerun after fixing a failure: complete pages are skipped and only what is
    missing is imported. Exit 0 when every page is complete, 3 when some failed,
    4 for a checkpoint problem, 130 when interrupted.

    \b
    Example:
      comment-migrate run -c migration.toml --dry-run
      comment-migrate run -c migration.toml --workers 8
      comment-migrate run --only-failed
    """
    from migrate.commands.run import RunOptions
    from utils.signals import GracefulInterrupt

    options = RunOptions(
        workers=workers,
        page_ids=page_ids,
        only_failed=only_failed,
        reset=reset,
        dry_run=dry_run,
        dry_run_output=dry_run_output,
        quiet=is_quiet(ctx),
    )
    with open_migration(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        summary = migration.run(options, stop=interrupt.stop)
    _report(ctx, summary, as_json)


def _report(ctx: click.Context, summary: RunSummary, as_json: bool, *more: str) -> NoReturn:
    """The summary on stderr (and `more` lines), JSON on stdout, the exit status."""
    Reporter(quiet=is_quiet(ctx)).summary(summary)
    for line in more:
        click.echo(printable(line), err=True)
    if as_json:
        print_json(summary.to_dict())
    if summary.interrupted:
        ctx.exit(ExitStatus.INTERRUPTED)
    ctx.exit(ExitStatus.PAGES_FAILED if summary.failed_pages else ExitStatus.OK)


@cli.command()
@config_option
@click.option(
    "--dry-run", is_flag=True, help="Say what a sync would do: send nothing, record nothing."
)
@click.option("--workers", type=click.IntRange(1, 64), default=None, help=WORKERS_HELP)
@checkpoint_option
@json_option
@click.pass_context
def sync(
    ctx: click.Context,
    config_path: Path,
    dry_run: bool,
    workers: int | None,
    checkpoint: Path | None,
    as_json: bool,
) -> None:
    """Cutover: import what was posted since the last run or sync, on every page.

    Reads every page again, complete ones included (an unchanged Matrix room costs
    one small request), sends only new comments, each under its parent, and
    applies edits and deletions where the target can (lists them where it
    cannot). File targets get a new file beside the output. Exit codes as `run`.

    \b
    Example:
      comment-migrate sync -c migration.toml --dry-run
      comment-migrate sync -c migration.toml --json
    """
    from migrate.commands.sync import SyncOptions, describe_sync
    from utils.signals import GracefulInterrupt

    options = SyncOptions(workers=workers, dry_run=dry_run, quiet=is_quiet(ctx))
    with open_migration(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        summary = migration.sync(options, stop=interrupt.stop)
    _report(ctx, summary, as_json, describe_sync(summary))


@cli.command()
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Archive to write (JSON Lines).",
)
@json_option
@click.pass_context
def extract(ctx: click.Context, config_path: Path, output: Path, as_json: bool) -> None:
    """Snapshot the source into an archive file, to migrate later or offline.

    \b
    Example:
      comment-migrate extract -c migration.toml --output site.archive.jsonl
    """
    from migrate.commands.extract import extract

    summary = extract(load_config(config_path), output)
    failed = summary.get("failed") or []
    click.echo(
        f"Wrote {output}: {summary.get('pages', 0)} pages, {summary.get('comments', 0)} comments, "
        f"{summary.get('skipped', 0)} events skipped, {len(failed)} pages failed.",
        err=True,
    )
    for page in failed:
        click.echo(printable(f"  FAILED {page.get('page_id')}: {page.get('error')}"), err=True)
    if as_json:
        print_json(summary)
    ctx.exit(ExitStatus.PAGES_FAILED if failed else ExitStatus.OK)


@cli.command()
@config_option
@checkpoint_option
@click.option(
    "--backup",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to save what will be deleted [default: beside the checkpoint].",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rollback(
    ctx: click.Context,
    config_path: Path,
    checkpoint: Path | None,
    backup: Path | None,
    yes: bool,
) -> None:
    """Delete from the target every comment this migration created (replies first),
    after writing a backup of them. An interrupted rollback resumes when run again.

    \b
    Example:
      comment-migrate rollback -c migration.toml --backup before-rollback.jsonl
    """
    from migrate.commands.rollback import RollbackOutcome
    from utils.signals import GracefulInterrupt

    def confirm(outcome: RollbackOutcome) -> bool:
        if outcome.unjournaled:
            click.echo(
                f"Found {outcome.unjournaled} comments an interrupted run sent and never "
                "recorded: they are deleted too.",
                err=True,
            )
        made = (
            f", and the {outcome.made} {outcome.made_noun}s this tool made once empty"
            if outcome.made
            else ""
        )
        return yes or click.confirm(
            f"Delete {outcome.planned} comments from the {outcome.target} target "
            f"on {outcome.pages} pages (after saving them to {outcome.backup}){made}?",
            err=True,
        )

    with open_migration(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        outcome = migration.rollback(backup=backup, confirm=confirm, stop=interrupt.stop)
    summary = outcome.summary
    if summary is None:
        click.echo("Nothing to roll back: this migration created no comments.", err=True)
        return
    click.echo(
        f"Saved the comments to be deleted to {outcome.backup} ({outcome.backed_up} in all)",
        err=True,
    )
    click.echo(
        f"Deleted {summary.deleted} comments ({summary.already_gone} were already "
        f"gone), {len(summary.failed)} could not be deleted.",
        err=True,
    )
    if outcome.made:
        click.echo(
            f"{outcome.made_noun.capitalize()}s this tool made: {summary.removed} removed, "
            f"{outcome.made - summary.removed} kept (someone else commented in them).",
            err=True,
        )
    for item in summary.failed[:20]:
        click.echo(printable(f"  FAILED {item['target_id']}: {item['error']}"), err=True)
    if summary.interrupted:
        click.echo("Interrupted: run `comment-migrate rollback` again to finish.", err=True)
        ctx.exit(ExitStatus.INTERRUPTED)
    if summary.failed:
        click.echo("Some comments are left; fix the cause and run rollback again.", err=True)
        ctx.exit(ExitStatus.PAGES_FAILED)
    click.echo(
        f"Rolled back. The checkpoint was moved aside "
        f"({', '.join(map(str, outcome.moved_aside))}); a new `run` starts from scratch.",
        err=True,
    )


@cli.command()
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path("comment-migrate-demo"),
    show_default=True,
    help="Folder for the demo's files.",
)
@click.pass_context
def demo(ctx: click.Context, output: Path) -> None:
    """Migrate the bundled sample site, offline, into a WXR file and a JSONL file.

    \b
    Example:
      comment-migrate demo --output /tmp/demo
    """
    from migrate.commands.demo import run_demo

    code = run_demo(output, quiet=is_quiet(ctx), echo=click.echo)
    ctx.exit(code)


cli.add_command(check)
cli.add_command(checkpoint)
cli.add_command(status)
cli.add_command(verify)
cli.add_command(worker)


def main(argv: list[str] | None = None) -> NoReturn:
    # standalone mode: click turns our Exit into the process's exit status
    cli.main(args=argv, prog_name="comment-migrate")
    sys.exit(0)  # pragma: no cover  (click exits itself)
