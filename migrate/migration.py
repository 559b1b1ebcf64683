"""The Python API: one migration, as objects, with verbs that return info objects.

    from migrate import ArchiveSource, Migration, WxrTarget

    migration = Migration(ArchiveSource("site.archive.jsonl"), WxrTarget("comments.wxr"),
                          checkpoint="wxr.checkpoint.json")
    summary = migration.run()
    assert not summary.failed_pages
    report = migration.verify()

The command line builds the same object from migration.toml (`Migration.from_config`), so a
script can do whatever the CLI does without writing a TOML file. Failure is data (a summary
with failed pages, a report that is not ok); only misuse and broken state raise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.abilities import Source, Target
from migrate.config import DEFAULT_CHECKPOINT, DEFAULT_URI, Config
from migrate.identity import identity_digest, migration_identity
from migrate.model import Page
from migrate.pages import PageRule, keyed_source, templated_key
from migrate.plugins import build_source
from migrate.spec import TargetSpec

if TYPE_CHECKING:
    from migrate.commands.check_report import CheckReport
    from migrate.commands.rollback import RollbackOutcome
    from migrate.commands.run import RunOptions
    from migrate.commands.sync import SyncOptions
    from migrate.commands.verify import VerifyReport
    from migrate.pipeline.changes import SyncSummary
    from migrate.reporter import RunSummary


log = logging.getLogger(__name__)


class Migration:
    """A source, a target and the checkpoint that remembers what went where."""

    def __init__(
        self,
        source: Source,
        target: Target | TargetSpec,
        *,
        checkpoint: str | Path = DEFAULT_CHECKPOINT,
        workers: int = 4,
        mention_parent: bool = True,
        keep_ip: bool = False,
        uri_template: str = DEFAULT_URI,
        orphans: str = "fail",
        pages: PageRule | None = None,
    ) -> None:
        # the one place every source's pages get their keys ([pages], twins, collisions)
        self.source = keyed_source(source, pages)
        self.target = target if isinstance(target, TargetSpec) else TargetSpec.of(target)
        self.checkpoint = Path(checkpoint)
        self.workers = workers
        self.mention_parent = mention_parent
        self.keep_ip = keep_ip
        self.uri_template = uri_template
        self.orphans = orphans  # a reply whose parent was removed from the target: see RunConfig
        self.identity = migration_identity(self.source, self.target.name, self.target.identity)

    @classmethod
    def from_config(cls, config: Config) -> Migration:
        """The migration a migration.toml describes (source and target built by their
        plugins; the target opened only when it is used)."""
        source = build_source(config.source, config.run)
        if config.media is not None:
            attach = getattr(source, "attach_media", None)
            if attach is None:
                log.warning(
                    "[media]: the %s source copies no media; links stay as they are",
                    config.source.type,
                )
            else:
                attach(config.media, config.run)
        return cls(
            source,
            TargetSpec.from_config(config),
            checkpoint=config.run.checkpoint,
            workers=config.run.workers,
            mention_parent=config.mention_parent,
            keep_ip=config.keep_ip,
            uri_template=config.uri_template,
            orphans=config.run.orphans,
            pages=config.pages,
        )

    @property
    def digest(self) -> str:
        return identity_digest(dict(self.identity))

    def page_for(self, page_id: str) -> Page:
        """A page the source no longer lists: its id, and the uri the template gives."""
        return Page(id=page_id, key=templated_key(self.uri_template, page_id))

    # -- verbs ------------------------------------------------------------------------------

    def run(
        self,
        options: RunOptions | None = None,
        *,
        stop: threading.Event | None = None,
        **kwargs: Any,
    ) -> RunSummary:
        """Migrate every page not yet complete (see RunOptions: dry_run, pages, reset...)."""
        from migrate.commands.run import RunOptions, run_migration

        return run_migration(self, options or RunOptions(**kwargs), stop=stop)

    def sync(
        self,
        options: SyncOptions | None = None,
        *,
        stop: threading.Event | None = None,
        **kwargs: Any,
    ) -> SyncSummary:
        """Every page again, importing only what is new since the last run or sync, and
        applying edits and deletions where the target can (see SyncOptions: dry_run...)."""
        from migrate.commands.sync import SyncOptions, sync_migration

        return sync_migration(self, options or SyncOptions(**kwargs), stop=stop)

    def verify(self) -> VerifyReport:
        """Read source and target again and compare them through the checkpoint."""
        from migrate.commands.verify import verify_migration

        return verify_migration(self)

    def rollback(
        self,
        *,
        backup: Path | None = None,
        confirm: Callable[[RollbackOutcome], bool] = lambda outcome: True,
        stop: threading.Event | None = None,
    ) -> RollbackOutcome:
        """Delete from the target what this migration created, after a backup."""
        from migrate.commands.rollback import rollback_migration

        return rollback_migration(self, backup=backup, confirm=confirm, stop=stop)

    def check(self, *, site_url: str = "") -> CheckReport:
        """Preflight, writing nothing: the source, the target, the checkpoint and, with
        `site_url`, that each page answers and shows the thread the migration writes to."""
        from migrate.commands.check import check_migration

        return check_migration(self, site_url=site_url)

    def status(self) -> dict[str, Any]:
        from migrate.commands.status import load_status

        return load_status(self.checkpoint)

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> Migration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
