"""Does the GitHub target keep GitHub's pace, as fast as the limit allows and no faster?

Against the STAND-IN for GitHub (migrate/testing/github_standin.py: not GitHub, which cannot
run here; every query is checked against GitHub's published schema), whose secondary limit
is PER_MINUTE content creations a minute (a real minute, sliding window). A site of about
2.5 minutes of creations at that limit (so the run crosses the limit twice) migrates twice,
side by side in one run:
  - paced:   the target configured with per_minute = PER_MINUTE (the limit GitHub documents
             is what the user configures): it should never meet the limit;
  - unpaced: per_minute far above the limit: the stand-in answers the secondary limit
             (403 / 429 / GraphQL error in turn, with retry-after), the target waits as told.
Printed per run: creations, seconds, the pace as a ratio of the configured limit
(creations per minute from the first to the last / PER_MINUTE: 0.95 or more is the target
for the paced run), the busiest minute (never above the limit), limit answers met, comments
lost or twice. The unpaced run's ratio is not a pace: it sends each minute's worth in a
burst as soon as the window lets it, so its first-to-last span is short of a minute per
burst. The LAST stdout line is a JSON object.

    python benchmarks/github_bench.py            # about 6 minutes
    PER_MINUTE=120 python benchmarks/github_bench.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from migrate import ArchiveSource, Migration, RunOptions  # noqa: E402
from migrate.systems.github import GitHubTarget, giscus  # noqa: E402
from migrate.testing.factories import make_archive, threaded_site  # noqa: E402
from migrate.testing.github_standin import GitHubStandIn  # noqa: E402

PER_MINUTE = int(os.environ.get("PER_MINUTE", "240"))
PAGES = 6
PER_PAGE = max(4, (PER_MINUTE * 5 // 2) // PAGES - 1)  # with its discussion: ~2.5 minutes
TOKEN = "ghp_bench_standin_000000000000"  # noqa: S105 - the stand-in's own test token


def migrate_once(archive: Path, folder: Path, per_minute: float) -> dict[str, Any]:
    with GitHubStandIn(
        token=TOKEN, per_minute=PER_MINUTE, secondary_answers=("403", "429", "graphql")
    ) as server:
        target = GitHubTarget(
            "owner/site", "Comments", token=TOKEN, api_url=server.url,
            per_minute=per_minute, per_hour=1_000_000,
        )  # fmt: skip
        migration = Migration(
            ArchiveSource(archive), target,
            checkpoint=folder / f"cp-{time.monotonic_ns()}.json", workers=4,
        )  # fmt: skip
        started = time.monotonic()
        summary = migration.run(RunOptions(quiet=True))
        elapsed = time.monotonic() - started
        target.close()
        held = Counter(giscus.parse_body(c.body).source_id for c in server.store.comments.values())
        stored = server.created_at
        creations = len(stored)
        # the pace from the first creation to the last, as GitHub counts it
        span = stored[-1] - stored[0] if creations > 1 else 0.0
        rate = (creations - 1) / span * 60 if span else 0.0
        # the most creations in any minute: above the limit would be GitHub's refusal
        busiest = max(sum(1 for t in stored if start <= t < start + 60) for start in stored)
        return {
            "per_minute_configured": per_minute,
            "creations": creations,
            "seconds": round(elapsed, 1),
            "creations_per_minute": round(rate, 1),
            "ratio_to_limit": round(rate / PER_MINUTE, 3),
            "busiest_minute": busiest,
            "limit_answers": server.secondary_hits,
            "failed_pages": len(summary.failed_pages),
            "twice": sum(1 for n in held.values() if n > 1),
            "lost": PAGES * PER_PAGE - len(held),
            "schema_refusals": len(server.invalid),
        }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive = make_archive(
            folder / "site.jsonl", threaded_site(pages=PAGES, per_page=PER_PAGE, depth=3)
        )
        paced = migrate_once(archive, folder, PER_MINUTE)
        unpaced = migrate_once(archive, folder, PER_MINUTE * 50)
    for name, result in (("paced", paced), ("unpaced", unpaced)):
        print(
            f"{name:8} {result['creations']} creations in {result['seconds']} s: "
            f"{result['creations_per_minute']}/min = {result['ratio_to_limit']} x the limit "
            f"of {PER_MINUTE}/min (busiest minute: {result['busiest_minute']}); "
            f"{result['limit_answers']} limit answers, "
            f"{result['lost']} lost, {result['twice']} twice"
        )
    print(json.dumps({"limit_per_minute": PER_MINUTE, "paced": paced, "unpaced": unpaced}))


if __name__ == "__main__":
    main()
