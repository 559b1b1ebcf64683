"""HTML-to-Markdown of comment HTML: markdownify against the parser-free path, side by side.

The comments are sanitized once (as every source hands them on), then converted by both
paths in alternate rounds; the fastest round of each is compared, as time per comment.
Both must give the same strings (checked first). Printed: how many of the comments the
fast path takes, microseconds per comment for each path, and the speed-up of
`html_to_markdown` as a source calls it (markdownify / now). The last stdout line is a
JSON object with the figures.

    python benchmarks/markdown_bench.py [--copies 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrate.content import html_to_markdown, sanitize_html
from migrate.content import markdown as markdown_module
from migrate.content.markdown_fast import simple_html_markdown

# comment HTML in the shapes Disqus and WordPress exports hold (written for this benchmark)
COMMENTS = [
    "<p>Great post, thanks for writing it up!</p>",
    "<p>This worked for me on Ubuntu 22.04 &amp; Debian 12.</p>",
    "<p>Thanks!</p><p>One question: does step 3. still apply if you use the &lt;div&gt; "
    "variant? I got an error with it.</p>",
    "<p>I disagree.<br>The numbers don't add up: 2 * 3 isn't 5, and \"fast\" is relative.</p>",
    "<p>Line one<br>\nline two<br>\nline three</p>\n<p>-- Sam</p>",
    "Just a plain comment without any paragraph tags, it happens in old WordPress exports.",
    '<p>See <a href="https://example.org/docs/install" rel="nofollow">the install '
    "docs</a>, section 2.</p>",
    "<p><b>Update:</b> fixed in <code>1.4.2</code>, see "
    '<a href="https://example.org/changelog">https://example.org/changelog</a></p>',
    "<p>I <em>really</em> like this. #1 article on the subject &gt; all the others :)</p>",
    "<p>&nbsp;</p><p>Hmm… not sure about that.</p><p></p>",
    "<blockquote>You said it would be easy.</blockquote><p>It wasn't.</p>",
    "<p>My list:</p><ul><li>one</li><li>two</li></ul>",
    '<p>Beautiful photo <img src="https://example.org/a.jpg" alt="a"></p>',
]


def timed(function: Callable[[str], object], inputs: list[str]) -> float:
    """Seconds per input of `function` over `inputs`."""
    start = time.perf_counter()
    for html in inputs:
        function(html)
    return (time.perf_counter() - start) / len(inputs)


def before(html: str) -> str:
    """html_to_markdown as it was: markdownify for every comment."""
    markdown = markdown_module._TO_MARKDOWN.convert(sanitize_html(html) or "")
    return markdown_module._BLANK_LINES.sub("\n\n", markdown).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=200, help="times each comment is read")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    clean = [sanitize_html(html) or "" for html in COMMENTS]  # as the sources hand them on
    for html in clean:
        if html_to_markdown(html) != before(html):
            raise SystemExit(f"the paths differ on {html!r}")
    simple = [html for html in clean if simple_html_markdown(html) is not None]
    other = [html for html in clean if html not in simple]
    cases = {
        # (label, inputs, before, after)
        "simple": (
            simple * args.copies,
            markdown_module._TO_MARKDOWN.convert,
            simple_html_markdown,
        ),
        "all": (clean * args.copies, before, html_to_markdown),
        "other": (other * args.copies, before, html_to_markdown),
    }
    best: dict[str, list[float]] = {}
    for _ in range(args.rounds):  # alternately, so both see the same machine
        for name, (inputs, old, new) in cases.items():
            best.setdefault(f"{name}_before", []).append(timed(old, inputs))
            best.setdefault(f"{name}_after", []).append(timed(new, inputs))
    us = {name: min(rounds) * 1e6 for name, rounds in best.items()}
    print(f"{len(clean)} comment shapes, {len(simple)} of them taken by the fast path")
    labels = {
        "simple": "the fast path's shapes: markdownify / fast path",
        "all": "html_to_markdown over all shapes: before / now",
        "other": "shapes left to markdownify: before / now (the refusal's cost)",
    }
    figures: dict[str, float] = {"shapes": len(clean), "taken": len(simple)}
    for name, label in labels.items():
        slow, quick = us[f"{name}_before"], us[f"{name}_after"]
        print(f"{label}: {slow:.1f} / {quick:.1f} µs a comment, ratio {slow / quick:.2f}")
        figures |= {f"{name}_before_us": round(slow, 2), f"{name}_after_us": round(quick, 2)}
        figures[f"{name}_ratio"] = round(slow / quick, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
