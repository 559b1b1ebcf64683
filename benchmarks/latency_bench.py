"""How close does the migration come to the latency limit when the target is far away?

The HTTP contract server (migrate/testing/contract.py, in its own process on 127.0.0.1, a fresh
one per measurement) answers every request after DELAY seconds, as a Worker 30-100 ms away
would. A client that sends one comment per request with W requests in flight cannot beat
comments x DELAY / W: that is the limit. Two shapes of site, with realistic threads (mostly
top-level comments, some replies, a few replies to replies):
  - many pages: 16 pages x 150 comments,
  - one page:   1 page x 1,200 comments (a popular post),
each migrated without batches (`batch_size = 0`; ratio = limit / time, 1.0 is the limit) and
with batches (speed-up = limit / time). The LAST stdout line is a JSON object.

    python benchmarks/latency_bench.py [--delay 0.04] [--workers 8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from migrate import ArchiveSource, HttpTarget, Migration, RunOptions  # noqa: E402
from migrate.model import Author, Comment, Page, PageComments  # noqa: E402
from migrate.systems.archive import write_archive  # noqa: E402
from migrate.testing.contract_process import ContractServerProcess  # noqa: E402

SHAPES = {"many_pages": (16, 150), "one_page": (1, 1200)}


class SiteSource:
    """A generated site: per page, 70% top-level comments, 25% replies to a top-level one,
    5% replies to a reply (seeded, so every run migrates the same site)."""

    system = "matrix"

    def __init__(self, pages: int, per_page: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        start = datetime(2022, 1, 1, tzinfo=UTC)
        self.site: dict[Page, list[Comment]] = {}
        for p in range(pages):
            page = Page(id=f"post{p}", key=f"/post{p}/", title=f"Post {p}")
            comments: list[Comment] = []
            tops: list[str] = []
            replies: list[str] = []
            for i in range(per_page):
                roll = rng.random()
                parent = None
                if roll > 0.95 and replies:
                    parent = rng.choice(replies[-20:])
                elif roll > 0.70 and tops:
                    parent = rng.choice(tops[-20:])
                cid = f"$p{p}c{i}:bench"
                (tops if parent is None else replies).append(cid)
                author = f"reader{rng.randrange(40)}"
                comments.append(
                    Comment(
                        id=cid,
                        page_id=page.id,
                        parent_id=parent,
                        author=Author(author, f"@{author}:bench"),
                        text=f"Comment {i} on post {p}: " + "lorem ipsum " * rng.randrange(1, 12),
                        created_at=start + timedelta(minutes=p * per_page + i),
                    )
                )
            self.site[page] = comments

    def pages(self) -> Iterator[Page]:
        return iter(self.site)

    def comments(self, page: Page) -> PageComments:
        return PageComments(page, list(self.site[page]))

    def identity(self) -> dict[str, str]:
        return {"site": "latency-bench"}

    def close(self) -> None:
        pass


def migrate(archive: Path, folder: Path, delay: float, workers: int, batch_size: int) -> float:
    with ContractServerProcess(delay) as server:
        target = HttpTarget(server.url, batch_size=batch_size)
        migration = Migration(
            ArchiveSource(archive),
            target,
            checkpoint=folder / f"cp-{time.monotonic_ns()}.json",
            workers=workers,
        )
        started = time.perf_counter()
        summary = migration.run(RunOptions(quiet=True))
        elapsed = time.perf_counter() - started
        target.close()
        assert not summary.failed_pages, summary.failed_pages
        assert summary.comments_imported == summary.comments_extracted
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.04, help="seconds per request")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "delay": args.delay,
        "workers": args.workers,
        "batch_size": args.batch_size,
    }
    print(
        f"delay {args.delay * 1000:.0f} ms per request, {args.workers} workers; "
        "limit = comments x delay / workers"
    )
    print(
        f"{'shape':>11} {'comments':>8} {'limit s':>8} {'single s':>9} {'ratio':>6} "
        f"{'batch s':>8} {'speed-up':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for shape, (pages, per_page) in SHAPES.items():
            archive = folder / f"{shape}.archive.jsonl"
            write_archive(archive, SiteSource(pages, per_page))
            comments = pages * per_page
            limit = comments * args.delay / args.workers
            single = migrate(archive, folder, args.delay, args.workers, 0)
            batched = migrate(archive, folder, args.delay, args.workers, args.batch_size)
            ratio, speedup = limit / single, limit / batched
            print(
                f"{shape:>11} {comments:>8} {limit:>8.2f} {single:>9.2f} {ratio:>6.3f} "
                f"{batched:>8.2f} {speedup:>8.1f}"
            )
            results[f"ratio_{shape}"] = round(ratio, 3)
            results[f"batch_speedup_{shape}"] = round(speedup, 2)
            results[f"seconds_{shape}"] = round(single, 3)
            results[f"batch_seconds_{shape}"] = round(batched, 3)
            results[f"limit_seconds_{shape}"] = round(limit, 3)
    results["batch_speedup"] = min(
        results["batch_speedup_many_pages"], results["batch_speedup_one_page"]
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
