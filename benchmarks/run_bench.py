"""How much does the migration machinery cost over posting the same payloads by hand?

20 pages x 250 comments, from an archive, into the HTTP contract server (migrate/testing/
contract.py, in its own process on 127.0.0.1, a fresh one per measurement). Measured side by
side in one run, alternating, median of ROUNDS:
  - ours:  the migration (archive source, transform, HTTP target with retries and
           idempotency keys, checkpoint journal with one record per comment),
  - raw:   a bare requests.Session loop posting the same payloads (parents resolved with a
           dict, the same headers), one thread per worker.
at workers=1 and workers=8. The LAST stdout line is a JSON object.

    python benchmarks/run_bench.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from migrate import ArchiveSource, HttpTarget, JsonlTarget, Migration, RunOptions  # noqa: E402
from migrate.testing.contract_process import ContractServerProcess  # noqa: E402
from migrate.testing.factories import make_archive, threaded_site  # noqa: E402

PAGES, PER_PAGE, ROUNDS = 20, 250, 3


def run_ours(archive: Path, workers: int, folder: Path) -> tuple[float, int]:
    with ContractServerProcess() as server:
        # like for like with the bare loop: single posts (latency_bench measures batches)
        migration = Migration(
            ArchiveSource(archive),
            HttpTarget(server.url, batch_size=0),
            checkpoint=folder / f"cp-{time.monotonic_ns()}.json",
            workers=workers,
        )
        started = time.perf_counter()
        summary = migration.run(RunOptions(quiet=True))
        elapsed = time.perf_counter() - started
        assert not summary.failed_pages, summary.failed_pages
        return elapsed, summary.comments_imported


def payloads(archive: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The bodies the migration sends, per page in its order, parents as source ids."""
    out = folder / "payloads.jsonl"
    migration = Migration(
        ArchiveSource(archive), JsonlTarget(out), checkpoint=folder / "payloads.json", workers=1
    )
    migration.run(RunOptions(quiet=True))
    pages: dict[str, list[dict[str, Any]]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        body = {
            "page": record["page"],
            "parent_id": record["source"]["parent_id"],
            "author": record["author"],
            "text": record["text"],
            "html": record["html"],
            "created_at": record["created_at"],
            "source": {
                "system": "matrix",
                "id": record["source"]["id"],
                "parent_id": record["source"]["parent_id"],
            },
        }
        pages.setdefault(record["page"]["id"], []).append(body)
    return pages


def run_raw(pages: dict[str, list[dict[str, Any]]], workers: int) -> tuple[float, int]:
    with ContractServerProcess() as server:
        local = threading.local()

        def post_page(bodies: list[dict[str, Any]]) -> int:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            new_ids: dict[str, str] = {}
            for body in bodies:
                parent = body["parent_id"]
                payload = {**body, "parent_id": new_ids[parent] if parent else None}
                response = session.post(
                    server.url + "/comments",
                    data=json.dumps(payload).encode(),
                    headers={
                        "Content-Type": "application/json",
                        "Idempotency-Key": "matrix:" + body["source"]["id"],
                    },
                    timeout=30,
                )
                response.raise_for_status()
                new_ids[body["source"]["id"]] = response.json()["id"]
            return len(bodies)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sent = sum(pool.map(post_page, pages.values()))
        return time.perf_counter() - started, sent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_archive(
            folder / "site.archive.jsonl", threaded_site(pages=PAGES, per_page=PER_PAGE, depth=4)
        )
        bodies = payloads(archive, folder)
        total = sum(len(b) for b in bodies.values())
        assert total == PAGES * PER_PAGE
        results: dict[str, Any] = {"comments": total, "rounds": ROUNDS}
        print(f"{PAGES} pages x {PER_PAGE} comments = {total}, {ROUNDS} rounds, medians")
        print(f"{'workers':>7} {'ours c/s':>10} {'raw c/s':>10} {'ratio':>7}")
        for workers in (1, 8):
            ours, raw = [], []
            for _ in range(ROUNDS):
                seconds, sent = run_ours(archive, workers, folder)
                assert sent == total
                ours.append(seconds)
                seconds, sent = run_raw(bodies, workers)
                assert sent == total
                raw.append(seconds)
            ours_rate = total / statistics.median(ours)
            raw_rate = total / statistics.median(raw)
            ratio = ours_rate / raw_rate
            print(f"{workers:>7} {ours_rate:>10.0f} {raw_rate:>10.0f} {ratio:>7.3f}")
            results[f"ratio_workers{workers}"] = round(ratio, 3)
            results[f"comments_per_second_workers{workers}"] = round(ours_rate, 1)
            results[f"raw_comments_per_second_workers{workers}"] = round(raw_rate, 1)
            results[f"ours_seconds_workers{workers}"] = [round(s, 3) for s in ours]
            results[f"raw_seconds_workers{workers}"] = [round(s, 3) for s in raw]
        print(json.dumps(results))


if __name__ == "__main__":
    main()
