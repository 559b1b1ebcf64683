"""Page keys: where a page's comments land in the target.

One rule for every source: by default a page's key is its URL's path and query, with the
scheme, host and fragment dropped, tracking parameters (utm_*, fbclid, gclid, ...) dropped
and percent-encoding normalised, so `https://www.example.org/post/?utm_source=x#c1` is
`/post/`, and WordPress's plain permalinks `/?p=4` and `/?p=6` stay two pages. A bare path is
taken as it is (after the same normalisation).

The user changes it in `[pages]` (`PageRule`: `map` by source URL or key, else `rewrite`);
`keyed_source` applies it to every source, once: twins (URLs of one page differing only by
scheme, `www.`, a trailing slash or tracking parameters) become one page, and two different
pages under one key are refused (`PageKeyError`, naming both). See docs/pages.md.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.abilities import Source
from migrate.errors import ConfigError, ExitStatus, SourceError
from migrate.model import Page, PageComments

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


# a page's key from `uri_template` where the source gives no address: `{page_id}`, or
# `{section_id}` (the name Cactus gives a page, kept for the configurations that use it)
TEMPLATE_NAMES = ("{page_id}", "{section_id}")


def templated_key(template: str, page_id: str) -> str:
    """`template` with the page's id in place of its placeholder (config checks it has one,
    and no other braces)."""
    for name in TEMPLATE_NAMES:
        template = template.replace(name, page_id)
    return template


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


# -- twins ----------------------------------------------------------------------------------


def twin_id(url: str) -> str:
    """What two URLs of one page share: the host without `www.` (lower case, no port of the
    scheme's default) and the key without a trailing slash. URLs that differ only by scheme,
    `www.`, a trailing slash, tracking parameters or a fragment have the same twin id."""
    parts = urllib.parse.urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    key = default_key(url)
    path, mark, query = key.partition("?")
    return f"{host}{path.rstrip('/') or '/'}{mark}{query}"


# -- the rule the user sees: [pages] rewrite and map ------------------------------------------


class PageKeyError(SourceError):
    """The page keys cannot be worked out: a collision, a bad map file (the user's own input,
    so exit 2)."""

    exit_status = ExitStatus.USAGE


@dataclass(frozen=True)
class PageRule:
    """How a page's key is made: the default rule, then `map` (by source URL or default key),
    else the first `rewrite` whose pattern matches (re.sub with it, once)."""

    rewrite: tuple[tuple[re.Pattern[str], str], ...] = ()
    mapping: Mapping[str, str] = field(default_factory=dict)

    def key_for(self, page: Page) -> str:
        """The key `page` gets: from its URL by the default rule where it has one, else the
        source's own key; then the map, then the rewrites."""
        base = default_key(page.url) if page.url else page.key
        twin = twin_id(page.url) if page.url else None
        for candidate in (page.url, twin, base):
            if candidate and candidate in self.mapping:
                return self.mapping[candidate]
        for pattern, replacement in self.rewrite:
            if pattern.search(base):
                return pattern.sub(replacement, base, count=1)
        return base

    def identity(self) -> dict[str, str]:
        """What the checkpoint's digest covers (nothing when the rule is the default one)."""
        if not self.rewrite and not self.mapping:
            return {}
        canonical = json.dumps(
            {"rewrite": [[p.pattern, r] for p, r in self.rewrite], "map": dict(self.mapping)},
            sort_keys=True,
        )
        return {"pages": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]}


def compile_rewrites(
    rules: Sequence[Sequence[str]], where: str
) -> tuple[tuple[re.Pattern[str], str], ...]:
    """`[pages] rewrite` as compiled patterns; a bad one is a ConfigError naming its key."""
    compiled = []
    for index, (pattern, replacement) in enumerate(rules):
        try:
            regex = re.compile(pattern)
            regex.sub(replacement, "")  # a bad group reference fails here, not mid-run
        except re.error as exc:
            raise ConfigError(
                f"{where}: key pages.rewrite[{index}] {pattern!r} -> {replacement!r}: {exc}"
            ) from None
        compiled.append((regex, replacement))
    return tuple(compiled)


def read_page_map(path: Path, where: str) -> dict[str, str]:
    """`[pages] map`: a CSV of `source URL or key, target key` (a header row optional)."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{where}: key pages.map: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: key pages.map: cannot read {path}: {exc}") from None
    mapping: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if line_no == 1 and [c.lower() for c in cells[:2]] in (
            ["source", "target"],
            ["url", "key"],
        ):
            continue  # a header
        if len(cells) != 2 or not cells[0] or not cells[1].startswith("/"):
            raise PageKeyError(
                f"{path}:{line_no}: expected two columns, a source URL or key and a target "
                f"key starting with / (got {row!r})"
            )
        if cells[0] in mapping and mapping[cells[0]] != cells[1]:
            raise PageKeyError(f"{path}:{line_no}: {cells[0]!r} is mapped twice")
        mapping[cells[0]] = cells[1]
        if cells[0].lower().startswith(("http://", "https://")):
            # a URL maps its twins too: as written, or with another scheme, www., slash
            mapping.setdefault(twin_id(cells[0]), cells[1])
    return mapping


def page_rule(table: Mapping[str, Any] | None, base: Path, where: str) -> PageRule:
    """The `[pages]` table of a configuration (already schema-checked) as a PageRule."""
    if not table:
        return PageRule()
    rewrite = compile_rewrites(table.get("rewrite", ()), where)
    mapping: dict[str, str] = {}
    if table.get("map"):
        map_path = Path(table["map"]).expanduser()
        mapping = read_page_map(map_path if map_path.is_absolute() else base / map_path, where)
    return PageRule(rewrite=rewrite, mapping=mapping)


# -- the rule applied: one page per key, twins merged, collisions refused ---------------------


@dataclass
class KeyedPage:
    """One page of the target: its page (the first twin's id) and the source pages in it."""

    page: Page
    members: list[Page]


def assign_keys(pages: Iterable[Page], rule: PageRule) -> list[KeyedPage]:
    """Every page of a source under the key `rule` gives it, twins (URLs differing only by
    scheme, `www.`, trailing slash, tracking parameters) as one page. Raises PageKeyError
    naming both pages when two different pages would share a key."""
    by_twin: dict[str, KeyedPage] = {}
    by_key: dict[str, KeyedPage] = {}
    ordered: list[KeyedPage] = []
    for page in pages:
        twin = twin_id(page.url) if page.url else None
        if twin is not None and twin in by_twin:
            by_twin[twin].members.append(page)
            continue
        key = rule.key_for(page)
        keyed = KeyedPage(dataclasses.replace(page, key=key), [page])
        other = by_key.get(key)
        if other is not None:
            raise PageKeyError(
                f"two different pages would share the key {key!r}: {_named(other.page)} and "
                f"{_named(page)}; give one another key with [pages] map or rewrite"
            )
        by_key[key] = keyed
        if twin is not None:
            by_twin[twin] = keyed
        ordered.append(keyed)
    return ordered


def _named(page: Page) -> str:
    return page.url or f"page {page.id}"


class KeyedSource:
    """A source whose pages carry the keys of the rule, twins merged (see `keyed_source`).
    Optional abilities of the source it wraps (incremental reads, preflight, media) are its
    own, reached through attribute lookup."""

    def __init__(self, source: Source, rule: PageRule) -> None:
        self.inner = source
        self.rule = rule
        self.system = source.system
        self._groups: dict[str, KeyedPage] | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not yet set (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"keyed_source({self.inner!r})"

    def groups(self) -> dict[str, KeyedPage]:
        if self._groups is None:
            self._groups = {g.page.id: g for g in assign_keys(self.inner.pages(), self.rule)}
        return self._groups

    def pages(self) -> Iterator[Page]:
        for group in self.groups().values():
            yield group.page

    def comments(self, page: Page) -> PageComments:
        group = self.groups().get(page.id)
        if group is None:  # a page the source no longer lists: ask it as it is
            return self.inner.comments(page)
        if len(group.members) == 1:
            extracted = self.inner.comments(group.members[0])
            extracted.page = group.page
            return extracted
        return merge_twins(group.page, [self.inner.comments(m) for m in group.members])

    def identity(self) -> Mapping[str, str]:
        return {**self.inner.identity(), **self.rule.identity()}

    def close(self) -> None:
        self.inner.close()


def merge_twins(page: Page, parts: Sequence[PageComments]) -> PageComments:
    """The comments of a page's twins as one page's: under its id, oldest first, orphans
    only those whose parent is on none of the twins."""
    comments = [
        dataclasses.replace(c, page_id=page.id) if c.page_id != page.id else c
        for part in parts
        for c in part.comments
    ]
    comments.sort(key=lambda c: c.created_at)
    ids = {c.id for c in comments}
    parents = {c.id: c.parent_id for c in comments}
    return PageComments(
        page=page,
        comments=comments,
        skipped=[dataclasses.replace(s, page_id=page.id) for part in parts for s in part.skipped],
        orphans=[o for part in parts for o in part.orphans if parents.get(o) not in ids],
        source_media=sum(part.source_media for part in parts),
    )


def keyed_source(source: Source, rule: PageRule | None = None) -> Source:
    """`source` with the page-key rule applied: the one place every source's pages get their
    keys (Migration wraps every source with it). Idempotent: a keyed source is returned as
    it is."""
    if isinstance(source, KeyedSource):
        return source
    return KeyedSource(source, rule or PageRule())
