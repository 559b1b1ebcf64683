"""The command line: parse options, call the library, map its errors to exit statuses.

Nothing below does migration work itself; every command is a few lines over the library.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from migrate import __version__
from migrate.config import DEFAULT_CHECKPOINT, DEFAULT_CONFIG, TEMPLATE, load_config
from migrate.errors import ExitStatus, MigrateError, exit_status_for
from migrate.migration import Migration
from migrate.reporter import Reporter, print_json
from utils.errors import ToolError
from utils.logger import setup_logger
from utils.redact import redact
from utils.terminal import printable

log = logging.getLogger(__name__)


class MigrateGroup(click.Group):
    """Turns the library's errors into `Error: ...` on stderr and the documented exit code;
    every command takes -v and -q."""

    group_class = type  # subgroups (`checkpoint`, `worker`) are MigrateGroups too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            verbosity_options(cmd)
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(ExitStatus.INTERRUPTED)
        except (MigrateError, ToolError) as exc:
            click.echo(f"Error: {printable(redact(str(exc)))}", err=True)
            ctx.exit(exit_status_for(exc))
        except Exception as exc:
            log.debug("unexpected error", exc_info=True)
            click.echo(f"Error: unexpected {type(exc).__name__}: {printable(redact(str(exc)))} "
                       "(run with -v for details)", err=True)
            ctx.exit(ExitStatus.ERROR)


def fail(message: str, status: ExitStatus = ExitStatus.USAGE) -> NoReturn:
    click.echo(f"Error: {printable(redact(message))}", err=True)
    raise click.exceptions.Exit(status)


config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG,
    show_default=True, help="Configuration file.",
)
checkpoint_option = click.option(
    "--checkpoint", type=click.Path(path_type=Path), default=None,
    help="Checkpoint file [default: from the config].",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."
)


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """-v/-q may stand before or after the command name (`comment-migrate run -q`)."""
    obj = ctx.find_root().ensure_object(dict)
    if param.name == "verbose" and value:
        obj["verbose"] = obj.get("verbose", 0) + value
    elif param.name == "quiet" and value:
        obj["quiet"] = True
    setup_logger(-1 if obj.get("quiet") else obj.get("verbose", 0))


def verbosity_options(command: Any) -> Any:
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                           callback=_verbosity,
                           help="Only warnings and errors; no progress bars.")(command)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=_verbosity,
                        help="More log output (debug); twice for more.")(command)


def _open(config_path: Path, checkpoint: Path | None = None) -> Migration:
    migration = Migration.from_config(load_config(config_path))
    if checkpoint is not None:
        migration.checkpoint = checkpoint
    return migration


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


def _quiet(ctx: click.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("quiet"))


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_CONFIG)
def init(path: Path) -> None:
    """Write a commented configuration template (never overwrites).

    \b
    Example:
      comment-migrate init migration.toml
    """
    if path.exists():
        fail(f"{path} already exists; not overwriting it")
    from utils.fileio import atomic_write_text

    atomic_write_text(path, TEMPLATE, mode=0o644)
    click.echo(f"Wrote {path}. Edit it, then try `comment-migrate run --dry-run -c {path}`.")


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Send nothing: write what would be sent as JSONL.")
@click.option("--dry-run-output", type=click.Path(path_type=Path), default=None,
              help="Where --dry-run writes [default: comment-migrate-dry-run.jsonl].")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Pages in parallel.")
@checkpoint_option
@click.option("--page", "page_ids", multiple=True, metavar="SECTION_ID",
              help="Only this page (repeatable).")
@click.option("--only-failed", is_flag=True, help="Only pages that failed before.")
@click.option("--reset", is_flag=True,
              help="Start over: move the old checkpoint aside (it is never deleted).")
@json_option
@click.pass_context
def run(
    ctx: click.Context, config_path: Path, dry_run: bool, dry_run_output: Path | None,
    workers: int | None, checkpoint: Path | None, page_ids: tuple[str, ...], only_failed: bool,
    reset: bool, as_json: bool,
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
        workers=workers, page_ids=page_ids, only_failed=only_failed, reset=reset,
        dry_run=dry_run, dry_run_output=dry_run_output, quiet=_quiet(ctx),
    )
    with _open(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        summary = migration.run(options, stop=interrupt.stop)
    Reporter(quiet=_quiet(ctx)).summary(summary)
    if as_json:
        print_json(summary.to_dict())
    if summary.interrupted:
        ctx.exit(ExitStatus.INTERRUPTED)
    ctx.exit(ExitStatus.PAGES_FAILED if summary.failed_pages else ExitStatus.OK)


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True,
              help="Say what a sync would do: send nothing, record nothing.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Pages in parallel.")
@checkpoint_option
@json_option
@click.pass_context
def sync(
    ctx: click.Context, config_path: Path, dry_run: bool, workers: int | None,
    checkpoint: Path | None, as_json: bool,
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

    options = SyncOptions(workers=workers, dry_run=dry_run, quiet=_quiet(ctx))
    with _open(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        summary = migration.sync(options, stop=interrupt.stop)
    Reporter(quiet=_quiet(ctx)).summary(summary)
    click.echo(describe_sync(summary), err=True)
    if as_json:
        print_json(summary.to_dict())
    if summary.interrupted:
        ctx.exit(ExitStatus.INTERRUPTED)
    ctx.exit(ExitStatus.PAGES_FAILED if summary.failed_pages else ExitStatus.OK)


@cli.command()
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


def _checkpoint_for(config_path: Path, checkpoint: Path | None) -> Path:
    if checkpoint is not None:
        return checkpoint
    if config_path.exists():
        return load_config(config_path).run.checkpoint
    if config_path != Path(DEFAULT_CONFIG):
        fail(f"{config_path}: no such configuration file")
    return Path(DEFAULT_CHECKPOINT)


@cli.command()
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

    path = _checkpoint_for(config_path, checkpoint)
    report = load_status(path)
    if as_json:
        print_json(report)
    else:
        click.echo(printable(describe_status(report, path)))
    ctx.exit(ExitStatus.PAGES_FAILED if report["failed_pages"] else ExitStatus.OK)


@cli.command()
@config_option
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Archive to write (JSON Lines).")
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

    with _open(config_path, checkpoint) as migration:
        report = migration.verify()
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(printable(describe(report)))
    ctx.exit(ExitStatus.OK if report.ok else ExitStatus.PAGES_FAILED)


@cli.command()
@config_option
@checkpoint_option
@click.option("--backup", type=click.Path(path_type=Path), default=None,
              help="Where to save what will be deleted [default: beside the checkpoint].")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rollback(
    ctx: click.Context, config_path: Path, checkpoint: Path | None, backup: Path | None,
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
        click.echo(f"Saved the comments to be deleted to {outcome.backup} "
                   f"({outcome.backed_up} in all)", err=True)
        return yes or click.confirm(
            f"Delete {outcome.planned} comments from the {outcome.target} target "
            f"on {outcome.pages} pages?", err=True)

    with _open(config_path, checkpoint) as migration, GracefulInterrupt(log) as interrupt:
        outcome = migration.rollback(backup=backup, confirm=confirm, stop=interrupt.stop)
    summary = outcome.summary
    if summary is None:
        click.echo("Nothing to roll back: this migration created no comments.", err=True)
        return
    click.echo(f"Deleted {summary.deleted} comments ({summary.already_gone} were already "
               f"gone), {len(summary.failed)} could not be deleted.", err=True)
    for item in summary.failed[:20]:
        click.echo(printable(f"  FAILED {item['target_id']}: {item['error']}"), err=True)
    if summary.interrupted:
        click.echo("Interrupted: run `comment-migrate rollback` again to finish.", err=True)
        ctx.exit(ExitStatus.INTERRUPTED)
    if summary.failed:
        click.echo("Some comments are left; fix the cause and run rollback again.", err=True)
        ctx.exit(ExitStatus.PAGES_FAILED)
    click.echo(f"Rolled back. The checkpoint was moved aside "
               f"({', '.join(map(str, outcome.moved_aside))}); a new `run` starts from scratch.",
               err=True)


@cli.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("comment-migrate-demo"),
              show_default=True, help="Folder for the demo's files.")
@click.pass_context
def demo(ctx: click.Context, output: Path) -> None:
    """Migrate the bundled sample site, offline, into a WXR file and a JSONL file.

    \b
    Example:
      comment-migrate demo --output /tmp/demo
    """
    from migrate.commands.demo import run_demo

    code = run_demo(output, quiet=_quiet(ctx), echo=click.echo)
    ctx.exit(code)


@cli.group()
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


@cli.group()
def checkpoint() -> None:
    """Inspect and maintain a checkpoint file.

    \b
    Example:
      comment-migrate checkpoint validate .migration_checkpoint.json
    """


checkpoint_arg = click.argument(
    "path", type=click.Path(path_type=Path), default=DEFAULT_CHECKPOINT
)


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
    click.echo(f"{path}: valid (version {summary.get('version')}, "
               f"{summary.get('pages', 0)} pages, {summary.get('mappings', 0)} mappings)")


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

    click.echo(json.dumps(checkpoint_document(path, mappings=mappings), indent=2,
                          ensure_ascii=False, sort_keys=True))


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


def main(argv: list[str] | None = None) -> NoReturn:
    # standalone mode: click turns our Exit into the process's exit status
    cli.main(args=argv, prog_name="comment-migrate")
    sys.exit(0)  # pragma: no cover  (click exits itself)
