"""`comment-migrate demo`: the bundled sample site, migrated offline into WXR and JSONL."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from migrate.abilities import Target
from migrate.commands.run import RunOptions
from migrate.commands.status import describe_status, load_status
from migrate.errors import ExitStatus
from migrate.migration import Migration
from migrate.reporter import Reporter
from migrate.systems.archive import ArchiveSource
from migrate.systems.jsonl.target import JsonlTarget
from migrate.systems.wordpress.wxr import WxrTarget
from utils.signals import GracefulInterrupt

SAMPLE = "sample/site.archive.jsonl"
SITE_URL = "https://blog.example.org"
OUTPUTS: tuple[tuple[str, Callable[[Path], Target]], ...] = (
    ("comments.wxr", lambda path: WxrTarget(path, site_url=SITE_URL)),
    ("comments.jsonl", JsonlTarget),
)


def _fresh(paths: list[Path]) -> None:
    """A demo always starts over: remove what an earlier demo left (and nothing else)."""
    for path in paths:
        for candidate in (path, *path.parent.glob(path.name + ".*")):
            if candidate.is_file():
                candidate.unlink()


def run_demo(output: Path, *, quiet: bool = False, echo: Callable[[str], None] = print) -> int:
    output.mkdir(parents=True, exist_ok=True)
    worst = ExitStatus.OK
    sample = resources.files("migrate").joinpath(SAMPLE)
    with resources.as_file(sample) as archive, GracefulInterrupt() as interrupt:
        echo(f"Sample site: {archive.name} (bundled with comment-migrate)")
        for filename, make_target in OUTPUTS:
            out_file = output / filename
            name = out_file.suffix.lstrip(".")
            checkpoint = output / f"{name}.checkpoint.json"
            _fresh([out_file, checkpoint])
            echo(f"\n$ comment-migrate run   # {name} target -> {out_file}")
            with Migration(
                ArchiveSource(archive), make_target(out_file), checkpoint=checkpoint
            ) as migration:
                summary = migration.run(RunOptions(quiet=quiet), stop=interrupt.stop)
            Reporter(quiet=quiet).summary(summary)
            echo(f"\n$ comment-migrate status --checkpoint {checkpoint}")
            echo(describe_status(load_status(checkpoint), checkpoint))
            if summary.interrupted:
                return ExitStatus.INTERRUPTED
            if summary.failed_pages:
                worst = ExitStatus.PAGES_FAILED
    echo(
        f"\nDone. Open {output / 'comments.wxr'} (WordPress WXR: Isso, Remark42, Disqus "
        f"import it) or {output / 'comments.jsonl'} (one comment per line)."
    )
    return worst
