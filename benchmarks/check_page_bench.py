"""Cost of reading one site page in `check` (Isso embed) against the page's size: linear.

A page that embeds Isso, then never closes a tag ("<a " repeated), is scanned at 8, 16 and
32 KiB by the bounded scanner `check` uses (migrate.systems.isso.embed.check_isso_embed) and,
side by side in the same run, by Python's html.parser, which `check` used before. Each
size's fastest of `--rounds` rounds is kept (as timeit does: on a shared machine the minimum
is the least disturbed; html.parser gets one round, it takes seconds), as time per KiB. A
ratio 32 KiB / 8 KiB near 1 is linear; html.parser's grows with the size (quadratic: a
93 KiB page took it ~80 s). The scanner alone is also
measured on a 512 KiB page, the most `check` reads of any page (PAGE_BYTES).
The last stdout line is a JSON object:
{"scanner_ratio_per_kib_32_vs_8": ..., "html_parser_ratio_per_kib_32_vs_8": ..., ...}.

    python benchmarks/check_page_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrate.commands.check import PAGE_BYTES
from migrate.model import Page
from migrate.systems.isso.embed import check_isso_embed

PAGE = Page(id="post", key="/post/")
HEAD = (
    '<html><head><script data-isso="//c/" src="//c/js/embed.min.js"></script></head>'
    '<body><section id="isso-thread"></section>'
)


def page_of(kib: int) -> str:
    return HEAD + "<a " * ((kib * 1024 - len(HEAD)) // 3)


def scanner(page: str) -> None:
    assert check_isso_embed(PAGE, page, "http://site/post/").ok


def html_parser(page: str) -> None:
    parser = HTMLParser()
    parser.feed(page)
    parser.close()


def fastest(work: Callable[[str], None], page: str, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        work(page)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    per_kib: dict[str, dict[int, float]] = {"scanner": {}, "html_parser": {}}
    for kib in (8, 16, 32):
        page = page_of(kib)
        for name, work in (("scanner", scanner), ("html_parser", html_parser)):
            # html.parser takes seconds per page here: one round of it is undisturbed enough
            rounds = args.rounds if name == "scanner" else 1
            per_kib[name][kib] = fastest(work, page, rounds) / kib
            print(f"{name:<12} {kib:>3} KiB: {per_kib[name][kib] * 1e6:10.1f} us per KiB")
    largest = PAGE_BYTES // 1024
    whole = fastest(scanner, page_of(largest), args.rounds)
    print(f"scanner      {largest} KiB (all check reads of a page): {whole * 1e3:.1f} ms")
    result = {
        "scanner_ratio_per_kib_32_vs_8": round(per_kib["scanner"][32] / per_kib["scanner"][8], 2),
        "html_parser_ratio_per_kib_32_vs_8": round(
            per_kib["html_parser"][32] / per_kib["html_parser"][8], 2
        ),
        "scanner_ms_at_most_read": round(whole * 1e3, 1),
    }
    result["linear"] = result["scanner_ratio_per_kib_32_vs_8"] <= 2
    print(json.dumps(result))


if __name__ == "__main__":
    main()
