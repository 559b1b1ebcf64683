"""Scale: deep reply chains, a million comments, the no-op rerun, and the floor under a run.

Every figure is a ratio of two measurements made side by side in this one run, each in a
fresh child process (its peak RSS is the child's own ru_maxrss; its time is wall-clock around
the work, imports excluded). Inputs are archives written by migrate.systems.archive's
write_archive in a temporary folder; every run goes into JSONL with its checkpoint.

  chain      one page whose comments form one reply chain DEPTH deep, at --chain-small and
             --chain-large: per-comment time large / small (linear in depth: about 1)
  memory     --pages-small x ... and --comments-large comments over pages of --per-page:
             peak RSS of the whole run, checkpoint included, large / small and in MB
  rerun      the same run again on its finished checkpoint: time and peak RSS / the run's
  floor      the large run against a bare copy of the same comments (read the archive's
             records, json.loads, json.dumps to a file, one fsync), in wall-clock time and
             in CPU time (on a shared machine the wall clock also counts others' turns)

    python benchmarks/scale_bench.py            # chain 5k/20k, 200k and 1M comments
    python benchmarks/scale_bench.py --quick    # the same figures at small sizes, ~1 min
    python benchmarks/scale_bench.py --floor-only   # only the run against the bare copy

The LAST stdout line is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migrate.model import Comment, Page, PageComments  # noqa: E402
from migrate.systems.archive import write_archive  # noqa: E402
from migrate.testing.factories import comment, page  # noqa: E402


class GeneratedSite:
    """A source that builds each page's comments when asked (so writing a million-comment
    archive holds one page at a time): `pages` pages of `per_page` comments, replies
    chained `depth` deep (depth = per_page: one chain)."""

    system = "matrix"

    def __init__(self, pages: int, per_page: int, depth: int) -> None:
        self.count, self.per_page, self.depth = pages, per_page, depth

    def pages(self) -> Iterator[Page]:
        return (page(f"post{p}") for p in range(self.count))

    def comments(self, pg: Page) -> PageComments:
        comments: list[Comment] = []
        for i in range(self.per_page):
            parent = comments[i - 1].id if i % self.depth else None
            comments.append(
                comment(
                    f"${pg.id}c{i}:localhost",
                    parent,
                    minute=i,
                    author=f"user{i % 7}",
                    text=f"comment {i} on {pg.id}, a few words of text as people write them",
                    page=pg.id,
                )
            )
        return PageComments(pg, comments)

    def identity(self) -> dict[str, str]:
        return {"homeserver": "http://127.0.0.1", "site": "scale-bench"}

    def close(self) -> None:
        pass


RUN = """
import json, resource, sys, time
from pathlib import Path
archive, output, checkpoint = map(Path, sys.argv[1:4])
from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage.ru_utime + usage.ru_stime
started = time.perf_counter()
migration = Migration(ArchiveSource(archive), JsonlTarget(output), checkpoint=checkpoint)
summary = migration.run(RunOptions(quiet=True))
elapsed = time.perf_counter() - started
assert not summary.failed_pages, summary.failed_pages
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                  "peak_kb": usage.ru_maxrss, "imported": summary.comments_imported}))
"""

COPY = """
import json, os, resource, sys, time
archive, output = sys.argv[1:3]
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage.ru_utime + usage.ru_stime
started = time.perf_counter()
copied = 0
with open(archive, "rb") as source, open(output, "w", encoding="utf-8") as out:
    for line in source:
        record = json.loads(line)
        if record.get("record") == "comment":
            out.write(json.dumps(record, ensure_ascii=False) + "\\n")
            copied += 1
    out.flush()
    os.fsync(out.fileno())
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                  "peak_kb": usage.ru_maxrss, "imported": copied}))
"""


def child(code: str, *args: Path) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; its last stdout line is its measurement."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def archive(folder: Path, name: str, pages: int, per_page: int, depth: int) -> Path:
    path = folder / f"{name}.archive.jsonl"
    write_archive(path, GeneratedSite(pages, per_page, depth))
    return path


def run(folder: Path, source: Path, name: str) -> dict[str, Any]:
    out = child(RUN, source, folder / f"{name}.jsonl", folder / f"{name}.checkpoint.json")
    print(f"  {name}: {out['imported']} comments, {out['seconds']:.2f} s "
          f"({out['cpu']:.2f} s CPU), {out['peak_kb'] / 1024:.0f} MB peak", flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--chain-small", type=int, default=None)
    parser.add_argument("--chain-large", type=int, default=None)
    parser.add_argument("--comments-small", type=int, default=None)
    parser.add_argument("--comments-large", type=int, default=None)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument(
        "--floor-only",
        action="store_true",
        help="measure only the run against the bare copy, at --comments-large",
    )
    args = parser.parse_args()
    chain_small = args.chain_small or (1_000 if args.quick else 5_000)
    chain_large = args.chain_large or (4_000 if args.quick else 20_000)
    small = args.comments_small or (20_000 if args.quick else 200_000)
    large = args.comments_large or (100_000 if args.quick else 1_000_000)
    per_page = args.per_page
    if args.floor_only:
        floor_only(large, per_page)
        return
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        folder = Path(tmp)
        print(f"chain: one reply chain {chain_small} and {chain_large} deep", flush=True)
        per_comment = {}
        for depth in (chain_small, chain_large):
            source = archive(folder, f"chain{depth}", 1, depth, depth)
            per_comment[depth] = run(folder, source, f"chain{depth}")["seconds"] / depth
        figures["chain_per_comment_ratio"] = per_comment[chain_large] / per_comment[chain_small]
        figures["chain_per_comment_us"] = {str(d): s * 1e6 for d, s in per_comment.items()}

        print(f"memory: {small} and {large} comments, {per_page} a page", flush=True)
        runs = {}
        for total in (small, large):
            source = archive(folder, f"site{total}", total // per_page, per_page, 8)
            runs[total] = run(folder, source, f"site{total}")
        figures["peak_mb"] = {str(t): r["peak_kb"] / 1024 for t, r in runs.items()}
        figures["peak_ratio"] = runs[large]["peak_kb"] / runs[small]["peak_kb"]

        print("rerun: the large run again, on its finished checkpoint", flush=True)
        rerun = run(folder, folder / f"site{large}.archive.jsonl", f"site{large}")
        figures["rerun_time_ratio"] = rerun["seconds"] / runs[large]["seconds"]
        figures["rerun_memory_ratio"] = rerun["peak_kb"] / runs[large]["peak_kb"]

        figures.update(floor(folder, large, runs[large]))
    print()
    print(
        f"chain per-comment time, {chain_large} / {chain_small} deep: "
        f"{figures['chain_per_comment_ratio']:.2f}  (target <= 2)"
    )
    print(
        f"peak memory at {large} comments: {figures['peak_mb'][str(large)]:.0f} MB "
        f"(target < 300); {large} / {small}: {figures['peak_ratio']:.2f}"
    )
    print(
        f"rerun / run: time {figures['rerun_time_ratio']:.3f} (target <= 0.1), "
        f"memory {figures['rerun_memory_ratio']:.2f} (target <= 1)"
    )
    print_floor(figures)
    print(json.dumps(figures))


def floor(folder: Path, total: int, measured: dict[str, Any]) -> dict[str, float]:
    """The run `measured` of site{total} against a bare copy of the same archive's comments."""
    print("floor: a bare copy of the large archive's comments", flush=True)
    copy = child(COPY, folder / f"site{total}.archive.jsonl", folder / "copy.jsonl")
    print(
        f"  copy: {copy['imported']} comments, {copy['seconds']:.2f} s ({copy['cpu']:.2f} s CPU)",
        flush=True,
    )
    return {
        "run_vs_copy_ratio": measured["seconds"] / copy["seconds"],
        # on a shared machine wall-clock time also counts other programs' turns on the CPU
        "run_vs_copy_cpu_ratio": measured["cpu"] / copy["cpu"],
    }


def print_floor(figures: dict[str, Any]) -> None:
    print(
        f"run / bare copy: {figures['run_vs_copy_ratio']:.2f} in time, "
        f"{figures['run_vs_copy_cpu_ratio']:.2f} in CPU time  (target <= 5)"
    )


def floor_only(total: int, per_page: int) -> None:
    """Only the floor: one run of `total` comments and the bare copy, side by side."""
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        folder = Path(tmp)
        print(f"floor: {total} comments, {per_page} a page", flush=True)
        source = archive(folder, f"site{total}", total // per_page, per_page, 8)
        figures = floor(folder, total, run(folder, source, f"site{total}"))
    print()
    print_floor(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s in all)", file=sys.stderr)
