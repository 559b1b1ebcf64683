"""What the benchmarks that race a migration against a bare requests loop share: the timed
migration, the payloads in send order, the bare loop's thread pool, and the report.

Not a benchmark itself; `isso_bench.py` and `waline_bench.py` import it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.abilities import Target
from migrate.model import Capabilities

Records = list[dict[str, Any]]


def timed_migration(
    archive: Path, target: Target, checkpoint: Path, workers: int, expected: int
) -> float:
    """Seconds of `run` from the archive into the target; every page must succeed and
    `expected` comments be imported."""
    migration = Migration(ArchiveSource(archive), target, checkpoint=checkpoint, workers=workers)
    started = time.perf_counter()
    summary = migration.run(RunOptions(quiet=True))
    elapsed = time.perf_counter() - started
    target.close()
    assert not summary.failed_pages, summary.failed_pages
    assert summary.comments_imported == expected, summary.comments_imported
    return elapsed


def payloads(archive: Path, folder: Path, capabilities: Capabilities) -> dict[str, Records]:
    """What a target of these capabilities is sent, per page in its send order, read from a
    JSON Lines file written with them."""
    out = folder / "payloads.jsonl"
    Migration(
        ArchiveSource(archive),
        JsonlTarget(out, capabilities=capabilities),
        checkpoint=folder / "payloads.json",
        workers=1,
    ).run(RunOptions(quiet=True))
    pages: dict[str, Records] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        pages.setdefault(record["page"]["uri"], []).append(record)
    return pages


def timed_pages(
    pages: dict[str, Records], post_page: Callable[[str, Records], int], workers: int
) -> tuple[float, int]:
    """(seconds, comments sent) of `post_page` over every page, one thread per page."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        sent = sum(pool.map(post_page, pages.keys(), pages.values()))
    return time.perf_counter() - started, sent


def report(
    system: str, shape: tuple[int, int, int, int], ours: list[float], raw: list[float], note: str
) -> None:
    """Print the medians, the best rounds and, last, the JSON line of the figures."""
    pages, per_page, workers, rounds = shape
    total = pages * per_page
    ours_rate = total / statistics.median(ours)
    raw_rate = total / statistics.median(raw)
    ratio = ours_rate / raw_rate
    best_ratio = min(raw) / min(ours)  # on a shared machine the best rounds show the cost
    print(f"{system}, {pages} pages x {per_page} comments, {workers} workers, {rounds} rounds")
    print(
        f"medians: ours {ours_rate:.0f} c/s, raw {raw_rate:.0f} c/s, ratio {ratio:.3f} "
        f"(best rounds: {best_ratio:.3f}){note}"
    )
    key = system.lower()
    print(
        json.dumps(
            {
                "comments": total,
                "workers": workers,
                f"ratio_{key}": round(ratio, 3),
                f"ratio_{key}_best": round(best_ratio, 3),
                "comments_per_second": round(ours_rate, 1),
                "raw_comments_per_second": round(raw_rate, 1),
                "ours_seconds": [round(s, 3) for s in ours],
                "raw_seconds": [round(s, 3) for s in raw],
            }
        )
    )
