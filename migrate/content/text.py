"""Text every form shares: Unicode repair, and where a bare URL ends."""

from __future__ import annotations

import re


def clean_text(value: str) -> str:
    """Valid Unicode only: lone surrogates (legal in JSON, not in UTF-8) become U+FFFD, and
    NUL characters, which databases and XML refuse, are dropped."""
    if value.isascii():  # no surrogate can be there (an O(1) test in CPython)
        return value.replace("\x00", "")
    repaired = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return repaired.replace("\x00", "")


# bare URLs as Matrix clients link them; trailing punctuation belongs to the sentence
BARE_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def url_end(url: str) -> str:
    """A bare URL without the sentence's trailing punctuation; a closing parenthesis stays
    when the URL opened it (https://en.wikipedia.org/wiki/Cactus_(disambiguation))."""
    while url and url[-1] in TRAILING_PUNCTUATION:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url
