"""The generated schema checks against the closures they replaced, side by side in one process.

utils/schema_check.py compiles each definition into the source of one Python function; until
commit 8029c37 it composed nested closures. That older module is read from git history and
both check the same records: one archive comment line (every line of an archive is checked),
every comment line of an archive of --comments (as the reader meets them: many records, few
in the cache), and a journal map_page record of 100 mappings. Each figure is the best of
--rounds, the two checkers taking turns. The LAST stdout line is a JSON object with them.

    python benchmarks/schema_check_bench.py [--rounds 7] [--comments 50000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migrate.systems.archive.records import archive_schema, comment_record  # noqa: E402
from migrate.testing.factories import comment, make_archive, threaded_site  # noqa: E402
from utils.checkpoint.formats import load_schema  # noqa: E402
from utils.schema_check import SchemaCompiler  # noqa: E402

CLOSURES_COMMIT = "8029c37"  # the last commit with the closure checker


def closure_compiler() -> Any:
    """The SchemaCompiler class of utils/schema_check.py as it was at CLOSURES_COMMIT."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{CLOSURES_COMMIT}:utils/schema_check.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("closure_schema_check")
    exec(compile(source, "closure_schema_check.py", "exec"), module.__dict__)  # noqa: S102
    return module.SchemaCompiler


def records() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name -> (schema, definition, record): what a real run checks most often."""
    line = comment_record(
        comment("$reply:example.org", "$parent:example.org", minute=3, text="A reply " * 20)
    )
    line["author"].update(email="reader@example.org", url="https://example.org/reader")
    ids = [f"$event{n}:example.org" for n in range(100)]
    journal = {
        "seq": 41,
        "kind": "map_page",
        "time": "2026-12-06T23:00:00Z",
        "page_id": "!room:example.org",
        "source_ids": ids,
        "target_ids": [str(n) for n in range(100)],
    }
    return {
        "archive comment line": ("archive", "comment", line),
        "journal map_page (100 ids)": ("checkpoint", "record_map_page", journal),
    }


def archive_comments(count: int) -> list[Any]:
    """The comment records of a real archive of `count` comments, 100 a page, parsed."""
    with tempfile.TemporaryDirectory() as folder:
        site = threaded_site(pages=count // 100, per_page=100)
        lines = make_archive(Path(folder) / "site.jsonl", site).read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    return [record for record in records if record["record"] == "comment"]


def best_us(check: Callable[[Any], bool], record: Any, number: int) -> float:
    return min(timeit.repeat(lambda: check(record), number=number, repeat=3)) / number * 1e6


def each_us(check: Callable[[Any], bool], records: list[Any]) -> float:
    started = time.process_time()
    assert all(map(check, records))
    return (time.process_time() - started) / len(records) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--comments", type=int, default=50_000)
    args = parser.parse_args()
    roots = {"archive": archive_schema(), "checkpoint": load_schema()}
    old_compiler = closure_compiler()
    figures: dict[str, float] = {}
    for label, (schema, definition, record) in records().items():
        old = old_compiler(roots[schema]).definition(definition)
        new = SchemaCompiler(roots[schema]).definition(definition)
        assert old(record) and new(record), label
        number = 20_000 if schema == "archive" else 2_000
        old_us, new_us = float("inf"), float("inf")
        for _ in range(args.rounds):
            old_us = min(old_us, best_us(old, record, number))
            new_us = min(new_us, best_us(new, record, number))
        print(f"{label}: closures {old_us:.2f} us, generated {new_us:.2f} us, "
              f"{old_us / new_us:.1f}x faster")  # fmt: skip
        key = definition.removeprefix("record_")
        figures |= {f"{key}_closures_us": old_us, f"{key}_generated_us": new_us}
        figures[f"{key}_speedup"] = old_us / new_us
    old = old_compiler(roots["archive"]).definition("comment")
    new = SchemaCompiler(roots["archive"]).definition("comment")
    lines = archive_comments(args.comments)
    old_us = min(each_us(old, lines) for _ in range(args.rounds))
    new_us = min(each_us(new, lines) for _ in range(args.rounds))
    print(f"each of {len(lines)} archive comment lines: closures {old_us:.2f} us, "
          f"generated {new_us:.2f} us, {old_us / new_us:.1f}x faster")  # fmt: skip
    figures |= {"archive_closures_us": old_us, "archive_generated_us": new_us}
    figures["archive_speedup"] = old_us / new_us
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
