"""`comment-migrate demo`: the bundled sample site, migrated offline into WXR and JSONL."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from migrate.config import Config, RunConfig, SourceConfig, TargetConfig
from migrate.errors import ExitStatus
from migrate.orchestrator import RunOptions, run_from_config
from migrate.reporter import Reporter
from migrate.status import describe_status, load_status
from utils.signals import GracefulInterrupt

SAMPLE = "sample/site.archive.jsonl"
OUTPUTS = (("wxr", "comments.wxr"), ("jsonl", "comments.jsonl"))


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
        for target_type, filename in OUTPUTS:
            out_file = output / filename
            checkpoint = output / f"{target_type}.checkpoint.json"
            _fresh([out_file, checkpoint])
            config = Config(
                source=SourceConfig(type="archive", path=archive),
                target=TargetConfig(type=target_type, output=out_file,
                                    site_url="https://blog.example.org"),
                run=RunConfig(checkpoint=checkpoint, workers=4),
            )
            echo(f"\n$ comment-migrate run   # {target_type} target -> {out_file}")
            summary = run_from_config(config, RunOptions(quiet=quiet), stop=interrupt.stop)
            Reporter(quiet=quiet).summary(summary)
            echo(f"\n$ comment-migrate status --checkpoint {checkpoint}")
            echo(describe_status(load_status(checkpoint), checkpoint))
            if summary.interrupted:
                return ExitStatus.INTERRUPTED
            if summary.failed_pages:
                worst = ExitStatus.PAGES_FAILED
    echo(f"\nDone. Open {output / 'comments.wxr'} (WordPress WXR: Isso, Remark42, Disqus "
         f"import it) or {output / 'comments.jsonl'} (one comment per line).")
    return worst
