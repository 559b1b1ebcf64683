"""The generated schema checks against the closures they replaced, side by side in one process.

utils/schema_check.py compiles each definition into the source of one Python function; until
commit 8029c37 it composed nested closures. That older module is read from git history and
both check the same records: an archive comment line (every line of an archive is checked)
and a journal map_page record of 100 mappings. Each figure is the best of --rounds, the two
checkers taking turns. The LAST stdout line is a JSON object with every figure.

    python benchmarks/schema_check_bench.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import timeit
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migrate.systems.archive.records import archive_schema, comment_record  # noqa: E402
from migrate.testing.factories import comment  # noqa: E402
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


def best_us(check: Callable[[Any], bool], record: Any, number: int) -> float:
    return min(timeit.repeat(lambda: check(record), number=number, repeat=3)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
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
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
