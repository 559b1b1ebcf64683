"""`comment-migrate demo`: the bundled sample site, migrated offline into WXR and JSONL.

It leaves, in its folder, a copy of the sample (`site.archive.jsonl`) and the
`migration.toml` of its JSONL migration, so every other command works there as written:
`cd comment-migrate-demo && comment-migrate status`, `verify`, `run --dry-run`, ...
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from migrate.abilities import Target
from migrate.commands.run import RunOptions
from migrate.commands.status import describe_status, load_status
from migrate.config import load_config
from migrate.errors import ConfigError, ExitStatus
from migrate.migration import Migration
from migrate.reporter import Reporter, RunSummary
from migrate.systems.archive import ArchiveSource
from migrate.systems.wordpress.wxr import WxrTarget
from utils.fileio import atomic_write_text
from utils.signals import GracefulInterrupt

SAMPLE = "sample/site.archive.jsonl"
SAMPLE_COPY = "site.archive.jsonl"
CONFIG = "migration.toml"
SITE_URL = "https://blog.example.org"
CONFIG_TEXT = f"""\
# The demo's migration: the sample site (a copy of the one bundled with comment-migrate)
# into JSONL. Try, in this folder: comment-migrate status; comment-migrate verify;
# comment-migrate run --dry-run. Change [target] to migrate the sample elsewhere.

[source]
type = "archive"
path = "{SAMPLE_COPY}"

[target]
type = "jsonl"
output = "comments.jsonl"

[run]
checkpoint = "jsonl.checkpoint.json"
"""


def _fresh(paths: list[Path]) -> None:
    """A demo always starts over: remove what an earlier demo left (and nothing else)."""
    for path in paths:
        for candidate in (path, *path.parent.glob(path.name + ".*")):
            if candidate.is_file():
                candidate.unlink()


def _wxr(output: Path, archive: Path) -> Migration:
    out_file = output / "comments.wxr"
    checkpoint = output / "wxr.checkpoint.json"
    _fresh([out_file, checkpoint])
    target: Target = WxrTarget(out_file, site_url=SITE_URL)
    return Migration(ArchiveSource(archive), target, checkpoint=checkpoint)


def _jsonl(output: Path) -> Migration:
    config = load_config(output / CONFIG)
    _fresh([Path(str(config.target.path("output"))), config.run.checkpoint])
    return Migration.from_config(config)


def run_demo(output: Path, *, quiet: bool = False, echo: Callable[[str], None] = print) -> int:
    """The two migrations, each followed by its status; with `quiet`, only errors."""
    say = (lambda line: None) if quiet else echo
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output} is not a folder; choose another with --output")
    output.mkdir(parents=True, exist_ok=True)
    archive = output / SAMPLE_COPY
    with resources.as_file(resources.files("migrate").joinpath(SAMPLE)) as bundled:
        shutil.copyfile(bundled, archive)
    config = output / CONFIG
    if config.exists() and config.read_text(encoding="utf-8", errors="replace") != CONFIG_TEXT:
        raise ConfigError(
            f"{config} exists and is not the demo's; the demo writes its own there. "
            "Choose another folder with --output."
        )
    if not config.exists():
        atomic_write_text(config, CONFIG_TEXT, mode=0o644)
    say(f"Sample site: {archive} (a copy of the one bundled with comment-migrate)")
    worst = ExitStatus.OK
    with GracefulInterrupt() as interrupt:
        makers: tuple[tuple[str, Callable[[], Migration]], ...] = (
            ("wxr", lambda: _wxr(output, archive)),
            ("jsonl", lambda: _jsonl(output)),
        )
        for name, make in makers:
            with make() as migration:
                say(f"\n$ comment-migrate run   # {name} target -> {migration.target.output}")
                summary: RunSummary = migration.run(RunOptions(quiet=quiet), stop=interrupt.stop)
                Reporter(quiet=quiet).summary(summary)
                say(f"\n$ comment-migrate status --checkpoint {migration.checkpoint}")
                say(describe_status(load_status(migration.checkpoint), migration.checkpoint))
            if summary.interrupted:
                return ExitStatus.INTERRUPTED
            if summary.failed_pages:
                worst = ExitStatus.PAGES_FAILED
    say(
        f"\nDone. {output / 'comments.wxr'} is a WordPress WXR file written for Isso "
        f"(`isso import -t wordpress`: Markdown, as Isso renders it); "
        f"{output / 'comments.jsonl'} holds one page per line, each comment with its text "
        f"and HTML. {output / CONFIG} describes the JSONL migration: `cd {output}` and try "
        "`comment-migrate status` or `comment-migrate verify`."
    )
    return worst
