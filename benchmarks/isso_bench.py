"""How much does the migration cost over posting the same comments to Isso by hand?

A real Isso (`isso run`, on 127.0.0.1, a fresh database per measurement), 8 pages x 60
comments with threads two levels deep, 8 workers. Measured side by side in one run,
alternating, median of ROUNDS:
  - ours: the migration into the Isso target (one request per page at a time, since a
          thread shows its comments in arrival order; checks, placement, the checkpoint),
  - raw:  a bare requests loop posting the same bodies to the same `POST /new?uri=...`,
          one thread per page, parents resolved with a dict.
The LAST stdout line is a JSON object.

    python benchmarks/isso_bench.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from side_by_side import Records, payloads, report, timed_migration, timed_pages  # noqa: E402

from migrate import IssoTarget  # noqa: E402
from migrate.testing.factories import make_archive, threaded_site  # noqa: E402
from migrate.testing.isso import IssoServer  # noqa: E402

PAGES, PER_PAGE, WORKERS, ROUNDS = 8, 60, 8, 5


def run_ours(archive: Path, folder: Path) -> float:
    with IssoServer(folder / f"isso-{time.monotonic_ns()}") as isso:
        checkpoint = folder / f"cp-{time.monotonic_ns()}.json"
        return timed_migration(archive, IssoTarget(isso.url), checkpoint, WORKERS, PAGES * PER_PAGE)


def run_raw(pages: dict[str, Records], folder: Path) -> float:
    with IssoServer(folder / f"isso-{time.monotonic_ns()}") as isso:

        def post_page(uri: str, records: Records) -> int:
            session = requests.Session()
            new_ids: dict[str, int] = {}
            for record in records:
                parent = record["source"]["parent_id"]
                response = session.post(
                    f"{isso.url}/new",
                    params={"uri": uri},
                    json={
                        "text": record["text"],
                        "author": record["author"]["name"],
                        "website": None,
                        "email": None,
                        "parent": new_ids[parent] if parent else None,
                        "title": record["page"]["title"],
                    },
                    timeout=30,
                )
                response.raise_for_status()
                session.cookies.clear()  # as the target does: Isso's cookies pile up
                new_ids[record["source"]["id"]] = response.json()["id"]
            return len(records)

        elapsed, sent = timed_pages(pages, post_page, WORKERS)
        assert sent == PAGES * PER_PAGE
        return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_archive(
            folder / "site.archive.jsonl", threaded_site(pages=PAGES, per_page=PER_PAGE, depth=2)
        )
        bodies = payloads(archive, folder, IssoTarget("http://127.0.0.1:9").capabilities)
        ours, raw = [], []
        for _ in range(ROUNDS):
            ours.append(run_ours(archive, folder))
            raw.append(run_raw(bodies, folder))
        report("Isso", (PAGES, PER_PAGE, WORKERS, ROUNDS), ours, raw, "")


if __name__ == "__main__":
    main()
