"""Reading one big JSON export page by page, against a bare parse loop and against loading it
whole, side by side in one run.

An Artrans file (one JSON array, Artalk's export; Commento's and Twikoo's exports are read
the same way) of N comments over N/50 pages, the pages interleaved as exports list them:
- speed (CPU seconds of each child: the machine is shared): the artalk source's parse pass
  (every record read and spilled by page) and its whole read (that, then every page's
  comments converted, threads resolved) against a bare `ijson.items` loop over the same file
  (the parser alone, no page grouping);
- memory: each measured in a fresh process as peak RSS above the interpreter's baseline:
  the artalk source reading every page, against `json.load` of the file (what a reader that
  loads the export whole holds).
The last stdout line is a JSON object with the ratios.

    python benchmarks/json_source_bench.py [--comments 200000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import ijson
from migrate.systems.artalk import ArtalkSource
path, mode = sys.argv[1], sys.argv[2]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
count = 0
if mode == "bare":
    with open(path, "rb") as handle:
        for _ in ijson.items(handle, "item", use_float=True):
            count += 1
elif mode == "index":  # the parse pass alone: every record read and spilled by page
    source = ArtalkSource(path)
    count = sum(source._read().count(page.id) for page in source.pages())
    source.close()
elif mode == "load":
    with open(path, "rb") as handle:
        count = len(json.load(handle))
else:
    source = ArtalkSource(path)
    for page in source.pages():
        count += len(source.comments(page).comments)
    source.close()
elapsed = time.process_time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps({"count": count, "seconds": elapsed, "rss_mb": peak / 1024}))
"""


def write_export(path: Path, comments: int) -> None:
    pages = max(comments // 50, 1)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for n in range(comments):
            page = n % pages  # interleaved: a page's comments are spread over the file
            parent = "0" if n < pages else str(n - pages)
            record = {
                "id": str(n),
                "rid": parent,
                "content": f"Comment {n} " + "lorem ipsum " * 20,
                "ua": "Mozilla/5.0",
                "ip": "",
                "is_collapsed": "false",
                "is_pending": "false",
                "is_pinned": "false",
                "vote_up": "0",
                "vote_down": "0",
                "created_at": "2021-03-04 05:06:07 +0800",
                "updated_at": "",
                "nick": f"user{n % 997}",
                "email": f"u{n % 997}@example.net",
                "link": "",
                "badge_name": "",
                "badge_color": "",
                "page_key": f"/post/{page}/",
                "page_title": f"Post {page}",
                "page_admin_only": "false",
                "site_name": "Blog",
                "site_urls": "https://blog.example.org",
            }
            handle.write(("," if n else "") + json.dumps(record))
        handle.write("]")


def measure(path: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--comments", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "artrans.json"
        write_export(path, args.comments)
        size_mb = path.stat().st_size / 1e6
        bare, whole, index, source = (
            measure(path, mode) for mode in ("bare", "load", "index", "source")
        )
    assert bare["count"] == whole["count"] == index["count"] == source["count"] == args.comments
    print(f"export: {args.comments} comments, {size_mb:.0f} MB")
    print(f"bare ijson loop   {bare['seconds']:7.2f} s  {bare['rss_mb']:7.1f} MB")
    print(f"json.load whole   {whole['seconds']:7.2f} s  {whole['rss_mb']:7.1f} MB")
    print(f"artalk parse pass {index['seconds']:7.2f} s  {index['rss_mb']:7.1f} MB")
    print(f"artalk source     {source['seconds']:7.2f} s  {source['rss_mb']:7.1f} MB")
    summary = {
        "comments": args.comments,
        "size_mb": round(size_mb, 1),
        "parse_speed_vs_bare_parse": round(bare["seconds"] / index["seconds"], 3),
        "speed_vs_bare_parse": round(bare["seconds"] / source["seconds"], 3),
        "memory_vs_json_load": round(source["rss_mb"] / max(whole["rss_mb"], 0.1), 3),
        "source_rss_mb": round(source["rss_mb"], 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
