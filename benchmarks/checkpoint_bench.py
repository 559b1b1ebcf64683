"""Checkpoint recording cost against a rewrite-everything baseline, and loading a million mappings.

Recording: N pages with 10 mappings each (mark in progress, 10 mappings, mark complete), for
N = 1,000 and 10,000, with CheckpointManager at its default settings (fsync="page": one fsync
per page completion; compaction at the default threshold) and with a naive baseline that
rewrites the whole JSON document, durably (temp file, fsync, rename), on every page save.
Loading: a checkpoint with 1,000,000 mappings (10,000 pages x 100) is opened in a fresh
process; its load time and peak RSS are measured there. The last stdout line is a JSON object:
{"flat_ratio", "speedup_vs_rewrite", "load_1m_seconds", "load_1m_rss_mb", ...}.

    python benchmarks/checkpoint_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from utils.checkpoint_manager import CheckpointManager, FsyncPolicy  # noqa: E402
from utils.fileio import atomic_write_text  # noqa: E402

MAPPINGS_PER_PAGE = 10
BASELINE_SAMPLES = 500
ALPHABET = string.ascii_letters + string.digits + "-_"

Page = tuple[str, list[tuple[str, str]]]


def make_pages(count: int, per_page: int, rng: random.Random) -> list[Page]:
    """Matrix-style event ids ($ + 43 characters) mapped to UUIDs, as a real run would."""
    return [
        (
            f"blog/post-{number:06d}",
            [
                (
                    "$" + "".join(rng.choices(ALPHABET, k=43)),
                    str(uuid.UUID(int=rng.getrandbits(128))),
                )
                for _ in range(per_page)
            ],
        )
        for number in range(count)
    ]


def ours(pages: list[Page], folder: Path, fsync: FsyncPolicy = "page") -> tuple[float, float]:
    """(seconds per page, seconds for the closing compaction)."""
    with CheckpointManager(folder / "ours.json", fsync=fsync) as checkpoint:
        checkpoint.start_migration(len(pages))
        start = time.perf_counter()
        for page_id, mappings in pages:
            checkpoint.mark_page_in_progress(page_id)
            for source_id, new_id in mappings:
                checkpoint.add_id_mapping(source_id, new_id, page_id)
            checkpoint.mark_page_complete(page_id, len(mappings), len(mappings))
        per_page = (time.perf_counter() - start) / len(pages)
        start = time.perf_counter()
    return per_page, time.perf_counter() - start


def baseline(pages: list[Page], folder: Path, every: int) -> float:
    """Seconds per page save of the rewrite-everything store, timing every `every`-th save."""
    path = folder / "baseline.json"
    doc: dict[str, dict[str, object]] = {"pages": {}, "id_mapping": {}}
    timed: list[float] = []
    for number, (page_id, mappings) in enumerate(pages, 1):
        doc["pages"][page_id] = {"status": "complete", "attempts": 1, "imported": len(mappings)}
        doc["id_mapping"].update(mappings)
        if number % every == 0:
            start = time.perf_counter()
            atomic_write_text(path, json.dumps(doc))
            timed.append(time.perf_counter() - start)
    return statistics.fmean(timed)


LOADER = """
import json, sys, time
started = time.perf_counter()
from utils.checkpoint_manager import CheckpointManager
imported = time.perf_counter()
checkpoint = CheckpointManager(sys.argv[1])
loaded = time.perf_counter()
count = checkpoint.state.mapping_count()
checkpoint.close()
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"import": imported - started, "load": loaded - imported, "mappings": count,
                  "hwm_kb": int(hwm.split()[1])}))
"""


def load_million(folder: Path, rng: random.Random) -> dict[str, float]:
    path = folder / "million.json"
    build = time.perf_counter()
    # built through the public API; fsync="never" only to keep the (untimed) build short
    with CheckpointManager(path, fsync="never") as checkpoint:
        for page_id, mappings in make_pages(10_000, 100, rng):
            checkpoint.mark_page_in_progress(page_id)
            for source_id, new_id in mappings:
                checkpoint.add_id_mapping(source_id, new_id, page_id)
            checkpoint.mark_page_complete(page_id, len(mappings), len(mappings))
    build = time.perf_counter() - build
    size = path.stat().st_size
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - started
    child = json.loads(out.stdout.strip().splitlines()[-1])
    if child["mappings"] != 1_000_000:
        raise SystemExit(f"loaded {child['mappings']} mappings, not 1,000,000")
    # VmHWM, not ru_maxrss of children: the latter counts the forked copy of this (big)
    # process before exec, while VmHWM starts afresh with the loader's own address space
    return {
        "build_seconds": build,
        "snapshot_mb": size / 2**20,
        "wall_seconds": wall,
        "import_seconds": child["import"],
        "load_seconds": child["load"],
        "rss_mb": child["hwm_kb"] / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of ours per size (median)")
    args = parser.parse_args()
    rng = random.Random(20240601)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="checkpoint-bench-") as tmp:
        folder = Path(tmp)
        ours(make_pages(200, MAPPINGS_PER_PAGE, rng), Path(tempfile.mkdtemp(dir=folder)))
        sizes = (1_000, 10_000)
        pages = {count: make_pages(count, MAPPINGS_PER_PAGE, rng) for count in sizes}
        runs: dict[tuple[int, str], list[tuple[float, float]]] = {}
        # sizes alternate within each round, so a slow spell of the disk hits both alike
        for _ in range(args.rounds):
            for count in sizes:
                for fsync in ("page", "never"):
                    run_folder = Path(tempfile.mkdtemp(dir=folder))
                    runs.setdefault((count, fsync), []).append(
                        ours(pages[count], run_folder, fsync)
                    )
        for count in sizes:
            every = max(1, count // BASELINE_SAMPLES)
            results[count] = {
                "ours": statistics.median(run[0] for run in runs[count, "page"]),
                "close": statistics.median(run[1] for run in runs[count, "page"]),
                "ours_nofsync": statistics.median(run[0] for run in runs[count, "never"]),
                "baseline": baseline(pages[count], folder, every),
                "every": every,
            }
        million = load_million(folder, rng)

    print("checkpoint recording, per page (1 page record in progress, 10 mappings, 1 complete)")
    print(
        "ours: CheckpointManager defaults, fsync='page' (one fsync per completed page), "
        f"median of {args.rounds} runs"
    )
    print("baseline: whole JSON document rewritten durably (temp, fsync, rename) per page save")
    print(
        f"{'pages':>8} {'ours ms/page':>13} {'(fsync=never)':>14} {'final compaction s':>19} "
        f"{'baseline ms/page':>17} {'speedup':>8}"
    )
    for count, row in results.items():
        print(
            f"{count:>8,} {row['ours'] * 1e3:>13.3f} {row['ours_nofsync'] * 1e3:>14.3f} "
            f"{row['close']:>19.3f} {row['baseline'] * 1e3:>17.3f} "
            f"{row['baseline'] / row['ours']:>8.1f}"
        )
    sample = results[10_000]["every"]
    print(
        f"baseline at 10,000 pages: {BASELINE_SAMPLES} saves timed (every {sample}th, at its "
        "real document size), mean taken as the per-page cost of the whole run"
    )
    print()
    print(
        f"1,000,000 mappings / 10,000 pages: snapshot {million['snapshot_mb']:.1f} MiB, "
        f"built in {million['build_seconds']:.1f} s (API, fsync='never', not timed)"
    )
    print(
        f"fresh process: import {million['import_seconds']:.3f} s, "
        f"load {million['load_seconds']:.3f} s, process wall {million['wall_seconds']:.3f} s, "
        f"peak RSS {million['rss_mb']:.0f} MiB (VmHWM of that process)"
    )
    summary = {
        "flat_ratio": round(results[10_000]["ours"] / results[1_000]["ours"], 3),
        "speedup_vs_rewrite": round(results[10_000]["baseline"] / results[10_000]["ours"], 1),
        "load_1m_seconds": round(million["load_seconds"], 3),
        "load_1m_rss_mb": round(million["rss_mb"], 1),
        "ours_ms_per_page_1k": round(results[1_000]["ours"] * 1e3, 4),
        "ours_ms_per_page_10k": round(results[10_000]["ours"] * 1e3, 4),
        "baseline_ms_per_page_1k": round(results[1_000]["baseline"] * 1e3, 4),
        "baseline_ms_per_page_10k": round(results[10_000]["baseline"] * 1e3, 4),
        "flat_ratio_without_fsync": round(
            results[10_000]["ours_nofsync"] / results[1_000]["ours_nofsync"], 3
        ),
        "load_1m_process_wall_seconds": round(million["wall_seconds"], 3),
        "fsync": "page",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
