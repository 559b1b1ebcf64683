"""What every command of the command line shares: the group that maps the library's errors
to exit statuses, the -v/-q options, the common options, and opening a migration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NoReturn

import click

from migrate.config import DEFAULT_CHECKPOINT, DEFAULT_CONFIG, load_config
from migrate.errors import ExitStatus, MigrateError, exit_status_for
from migrate.migration import Migration
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
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {printable(redact(str(exc)))} "
                "(run with -v for details)",
                err=True,
            )
            ctx.exit(ExitStatus.ERROR)


def fail(message: str, status: ExitStatus = ExitStatus.USAGE) -> NoReturn:
    click.echo(f"Error: {printable(redact(message))}", err=True)
    raise click.exceptions.Exit(status)


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Configuration file.",
)
checkpoint_option = click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
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
    command = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_verbosity,
        help="Only warnings and errors; no progress bars.",
    )(command)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbosity,
        help="More log output (debug); twice for more.",
    )(command)


def open_migration(config_path: Path, checkpoint: Path | None = None) -> Migration:
    migration = Migration.from_config(load_config(config_path))
    if checkpoint is not None:
        migration.checkpoint = checkpoint
    if migration.checkpoint.is_dir():  # the user's path: exit 2, and no `<folder>.lock` made
        where = "--checkpoint" if checkpoint is not None else "[run] checkpoint"
        fail(
            f"{where} {migration.checkpoint} is a folder; name the checkpoint file "
            f"(for example {migration.checkpoint / '.migration_checkpoint.json'})"
        )
    return migration


def checkpoint_for(config_path: Path, checkpoint: Path | None) -> Path:
    """The checkpoint a command means: the one given, else [run] checkpoint of the
    configuration, else (no configuration file at the default place) the default one."""
    if checkpoint is not None:
        return checkpoint
    if config_path.exists():
        return load_config(config_path).run.checkpoint
    if config_path != Path(DEFAULT_CONFIG):
        fail(f"{config_path}: no such configuration file")
    return Path(DEFAULT_CHECKPOINT)


def is_quiet(ctx: click.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("quiet"))
