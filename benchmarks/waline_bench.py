"""How much does the migration cost over posting the same rows to Waline by hand?

A real Waline (npm @waline/vercel on SQLite, 127.0.0.1, a fresh database per measurement; the
first run installs it, ~2 minutes), 8 pages x 60 comments with replies four deep, 8 workers.
Measured side by side in one run, alternating, median of ROUNDS:
  - ours: the migration into the Waline target (checks, placement, the checkpoint, one
          `POST /api/db?table=Comment` per comment with pid and rid set from the mapping),
  - raw:  a bare requests loop posting the same rows to the same endpoint, one thread per
          page, parents and roots resolved with a dict.
Both end with every row stored once; neither sends a second request per reply.
The LAST stdout line is a JSON object.

    python benchmarks/waline_bench.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions  # noqa: E402
from migrate.systems.waline import WalineTarget  # noqa: E402
from migrate.systems.waline.target import waline_time  # noqa: E402
from migrate.testing.factories import make_archive, threaded_site  # noqa: E402
from migrate.testing.waline import WalineServer  # noqa: E402

PAGES, PER_PAGE, WORKERS, ROUNDS = 8, 60, 8, 5


def run_ours(archive: Path, folder: Path) -> float:
    with WalineServer(folder / f"waline-{time.monotonic_ns()}") as waline:
        target = WalineTarget(waline.url, token=waline.admin_token())
        migration = Migration(
            ArchiveSource(archive),
            target,
            checkpoint=folder / f"cp-{time.monotonic_ns()}.json",
            workers=WORKERS,
        )
        started = time.perf_counter()
        summary = migration.run(RunOptions(quiet=True))
        elapsed = time.perf_counter() - started
        target.close()
        assert not summary.failed_pages, summary.failed_pages
        assert summary.comments_imported == PAGES * PER_PAGE
        assert len(waline.rows()) == PAGES * PER_PAGE  # one row per comment, no other
        return elapsed


def payloads(archive: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The comments per page in send order, with the Waline target's capabilities."""
    out = folder / "payloads.jsonl"
    Migration(
        ArchiveSource(archive),
        JsonlTarget(out, capabilities=WalineTarget.capabilities),
        checkpoint=folder / "payloads.json",
        workers=1,
    ).run(RunOptions(quiet=True))
    pages: dict[str, list[dict[str, Any]]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        pages.setdefault(record["page"]["uri"], []).append(record)
    return pages


def run_raw(pages: dict[str, list[dict[str, Any]]], folder: Path) -> float:
    with WalineServer(folder / f"waline-{time.monotonic_ns()}") as waline:
        auth = {"Authorization": f"Bearer {waline.admin_token()}"}

        def post_page(uri: str, records: list[dict[str, Any]]) -> int:
            session = requests.Session()
            session.trust_env = False
            new_ids: dict[str, int] = {}
            roots: dict[str, int | None] = {}
            for record in records:
                parent = record["source"]["parent_id"]
                pid = new_ids[parent] if parent else None
                rid = (roots[parent] or pid) if parent else None
                created = waline_time(datetime.fromisoformat(record["created_at"]))
                response = session.post(
                    f"{waline.url}/api/db",
                    params={"table": "Comment"},
                    headers=auth,
                    json={
                        "comment": record["text"],
                        "nick": record["author"]["name"],
                        "mail": None,
                        "link": None,
                        "url": uri,
                        "status": "approved",
                        "like": 0,
                        "pid": pid,
                        "rid": rid,
                        "insertedAt": created,
                        "createdAt": created,
                        "updatedAt": created,
                    },
                    timeout=30,
                )
                response.raise_for_status()
                sid = record["source"]["id"]
                new_ids[sid] = int(response.json()["data"]["objectId"])
                roots[sid] = rid
            return len(records)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            sent = sum(pool.map(post_page, pages.keys(), pages.values()))
        elapsed = time.perf_counter() - started
        assert sent == PAGES * PER_PAGE
        assert len(waline.rows()) == PAGES * PER_PAGE
        return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_archive(
            folder / "site.archive.jsonl", threaded_site(pages=PAGES, per_page=PER_PAGE, depth=4)
        )
        bodies = payloads(archive, folder)
        total = PAGES * PER_PAGE
        ours, raw = [], []
        for _ in range(ROUNDS):
            ours.append(run_ours(archive, folder))
            raw.append(run_raw(bodies, folder))
        ours_rate = total / statistics.median(ours)
        raw_rate = total / statistics.median(raw)
        ratio = ours_rate / raw_rate
        best_ratio = min(raw) / min(ours)  # on a shared machine the best rounds show the cost
        print(
            f"Waline, {PAGES} pages x {PER_PAGE} comments, {WORKERS} workers, "
            f"{ROUNDS} rounds, medians"
        )
        print(
            f"ours {ours_rate:.0f} c/s, raw {raw_rate:.0f} c/s, ratio {ratio:.3f} "
            f"(best rounds: {best_ratio:.3f}); one write per comment in both"
        )
        print(
            json.dumps(
                {
                    "comments": total,
                    "workers": WORKERS,
                    "ratio_waline": round(ratio, 3),
                    "ratio_waline_best": round(best_ratio, 3),
                    "comments_per_second": round(ours_rate, 1),
                    "raw_comments_per_second": round(raw_rate, 1),
                    "ours_seconds": [round(s, 3) for s in ours],
                    "raw_seconds": [round(s, 3) for s in raw],
                }
            )
        )


if __name__ == "__main__":
    main()
