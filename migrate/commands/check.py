"""`comment-migrate check`: a preflight that says, item by item, whether a run would work.

Entry points: `run_checks(config) -> CheckReport` (the CLI) and `Migration.check()` (the
Python API, through `check_migration`). Each `CheckItem` is ok, or says what is wrong
(`detail`) and how to fix it (`fix`). Nothing here prints; the CLI does.

What is checked, in order:
- the configuration (already parsed by the caller): its path, source and target types;
- a source with the `Preflightable` ability checks its own service and credentials (the Matrix
  source: homeserver, token and its rights; migrate/systems/matrix/preflight.py); then the pages
  are listed, and such a source checks that each page can be read (its room);
- the target answers and accepts its credentials without anything being written (the
  `Probeable` ability); a file target is not opened (opening one may repair, i.e. write, its
  file): its folder must be writable and an existing output one its plugin `recognizes`;
- the checkpoint's folder is writable, and an existing checkpoint belongs to this migration;
- with a site URL (`[target] site_url`): each page's URL (site_url + uri) answers 200 and, for
  a target with the `EmbedCheckable` ability (Isso), shows the thread the migration writes to.

Writes nothing, with two exceptions that leave no trace a run would see: a temp file created
and deleted at once to prove a folder writable, and whatever a source's preflight documents
(the Matrix source without a token registers a guest, as the Cactus web client does).
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migrate.abilities import (
    CheckFailed,
    EmbedCheckable,
    Preflightable,
    Probeable,
    Source,
    SourcePreflight,
    Target,
    crash_window,
)
from migrate.commands.check_files import checkpoint_item, output_item
from migrate.commands.check_report import CheckReport
from migrate.config import Config
from migrate.errors import MigrateError, MissingToken
from migrate.identity import identity_digest, migration_identity
from migrate.model import CheckItem, Page
from migrate.pages import keyed_source
from migrate.plugins import build_source
from migrate.spec import TargetSpec
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

if TYPE_CHECKING:
    from migrate.migration import Migration

__all__ = ["CheckItem", "CheckReport", "check_migration", "run_checks"]

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 10.0  # seconds per request: a preflight should fail fast, not wait like a run
# of a site's page, only its head is read: an embed's script and element fit in it many times
PAGE_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Preflight:
    """What one check looks at, from a configuration file or from a Migration."""

    where: str  # how the fixes name the configuration
    summary: str  # the "config" item
    source: Source | None
    source_problem: str  # why there is no source
    source_kind: str
    target: TargetSpec
    checkpoint: Path
    digest: str | None  # None: the source could not be built, so its identity is unknown
    site_url: str
    workers: int
    timeout: float


def run_checks(
    config: Config, *, checkpoint: Path | None = None, timeout: float = CHECK_TIMEOUT
) -> CheckReport:
    """Check everything a run of `config` needs, writing nothing; see the module docstring.
    `checkpoint` replaces [run] checkpoint, as `run --checkpoint` does."""
    timeout = min(timeout, config.run.timeout)
    # one attempt per request, short: the check reports a fault instead of riding it out
    run = dataclasses.replace(config.run, max_attempts=1, timeout=timeout)
    where = str(config.path) if config.path else "the configuration"
    site_url = config.target.text("site_url")
    summary = f"{where}: {config.source.type} source -> {config.target.type} target"
    source: Source | None = None
    problem = ""
    try:
        source = keyed_source(build_source(config.source, run), config.pages)
    except (MigrateError, ValueError) as exc:
        problem = str(exc)
    target = TargetSpec.from_config(dataclasses.replace(config, run=run))
    digest = None
    if source is not None:
        digest = identity_digest(migration_identity(source, target.name, target.identity))
    preflight = _Preflight(
        where=where,
        summary=summary + (f", site {site_url}" if site_url else ""),
        source=source,
        source_problem=problem,
        source_kind=config.source.type,
        target=target,
        checkpoint=checkpoint or config.run.checkpoint,
        digest=digest,
        site_url=site_url,
        workers=config.run.workers,
        timeout=timeout,
    )
    try:
        return _check(preflight)
    finally:
        if source is not None:
            source.close()


def check_migration(
    migration: Migration, *, site_url: str = "", timeout: float = CHECK_TIMEOUT
) -> CheckReport:
    """`Migration.check()`: the same checks for a migration built as objects."""
    kind = type(migration.source).__name__
    summary = f"the migration: {kind} -> {migration.target.name} target"
    return _check(
        _Preflight(
            where="the migration",
            summary=summary + (f", site {site_url}" if site_url else ""),
            source=migration.source,
            source_problem="",
            source_kind=kind,
            target=migration.target,
            checkpoint=migration.checkpoint,
            digest=migration.digest,
            site_url=site_url,
            workers=migration.workers,
            timeout=timeout,
        )
    )


def _check(p: _Preflight) -> CheckReport:
    report = CheckReport()
    report.add(CheckItem("config", True, p.summary))
    pages, source_check = _check_source(p, report)
    target = _check_target(p, report)
    window = crash_window(p.target.capabilities)
    if window is not None:
        # a fact of the target, not a fault: the run goes on, and its summary says it again
        report.add(CheckItem("crash safety", True, f"the {p.target.name} target {window}"))
    report.add(checkpoint_item(p.checkpoint, p.digest, p.where))
    try:
        if pages:
            report.add(*_check_pages(p, pages, source_check, target))
    finally:
        if target is not None:
            target.close()
    return report


# -- the source ------------------------------------------------------------------------------


def _check_source(p: _Preflight, report: CheckReport) -> tuple[list[Page], SourcePreflight | None]:
    """The source's own items, then the pages item; returns the pages listed."""
    if p.source is None:
        report.add(
            CheckItem(
                "source",
                False,
                f"cannot use the source: {p.source_problem}",
                f"correct [source] in {p.where}",
            )
        )
        return [], None
    ability = p.source.preflight(p.timeout) if isinstance(p.source, Preflightable) else None
    if ability is not None:
        service = ability.service()
        report.add(*service)
        failed = next((item for item in service if not item.ok), None)
        if failed is not None:
            report.add(
                CheckItem(
                    "pages",
                    False,
                    f"not checked: the {failed.name} item failed",
                    f"fix the {failed.name} item first",
                )
            )
            return [], ability
    origin = ability.origin if ability else f"from the {p.source_kind} source"
    fix = ability.fix if ability else f"correct [source] in {p.where}"
    try:
        pages = list(p.source.pages())
    except (MigrateError, HttpError, OSError) as exc:
        report.add(CheckItem("pages", False, f"cannot list the pages: {exc}", fix))
        return [], ability
    if not pages:
        report.add(CheckItem("pages", False, f"no pages found ({origin})", fix))
        return [], ability
    note = f"; {ability.note}" if ability and ability.note else ""
    report.add(CheckItem("pages", True, f"{len(pages)} pages ({origin}){note}"))
    return pages, ability


# -- the target ------------------------------------------------------------------------------


def _check_target(p: _Preflight, report: CheckReport) -> Target | None:
    spec = p.target
    if spec.output is not None:
        # a file target is not built: opening one may repair (write) its store
        report.add(output_item(Path(spec.output), spec.name, spec.recognizes, p.where))
        return None
    try:
        target = spec.build()
    except MissingToken as exc:
        report.add(CheckItem("target", False, str(exc), f"export {exc.variable}=<the token>"))
        return None
    except (MigrateError, ValueError) as exc:
        report.add(
            CheckItem(
                "target", False, f"cannot use the target: {exc}", f"correct [target] in {p.where}"
            )
        )
        return None
    report.add(_probe_item(p, target))
    return target


def _probe_item(p: _Preflight, target: Target) -> CheckItem:
    if not isinstance(target, Probeable):
        return CheckItem("target", True, f"not checked: the {target.name} target has no probe")
    label = f"the {target.name} target"
    try:
        return CheckItem("target", True, target.probe())
    except CheckFailed as exc:
        return CheckItem("target", False, exc.detail, exc.fix)
    except HttpError as exc:
        if exc.status is None:
            return CheckItem(
                "target",
                False,
                f"{label} does not answer: {exc.message}",
                f"check [target] url in {p.where} and that the server runs",
            )
        return CheckItem(
            "target",
            False,
            f"{label} answered unexpectedly: {exc.message}",
            f"check [target] url and type in {p.where}",
        )
    except MigrateError as exc:
        return CheckItem("target", False, str(exc), f"check [target] url in {p.where}")


# -- pages -----------------------------------------------------------------------------------


def _check_pages(
    p: _Preflight, pages: list[Page], source: SourcePreflight | None, target: Target | None
) -> list[CheckItem]:
    site_url = p.site_url.rstrip("/")
    if source is None and not site_url:
        return []  # nothing per page to check (an archive, no site)
    site = (
        HttpClient(site_url, timeout=p.timeout, policy=RetryPolicy(max_attempts=1))
        if site_url
        else None
    )
    embed = target if isinstance(target, EmbedCheckable) else None

    def check(page: Page) -> CheckItem:
        parts = [] if source is None else [source.page(page)]
        if site is not None:
            parts.append(_site_part(site, page, embed))
        return _merge(f"page {page.id}", [part for part in parts if part is not None])

    try:
        with ThreadPoolExecutor(max_workers=max(1, p.workers)) as pool:
            return list(pool.map(check, pages))
    finally:
        if site is not None:
            site.close()


def _site_part(site: HttpClient, page: Page, embed: EmbedCheckable | None) -> CheckItem:
    name = f"page {page.id}"
    url = site.url(page.key)
    try:
        response = site.request("GET", page.key, ok=(200,), retry=False, max_bytes=PAGE_BYTES)
    except HttpError as exc:
        where = f"status {exc.status}" if exc.status else exc.message
        return CheckItem(
            name,
            False,
            f"{url} answers {where}",
            f"check the page's uri {page.key!r} (the pages file's second column, or "
            "[pages] rewrite and map: docs/pages.md) and [target] site_url",
        )
    answered = CheckItem(name, True, f"{url} answers 200")
    if embed is None:
        return answered
    found = embed.check_embed(page, response.text, response.url)
    if not found.ok and len(response.content) >= PAGE_BYTES:
        found = dataclasses.replace(
            found, detail=f"{found.detail} (in the first {PAGE_BYTES // 1024} KiB of the page)"
        )
    return _merge(name, [answered, found])


def _merge(name: str, parts: list[CheckItem]) -> CheckItem:
    """One item of several findings: its problems and their fixes, or what was found ok."""
    problems = [part for part in parts if not part.ok]
    if problems:
        fixes = dict.fromkeys(part.fix for part in problems if part.fix)
        return CheckItem(name, False, "; ".join(p.detail for p in problems), "; ".join(fixes))
    return CheckItem(name, True, ", ".join(part.detail for part in parts) or "ok")
