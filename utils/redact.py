"""Secrets the process holds, and the one function that removes them from any text.

Contract:
- `read_token(var)` is the only place a token is read from the environment: surrounding
  whitespace is trimmed (a file saved with Windows line endings leaves a "\\r"), an unset or
  blank variable is None, and anything else a bearer token cannot hold in an HTTP header
  (control characters, inner whitespace, characters outside latin-1) raises `InvalidSecret`,
  whose message names the variable and never the value. A valid value is registered.
- `register_secret(value)` adds a value to the process-wide registry (thread-safe).
- `redact(text)` replaces every registered secret, and the forms it takes when a server
  echoes it back (inside a JSON string, URL-encoded, HTML-escaped), with "[redacted]".
- `RedactingFilter` is a logging.Filter that redacts a record's message, arguments,
  exception and stack text; utils.logger installs it on every handler it sets up.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

log = logging.getLogger(__name__)

REDACTED = "[redacted]"

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


class InvalidSecret(ValueError):
    """A secret's variable holds something that cannot be used; the message names the
    variable only."""


def _forms(value: str) -> set[str]:
    """The value as it reads in the texts a secret leaks into."""
    forms = {
        value,
        json.dumps(value)[1:-1],  # inside a JSON string, non-ASCII escaped
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
        quote(value),  # requests keeps "/" as is in URLs
        html.escape(value),
        repr(value)[1:-1],  # Python's quoting in exception texts (InvalidHeader quotes it)
    }
    return {form for form in forms if form}


def register_secret(value: str) -> None:
    """Redact `value` (and its encodings) from every text passed to redact() from now on."""
    if not value:
        return
    global _pattern
    with _lock:
        before = len(_secrets)
        _secrets.update(_forms(value))
        if len(_secrets) != before:
            # longest first: a secret that contains another is replaced whole
            alternatives = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def forget_secrets() -> None:
    """Empty the registry (tests, and a library caller that ends a migration)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret replaced by "[redacted]"."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """redact() over every string inside a JSON-like value (dicts, lists, strings)."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def _problem(value: str) -> str | None:
    """Why `value` cannot be a bearer token in an HTTP header, without quoting it."""
    for char in value:
        code = ord(char)
        if code > 0xFF:
            return "a character that an HTTP header cannot carry (not latin-1)"
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return "a control character"
        if char.isspace():
            return "whitespace inside the token"
    return None


def read_token(var_name: str) -> str | None:
    """The token in environment variable `var_name`, trimmed and registered as a secret;
    None when the variable is unset or blank. Raises InvalidSecret naming the variable."""
    raw = os.environ.get(var_name)
    if raw is None:
        return None
    value = raw.strip()
    if not value:
        return None
    problem = _problem(value)
    if problem is not None:
        # the value may still end up in a traceback's locals display: register it anyway
        register_secret(value)
        raise InvalidSecret(
            f"the environment variable {var_name} does not hold a usable token: it contains "
            f"{problem} (surrounding whitespace is ignored; anything else must be removed)"
        )
    if value != raw:
        log.debug("trimmed surrounding whitespace from %s", var_name)
    register_secret(value)
    return value


class RedactingFilter(logging.Filter):
    """Redacts every record before a handler formats it (message, exception, stack)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
