"""Page keys: where a page's comments land in the target.

One rule for every source: by default a page's key is its URL's path and query, with the
scheme, host and fragment dropped, tracking parameters (utm_*, fbclid, gclid, ...) dropped
and percent-encoding normalised, so `https://www.example.org/post/?utm_source=x#c1` is
`/post/`, and WordPress's plain permalinks `/?p=4` and `/?p=6` stay two pages. A bare path is
taken as it is (after the same normalisation).
"""

from __future__ import annotations

import re
import urllib.parse

TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl"
    r"|ref_src|ref_url)$",
    re.IGNORECASE,
)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise(part: str) -> str:
    """Percent-encoding normalised (RFC 3986 6.2.2): an escaped unreserved character is
    decoded, other escapes get upper-case hex, and what must be escaped (spaces, non-ASCII)
    is; reserved characters keep their meaning, escaped or not."""

    def decode(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return urllib.parse.quote(_ESCAPE.sub(decode, part), safe="%/:@!$&'()*+,;=?-._~")


def default_key(url: str) -> str:
    """The key of a page whose URL (absolute, or a path) is `url`."""
    parts = urllib.parse.urlsplit(url.strip())
    path = _normalise(parts.path or "/")
    if not path.startswith("/"):
        path = "/" + path
    kept = [
        _normalise(param)
        for param in parts.query.split("&")
        if param and not TRACKING.match(urllib.parse.unquote_plus(param.split("=", 1)[0]))
    ]
    return f"{path}?{'&'.join(kept)}" if kept else path
