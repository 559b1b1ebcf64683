"""Transform cost per comment against reply-chain depth: placement must be linear.

One page whose comments form a single chain (each answers the one before), planned and
placed the way a run does it (PagePlan: send order, depths, then each comment's placement
and outgoing body), for a target of any depth and for a two-level one (Isso). The same
16,000 comments are measured as 16 pages of 1,000-deep chains and as one 16,000-deep chain,
alternated in one run; the fastest round of each is compared (as timeit does: on a shared
machine the minimum is the least disturbed), as time per comment. A ratio near 1 is linear;
the quadratic placement this replaced took ~40 s for the 16,000-deep chain.
The last stdout line is a JSON object:
{"ratio_per_comment_16000_vs_1000": ..., "linear": ratio <= 2, ...}.

    python benchmarks/transform_bench.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrate.model import Author, Capabilities, Comment, Page
from migrate.pipeline.transform import CommentTransformer, PagePlan

PAGE = Page(id="post", key="/post/", title="A post")
START = datetime(2020, 1, 1, tzinfo=UTC)


def chain(length: int) -> list[Comment]:
    return [
        Comment(
            id=f"$c{i}",
            page_id=PAGE.id,
            parent_id=f"$c{i - 1}" if i else None,
            author=Author(f"user{i % 50}", f"@user{i % 50}:example.org"),
            text=f"reply number {i}",
            created_at=START + timedelta(seconds=i),
        )
        for i in range(length)
    ]


def seconds_per_comment(pages: list[list[Comment]], max_depth: int | None) -> float:
    capabilities = Capabilities(
        max_depth=max_depth,
        keeps_timestamps=True,
        idempotency="key",
        can_delete=True,
        content="markdown",
    )
    transformer = CommentTransformer(capabilities, system="matrix")
    sent: dict[str, str] = {}
    gc.collect()
    gc.disable()  # as timeit does: a collection's cost follows the whole heap, not this code
    try:
        started = time.perf_counter()
        for comments in pages:
            plan = PagePlan(transformer, PAGE, comments)
            for comment in plan.order:
                plan.outgoing(comment, sent.get, lambda _cid: None)
                sent[comment.id] = comment.id
        return (time.perf_counter() - started) / sum(len(page) for page in pages)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    # the same 16,000 comments either way: 16 pages of 1,000-deep chains, or one chain
    short, deep = [chain(1_000) for _ in range(16)], [chain(16_000)]
    results: dict[str, float] = {}
    for label, max_depth in (("any_depth", None), ("two_levels", 1)):
        per_short: list[float] = []
        per_deep: list[float] = []
        for _ in range(args.rounds):  # alternated, so load on the machine hits both alike
            per_short.append(seconds_per_comment(short, max_depth))
            per_deep.append(seconds_per_comment(deep, max_depth))
        ratio = min(per_deep) / min(per_short)
        results[f"ratio_{label}"] = round(ratio, 2)
        results[f"us_per_comment_1000_{label}"] = round(min(per_short) * 1e6, 2)
        results[f"us_per_comment_16000_{label}"] = round(min(per_deep) * 1e6, 2)
        print(
            f"{label}: {results[f'us_per_comment_1000_{label}']} us/comment at depth 1,000, "
            f"{results[f'us_per_comment_16000_{label}']} at 16,000 (ratio {ratio:.2f})"
        )
    worst = max(results["ratio_any_depth"], results["ratio_two_levels"])
    print(json.dumps({"ratio_per_comment_16000_vs_1000": worst, "linear": worst <= 2, **results}))


if __name__ == "__main__":
    main()
