"""Text that is safe to print on a terminal: what a comment or a server says must not move
the cursor, change colours, hide text (escape sequences) or reorder a line (bidi controls)."""

from __future__ import annotations

import re

# C0 and C1 controls but the line break, DEL, and the bidi embedding/override/isolate marks
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every terminal control shown as a visible escape (`\\x1b`, `\\u202e`)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
