"""A dry run over the bundled sample site: what a migration into one target would do.

For every page: how many comments and threads, how deep the source nests, how many replies the
target's depth limit re-attaches higher up (with an example of the "@Name: ..." they keep), and
what the target would refuse, and why. Then the totals, and the same plan made by
`comment-migrate run --dry-run`, which must agree. Nothing is sent anywhere.

    python demos/dry_run.py                  # into Isso (two levels, refuses text under 3 chars)
    python demos/dry_run.py --target http    # the HTTP contract (any depth)
    python demos/dry_run.py --target wxr --no-cli
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from migrate.model import Capabilities, OutgoingComment, Page  # noqa: E402
from migrate.pipeline.transform import CommentTransformer, PagePlan  # noqa: E402
from migrate.systems.archive import ArchiveSource  # noqa: E402

TARGETS = ("isso", "http", "wxr", "jsonl")
Check = Callable[[OutgoingComment], str | None]


@contextlib.contextmanager
def sample_archive() -> Iterator[Path]:
    """The sample site shipped with the package (migrate/sample/site.archive.jsonl)."""
    resource = importlib.resources.files("migrate") / "sample" / "site.archive.jsonl"
    with importlib.resources.as_file(resource) as path:
        yield path


def min_length_check(capabilities: Capabilities) -> Check:
    def check(outgoing: OutgoingComment) -> str | None:
        minimum = capabilities.min_text_length
        if minimum and len(outgoing.text.rstrip()) < minimum:
            return f"text is too short (minimum length: {minimum})"
        return None

    return check


def target_rules(name: str) -> tuple[Capabilities, Check]:
    """The target's capabilities and its refusal rule, without touching the network."""
    if name == "isso":
        from migrate.systems.isso.target import IssoTarget

        isso = IssoTarget("http://isso.invalid")  # builds a client, connects nowhere
        isso.close()
        return isso.capabilities, isso.check
    if name == "http":
        from migrate.systems.http.target import HttpTarget

        http = HttpTarget("http://comments.invalid")
        http.close()
        return http.capabilities, http.check
    if name == "wxr":
        from migrate.systems.wordpress.wxr import WxrTarget

        # the class's own declaration: an instance would create its output file
        return WxrTarget.capabilities, min_length_check(WxrTarget.capabilities)
    from migrate.systems.jsonl.target import DEFAULT_CAPABILITIES

    return DEFAULT_CAPABILITIES, min_length_check(DEFAULT_CAPABILITIES)


@dataclass
class PageForecast:
    page: Page
    comments: int
    threads: int
    max_depth: int
    sent: int = 0
    flattened: int = 0  # replies hung under an ancestor because of the depth limit
    example: str | None = None  # one flattened reply as the target would receive it
    passed_over: int = 0  # replies re-attached because their parent was refused
    tombstones: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (text, reason)


def forecast_page(
    page: Page, archive: ArchiveSource, transformer: CommentTransformer, check: Check
) -> PageForecast:
    """Place and check every comment of the page in send order, as the orchestrator would,
    with made-up target ids instead of sending."""
    comments = archive.comments(page).comments
    plan = PagePlan(transformer, page, comments)
    forecast = PageForecast(page, len(comments), plan.threads(), plan.max_depth())
    mapped: dict[str, str] = {}
    refused: dict[str, str] = {}
    for comment in plan.order:
        outgoing = plan.outgoing(comment, mapped.get, refused.get)
        reason = check(outgoing)
        if reason is not None:
            refused[comment.id] = reason
            forecast.refused.append((outgoing.text, reason))
            continue
        mapped[comment.id] = f"planned-{len(mapped) + 1}"
        forecast.sent += 1
        forecast.tombstones += comment.deleted
        direct = comment.parent_id if comment.parent_id in plan.by_id else None
        if outgoing.parent_source_id != direct:
            if direct in refused:
                forecast.passed_over += 1
            else:
                forecast.flattened += 1
                if forecast.example is None and outgoing.text.startswith("@"):
                    forecast.example = outgoing.text
    return forecast


def describe_capabilities(name: str, capabilities: Capabilities) -> str:
    depth = (
        "any depth"
        if capabilities.max_depth is None
        else f"{capabilities.max_depth + 1} levels (max_depth {capabilities.max_depth})"
    )
    parts = [
        f"{name} keeps {depth}",
        "keeps timestamps" if capabilities.keeps_timestamps else "sets its own timestamps",
        f"takes {capabilities.content}",
    ]
    if capabilities.min_text_length:
        parts.append(f"refuses text under {capabilities.min_text_length} characters")
    return ", ".join(parts)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def shorten(text: str, width: int = 60) -> str:
    return textwrap.shorten(" ".join(text.split()), width, placeholder="...")


def print_forecast(forecast: PageForecast) -> None:
    page = forecast.page
    print(f'{page.id}  {page.key}  "{page.title or ""}"')
    tombstones = (
        f", {plural(forecast.tombstones, 'deleted comment')} kept as a tombstone"
        if forecast.tombstones
        else ""
    )
    print(
        f"    {plural(forecast.comments, 'comment')} in {plural(forecast.threads, 'thread')}, "
        f"nested up to depth {max(forecast.max_depth, 0)}{tombstones}"
    )
    if forecast.flattened:
        print(
            f"    {plural(forecast.flattened, 'reply', 'replies')} re-attached by depth "
            f'flattening, e.g. "{shorten(forecast.example or "")}"'
        )
    else:
        print("    depth flattening: nothing to do")
    if forecast.passed_over:
        print(
            f"    {plural(forecast.passed_over, 'reply', 'replies')} re-attached past a "
            "refused parent"
        )
    for text, reason in forecast.refused:
        print(f'    refused: "{shorten(text, 30)}": {reason}')
    if not forecast.refused:
        print("    refused: none")


def cli_dry_run(archive: Path, target: str, workdir: Path) -> dict[str, object]:
    """`comment-migrate run --dry-run` on the same archive; returns its JSON summary."""
    target_section = {
        "isso": 'url = "http://127.0.0.1:9"',  # never contacted by a dry run
        "http": 'url = "http://127.0.0.1:9"',
        "wxr": 'output = "comments.wxr"',
        "jsonl": 'output = "comments.jsonl"',
    }[target]
    config = workdir / "migration.toml"
    config.write_text(
        f'[source]\ntype = "archive"\npath = {json.dumps(str(archive))}\n\n'
        f'[target]\ntype = "{target}"\n{target_section}\n\n'
        '[run]\ncheckpoint = ".migration_checkpoint.json"\n',
        encoding="utf-8",
    )
    command = ["run", "-c", "migration.toml", "--dry-run", "--dry-run-output", "plan.jsonl"]
    print(f"$ comment-migrate {' '.join(command)}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "migrate", *command, "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # the human summary is on stderr; a few lines are enough here
    lines = done.stderr.rstrip().splitlines()
    for line in lines[:6]:
        print(line)
    if len(lines) > 6:
        print(f"  ... ({len(lines) - 6} more lines)")
    print(f"(exit status {done.returncode})")
    if done.returncode not in (0, 3):
        raise SystemExit(f"comment-migrate run --dry-run failed:\n{done.stderr}")
    summary: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="isso",
        help="plan for this target's rules (default: isso)",
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=None,
        help="another archive (default: the bundled sample site)",
    )
    parser.add_argument(
        "--no-cli", action="store_true", help="skip the `comment-migrate run --dry-run` comparison"
    )
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        path = args.archive or stack.enter_context(sample_archive())
        archive = ArchiveSource(path)
        capabilities, check = target_rules(args.target)
        transformer = CommentTransformer(capabilities, system=archive.system)
        pages = list(archive.pages())
        skipped_events = sum(len(archive.comments(p).skipped) for p in pages)

        print(
            f"Dry run: {path.name} ({archive.source_identity.get('site', '?')} on "
            f"{archive.source_identity.get('homeserver', '?')}) into {args.target}"
        )
        print(f"  {describe_capabilities(args.target, capabilities)}")
        print("  Nothing is sent.\n")
        forecasts = []
        for page in pages:
            forecast = forecast_page(page, archive, transformer, check)
            forecasts.append(forecast)
            print_forecast(forecast)
        total = sum(f.comments for f in forecasts)
        sent = sum(f.sent for f in forecasts)
        refused = sum(len(f.refused) for f in forecasts)
        print(
            f"\nTotal: {len(forecasts)} pages, {total} comments in "
            f"{sum(f.threads for f in forecasts)} threads; "
            f"{sum(f.flattened for f in forecasts)} replies re-attached by depth flattening, "
            f"{sum(f.passed_over for f in forecasts)} past a refused parent; "
            f"{sent} would be sent, {refused} refused "
            f"({skipped_events} source events were already skipped at extraction)"
        )
        if args.no_cli:
            return 0

        print()
        with tempfile.TemporaryDirectory(prefix="dry-run-demo-") as tmp:
            summary = cli_dry_run(path, args.target, Path(tmp))
        skipped = summary.get("skipped_events", [])
        reported_skips = len(skipped) if isinstance(skipped, list) else None  # None: malformed
        agrees = (
            summary.get("comments_imported") == sent
            and summary.get("comments_skipped") == refused
            and reported_skips == skipped_events
        )
        print(
            f"comment-migrate {'agrees' if agrees else 'DISAGREES'}: "
            f"{summary.get('comments_imported')} would be sent, "
            f"{summary.get('comments_skipped')} refused, "
            f"{reported_skips} source events skipped at extraction"
        )
        return 0 if agrees else 1


if __name__ == "__main__":
    sys.exit(main())
