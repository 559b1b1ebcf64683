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

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from side_by_side import Records, payloads, report, timed_migration, timed_pages  # noqa: E402

from migrate.systems.waline import WalineTarget  # noqa: E402
from migrate.systems.waline.target import waline_time  # noqa: E402
from migrate.testing.factories import make_archive, threaded_site  # noqa: E402
from migrate.testing.waline import WalineServer  # noqa: E402

PAGES, PER_PAGE, WORKERS, ROUNDS = 8, 60, 8, 5


def run_ours(archive: Path, folder: Path) -> float:
    with WalineServer(folder / f"waline-{time.monotonic_ns()}") as waline:
        target = WalineTarget(waline.url, token=waline.admin_token())
        checkpoint = folder / f"cp-{time.monotonic_ns()}.json"
        elapsed = timed_migration(archive, target, checkpoint, WORKERS, PAGES * PER_PAGE)
        assert len(waline.rows()) == PAGES * PER_PAGE  # one row per comment, no other
        return elapsed


def run_raw(pages: dict[str, Records], folder: Path) -> float:
    with WalineServer(folder / f"waline-{time.monotonic_ns()}") as waline:
        auth = {"Authorization": f"Bearer {waline.admin_token()}"}

        def post_page(uri: str, records: Records) -> int:
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

        elapsed, sent = timed_pages(pages, post_page, WORKERS)
        assert sent == PAGES * PER_PAGE
        assert len(waline.rows()) == PAGES * PER_PAGE
        return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_archive(
            folder / "site.archive.jsonl", threaded_site(pages=PAGES, per_page=PER_PAGE, depth=4)
        )
        bodies = payloads(archive, folder, WalineTarget.capabilities)
        ours, raw = [], []
        for _ in range(ROUNDS):
            ours.append(run_ours(archive, folder))
            raw.append(run_raw(bodies, folder))
        note = "; one write per comment in both"
        report("Waline", (PAGES, PER_PAGE, WORKERS, ROUNDS), ours, raw, note)


if __name__ == "__main__":
    main()
