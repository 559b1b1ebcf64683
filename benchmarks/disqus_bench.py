"""The Disqus source against a bare `xml.etree.ElementTree.iterparse` loop over the same
generated export, side by side in one run, and the peak memory of a whole `run` of it.

    python benchmarks/disqus_bench.py [--posts 200000] [--threads 5000] [--rounds 3]
        [--skip-parse] [--skip-read] [--skip-run]

1. parse: the source's streaming pass over the file (every thread and post read, each post
   spilled to its temp file by page) against the bare loop a streaming reader starts from
   (start and end events, the tree cleared behind each record). Printed: both times (best
   of `rounds`, taken alternately), wall-clock and CPU (on a shared machine the wall clock
   also counts others' turns), and the ratio bare/source, the source's speed as a fraction
   of the bare loop's (target: >= 0.8).
2. read: every page's comments read back and converted (sanitized HTML, Markdown), for
   scale; nothing to compare it with.
3. memory: `comment-migrate run` of the export into JSONL in a child process; its peak
   resident memory (ru_maxrss) is printed with the export's size (target: < 300 MB at about a
   million comments, checkpoint included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree.ElementTree import iterparse

from migrate.pages import keyed_source
from migrate.systems.disqus import DisqusSource
from migrate.testing.exports import write_disqus_export


def bare_loop(path: Path) -> int:
    """The least a streaming reader of the file does: every event, the tree cleared."""
    records = 0
    depth = 0
    root = None
    for event, elem in iterparse(path, events=("start", "end")):  # noqa: S314 (our own file)
        if event == "start":
            depth += 1
            if root is None:
                root = elem
            continue
        if depth == 2:
            records += 1
            root.clear()  # type: ignore[union-attr]
        depth -= 1
    return records


def source_pass(path: Path) -> int:
    source = DisqusSource(path)
    try:
        return len(source.threads)
    finally:
        source.close()


def timed(function: Callable[[Path], int], path: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of `function(path)`."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(path)
    return time.perf_counter() - wall, time.process_time() - cpu


def read_all(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    source = keyed_source(DisqusSource(path))
    try:
        count = sum(len(source.comments(page).comments) for page in source.pages())
    finally:
        source.close()
    return count, time.perf_counter() - start


def run_peak(path: Path, folder: Path) -> tuple[int, float, int]:
    """(exit status, seconds, peak RSS in bytes) of `comment-migrate run` into JSONL."""
    config = folder / "migration.toml"
    config.write_text(
        f'[source]\ntype = "disqus"\npath = "{path}"\n'
        f'[target]\ntype = "jsonl"\noutput = "{folder / "out.jsonl"}"\n'
        f'[run]\ncheckpoint = "{folder / "checkpoint.json"}"\n',
        encoding="utf-8",
    )
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "migrate", "-q", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.perf_counter() - start, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-run", action="store_true", help="parse only, no memory run")
    parser.add_argument("--skip-parse", action="store_true", help="the memory run only")
    parser.add_argument("--skip-read", action="store_true", help="no read-back figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="disqus-bench-") as tmp:
        folder = Path(tmp)
        export = write_disqus_export(folder / "export.xml", threads=args.threads, posts=args.posts)
        print(f"export: {export.posts} posts on {export.threads} pages, {export.size / 1e6:.0f} MB")
        bare: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(
            0 if args.skip_parse else args.rounds
        ):  # alternately, so both see the same machine
            bare.append(timed(bare_loop, export.path))
            ours.append(timed(source_pass, export.path))
        if not args.skip_parse:
            for clock, label in ((0, "wall-clock"), (1, "CPU")):
                fastest_bare = min(times[clock] for times in bare)
                fastest_ours = min(times[clock] for times in ours)
                print(
                    f"parse, {label} time: bare iterparse {fastest_bare:.2f}s, disqus source "
                    f"{fastest_ours:.2f}s; speed ratio (bare / source) "
                    f"{fastest_bare / fastest_ours:.2f} (target >= 0.8)"
                )
        if not (args.skip_parse or args.skip_read):
            count, seconds = read_all(export.path)
            print(f"read: {count} comments converted in {seconds:.1f}s ({count / seconds:.0f}/s)")
        if args.skip_run:
            return
        status, seconds, peak = run_peak(export.path, folder)
        print(
            f"run into JSONL: exit {status}, {seconds:.0f}s, peak RSS {peak / 1e6:.0f} MB "
            f"for {export.posts} posts ({export.size / 1e6:.0f} MB export; target < 300 MB "
            "at about 1,000,000)"
        )


if __name__ == "__main__":
    main()
