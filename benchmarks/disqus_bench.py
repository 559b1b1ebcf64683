"""The Disqus source (or, with `--format wordpress`, the WordPress one) against a bare
`xml.etree.ElementTree.iterparse` loop over the same generated export, side by side in one
run, and the peak memory of a whole `run` of it.

    python benchmarks/disqus_bench.py [--format disqus|wordpress] [--posts 200000]
        [--threads 5000] [--rounds 3] [--skip-parse] [--skip-read] [--skip-run]

1. parse: the source's streaming pass over the file (every page and comment read, each
   comment spilled to its temp file by page) against the bare loop a streaming reader starts from
   (start and end events, the tree cleared behind each record). Printed: both times (best
   of `rounds`, taken alternately), wall-clock and CPU (on a shared machine the wall clock
   also counts others' turns), and the ratio bare/source, the source's speed as a fraction
   of the bare loop's (target: >= 0.8).
2. read: every page's comments read back and converted (sanitized HTML, Markdown), for
   scale; nothing to compare it with.
3. memory: `comment-migrate run` of the export into JSONL in a child process; its peak
   resident memory (ru_maxrss) is printed with the export's size (target: < 300 MB at about a
   million comments, checkpoint included).
The last stdout line is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
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
from migrate.systems.wordpress import WordPressSource
from migrate.testing.exports import write_disqus_export, write_wxr_export


def bare_loop(path: Path, record_depth: int = 2) -> int:
    """The least a streaming reader of the file does: every event, the records' parent
    cleared behind each record (Disqus: the root's children; WXR: the channel's)."""
    records = 0
    depth = 0
    holder = None
    for event, elem in iterparse(path, events=("start", "end")):  # noqa: S314 (our own file)
        if event == "start":
            depth += 1
            if depth == record_depth - 1:
                holder = elem
            continue
        if depth == record_depth:
            records += 1
            holder.clear()  # type: ignore[union-attr]
        depth -= 1
    return records


def source_pass(path: Path) -> int:
    source = DisqusSource(path)
    try:
        return len(source.threads)
    finally:
        source.close()


def wxr_bare_loop(path: Path) -> int:
    return bare_loop(path, record_depth=3)


def wxr_source_pass(path: Path) -> int:
    source = WordPressSource(path)
    try:
        return len(source.posts)
    finally:
        source.close()


FORMATS: dict[str, tuple[Callable[[Path], int], Callable[[Path], int]]] = {
    "disqus": (bare_loop, source_pass),
    "wordpress": (wxr_bare_loop, wxr_source_pass),
}


def timed(function: Callable[[Path], int], path: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of `function(path)`."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(path)
    return time.perf_counter() - wall, time.process_time() - cpu


def read_all(path: Path, kind: str) -> tuple[int, float]:
    start = time.perf_counter()
    source = keyed_source(DisqusSource(path) if kind == "disqus" else WordPressSource(path))
    try:
        count = sum(len(source.comments(page).comments) for page in source.pages())
    finally:
        source.close()
    return count, time.perf_counter() - start


def run_peak(path: Path, folder: Path, kind: str) -> tuple[int, float, int]:
    """(exit status, seconds, peak RSS in bytes) of `comment-migrate run` into JSONL."""
    config = folder / "migration.toml"
    config.write_text(
        f'[source]\ntype = "{kind}"\npath = "{path}"\n'
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
    parser.add_argument("--format", choices=sorted(FORMATS), default="disqus")
    parser.add_argument("--posts", type=int, default=200_000, help="comments (Disqus posts)")
    parser.add_argument("--threads", type=int, default=5_000, help="pages")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-run", action="store_true", help="parse only, no memory run")
    parser.add_argument("--skip-parse", action="store_true", help="the memory run only")
    parser.add_argument("--skip-read", action="store_true", help="no read-back figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="disqus-bench-") as tmp:
        folder = Path(tmp)
        file = folder / "export.xml"
        if args.format == "disqus":
            export = write_disqus_export(file, threads=args.threads, posts=args.posts)
        else:
            export = write_wxr_export(file, posts=args.threads, comments=args.posts)
        print(
            f"{args.format} export: {export.posts} comments on {export.threads} pages, "
            f"{export.size / 1e6:.0f} MB"
        )
        bare_pass, our_pass = FORMATS[args.format]
        bare: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(
            0 if args.skip_parse else args.rounds
        ):  # alternately, so both see the same machine
            bare.append(timed(bare_pass, export.path))
            ours.append(timed(our_pass, export.path))
        figures: dict[str, object] = {"format": args.format, "comments": export.posts}
        if not args.skip_parse:
            for clock, label in ((0, "wall-clock"), (1, "CPU")):
                fastest_bare = min(times[clock] for times in bare)
                fastest_ours = min(times[clock] for times in ours)
                print(
                    f"parse, {label} time: bare iterparse {fastest_bare:.2f}s, {args.format} "
                    f"source {fastest_ours:.2f}s; speed ratio (bare / source) "
                    f"{fastest_bare / fastest_ours:.2f} (target >= 0.8)"
                )
                figures[f"parse_ratio_{label.split('-')[0].lower()}"] = round(
                    fastest_bare / fastest_ours, 3
                )
        if not (args.skip_parse or args.skip_read):
            count, seconds = read_all(export.path, args.format)
            print(f"read: {count} comments converted in {seconds:.1f}s ({count / seconds:.0f}/s)")
        if not args.skip_run:
            status, seconds, peak = run_peak(export.path, folder, args.format)
            print(
                f"run into JSONL: exit {status}, {seconds:.0f}s, peak RSS {peak / 1e6:.0f} MB "
                f"for {export.posts} comments ({export.size / 1e6:.0f} MB export; target < "
                "300 MB at about 1,000,000)"
            )
            figures |= {"run_exit": status, "run_peak_mb": round(peak / 1e6)}
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
