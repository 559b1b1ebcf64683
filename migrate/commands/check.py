"""`comment-migrate check`: a preflight that says, item by item, whether a run would work.

Entry point: `run_checks(config) -> CheckReport`. Each `CheckItem` is ok, or says what is
wrong (`detail`) and how to fix it (`fix`). Nothing here prints; the CLI does.

What is checked, in order:
- the configuration (already parsed by the caller): its path, source and target types;
- a Matrix source: the homeserver answers `/_matrix/client/versions`; the token is accepted
  (`whoami`) with the rights the discovery mode needs (`admin`: a server admin; `joined_rooms`:
  an account that joined the site's rooms, i.e. the Cactus appservice; `pages_file`: any
  account, or a guest registered for the check when no token is set);
- the pages are listed (pages file read, or the admin / joined-rooms listing) and every page
  resolves to a room (alias lookup, as `run` does it);
- the target answers and accepts the token without anything being written (the target's
  optional `probe()`); a file target's folder is writable and an existing output is a file
  of its type;
- the checkpoint's folder is writable, and an existing checkpoint belongs to this migration;
- with `[target] site_url`: each page's URL (site_url + uri) answers 200 and, for Isso, embeds
  Isso showing the thread the migration writes to (`data-isso-id`, or the path when none).

Writes nothing, with two exceptions that leave no trace a run would see: a temp file created
and deleted at once to prove a folder writable, and (no token, `pages_file`) a guest account
registered on the homeserver, as the Cactus web client does for every visitor. Alias lookups
create no room on the homeserver itself; only a Cactus appservice, asked by the homeserver
about an unknown alias, creates an empty room for it (as opening the page in a browser would).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from migrate.config import Config, RunConfig
from migrate.errors import MigrateError
from migrate.model import Page, PageError, Source, Target
from migrate.plugins import build_source, build_target
from utils.checkpoint_manager import CheckpointError, read_checkpoint
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 10.0  # seconds per request: a preflight should fail fast, not wait like a run
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _safe(text: str) -> str:
    """Text from servers and pages, made safe for a terminal (no escapes, no bidi tricks)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass(frozen=True)
class CheckItem:
    name: str  # "config", "homeserver", "token", "pages", "target", "checkpoint", "page <id>"
    ok: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckReport:
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        return [item for item in self.items if not item.ok]

    def __iter__(self) -> Iterator[CheckItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": len(self.failures),
            "items": [item.to_dict() for item in self.items],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


def _item(name: str, ok: bool, detail: str, fix: str = "") -> CheckItem:
    return CheckItem(name, ok, _safe(detail), _safe(fix) if not ok else "")


def _where(config: Config) -> str:
    return str(config.path) if config.path else "the configuration"


def run_checks(config: Config, *, timeout: float = CHECK_TIMEOUT) -> CheckReport:
    """Check everything a run needs, writing nothing; see the module docstring."""
    timeout = min(timeout, config.run.timeout)
    # one attempt per request, short: the check reports a fault instead of riding it out
    run = RunConfig(
        checkpoint=config.run.checkpoint,
        workers=config.run.workers,
        max_attempts=1,
        timeout=timeout,
    )
    report = CheckReport([_config_item(config)])
    pages, source = _check_source(config, run, report)
    target = _check_target(config, run, report)
    report.items.append(_checkpoint_item(config))
    try:
        if pages:
            report.items.extend(_check_pages(config, run, pages, source, target))
    finally:
        for closable in (source, target):
            if closable is not None:
                closable.close()
    return report


def _config_item(config: Config) -> CheckItem:
    detail = f"{_where(config)}: {config.source.type} source -> {config.target.type} target"
    if config.target.site_url:
        detail += f", site {config.target.site_url}"
    return _item("config", True, detail)


# -- the source ------------------------------------------------------------------------------


def _check_source(
    config: Config, run: RunConfig, report: CheckReport
) -> tuple[list[Page], Source | None]:
    """Homeserver and token items (Matrix), then the pages item; returns the pages listed."""
    src = config.source
    if src.homeserver:
        homeserver = _homeserver_item(src.homeserver, run.timeout)
        report.items.append(homeserver)
        if not homeserver.ok:
            report.items.append(
                _item(
                    "pages",
                    False,
                    "not checked: the homeserver does not answer",
                    "fix the homeserver item first",
                )
            )
            return [], None
    try:
        source = build_source(src, run)
    except (MigrateError, ValueError) as exc:
        report.items.append(
            _item(
                "source",
                False,
                f"cannot use the source: {exc}",
                f"correct [source] in {_where(config)}",
            )
        )
        return [], None
    if src.homeserver:
        token = _token_item(config, source, run.timeout)
        report.items.append(token)
        if not token.ok:
            report.items.append(
                _item("pages", False, "not checked: no usable token", "fix the token item first")
            )
            return [], source
    try:
        pages = list(source.pages())
    except (MigrateError, HttpError, OSError) as exc:
        report.items.append(
            _item("pages", False, f"cannot list the pages: {exc}", _pages_fix(config))
        )
        return [], source
    if not pages:
        report.items.append(
            _item("pages", False, f"no pages found ({_discovery(config)})", _pages_fix(config))
        )
        return [], source
    detail = f"{len(pages)} pages ({_discovery(config)})"
    if src.homeserver and src.discover == "pages_file":
        detail += (
            "; rooms are found by alias lookup, which creates no room (only a Cactus "
            "appservice creates an empty one for an unknown alias, as a visit to the page does)"
        )
    report.items.append(_item("pages", True, detail))
    return pages, source


def _discovery(config: Config) -> str:
    src = config.source
    if not src.homeserver:
        return f"from {src.path}" if src.path else f"from the {src.type} source"
    if src.discover == "pages_file":
        return f"from {src.pages_file}"
    if src.discover == "admin":
        return f"rooms of site {src.site!r} in the Synapse admin room list"
    return f"rooms of site {src.site!r} the token's account has joined"


def _pages_fix(config: Config) -> str:
    src = config.source
    if not src.homeserver:
        return f"correct [source] path in {_where(config)}"
    if src.discover == "pages_file":
        return f"list your pages in {src.pages_file} (columns: section_id[,uri[,title]])"
    return (
        f"check [source] site, prefix and server_name in {_where(config)} against the "
        f"room aliases (#{src.prefix}{src.site}_<section>:{src.server_name}), or use "
        'discover = "pages_file"'
    )


def _homeserver_item(homeserver: str, timeout: float) -> CheckItem:
    client = HttpClient(homeserver, timeout=timeout, policy=RetryPolicy(max_attempts=1))
    try:
        response = client.request("GET", "/_matrix/client/versions", retry=False)
        versions = response.json().get("versions")
        if not isinstance(versions, list) or not versions:
            raise ValueError("no versions list")
    except HttpError as exc:
        return _item(
            "homeserver",
            False,
            f"{homeserver} does not answer: {exc.message}",
            "check [source] homeserver (scheme, host, port) and that the server runs",
        )
    except (ValueError, AttributeError):
        return _item(
            "homeserver",
            False,
            f"{homeserver} answers /_matrix/client/versions, but not as Matrix does",
            "[source] homeserver must be the client-server API's base URL",
        )
    finally:
        client.close()
    server = response.headers.get("Server", "").split(" ", 1)[0] or f"Matrix {versions[-1]}"
    return _item("homeserver", True, f"{homeserver} answers ({server})")


def _token_item(config: Config, source: Source, timeout: float) -> CheckItem:
    src = config.source
    token = src.token()
    env = f"${src.token_env}"
    if token is None:
        if src.discover != "pages_file":
            return _item(
                "token",
                False,
                f"discover = {src.discover!r} needs an access token; {env} is not set",
                f"export {src.token_env}=<token> ("
                + (
                    "a server admin's"
                    if src.discover == "admin"
                    else "the Cactus appservice's as_token"
                )
                + ")",
            )
        check = getattr(source, "check", None)
        try:
            if callable(check):
                check()  # registers the guest the run would register
        except MigrateError as exc:
            return _item(
                "token",
                False,
                f"{env} is not set and {exc}",
                f"export {src.token_env}=<an account's access token>, or allow "
                "guest access on the homeserver",
            )
        return _item(
            "token",
            True,
            f"{env} is not set: read as a guest (enough for Cactus's world-readable rooms)",
        )
    client = HttpClient(
        src.homeserver, token=token, timeout=timeout, policy=RetryPolicy(max_attempts=1)
    )
    try:
        who = client.get_json("/_matrix/client/v3/account/whoami", retry=False)
        user = str(who.get("user_id")) if isinstance(who, dict) else "?"
        if src.discover == "admin":
            path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user, safe='')}/admin"
            try:
                admin = client.get_json(path, retry=False).get("admin") is True
            except HttpError as exc:
                if exc.status not in (401, 403):
                    raise
                admin = False
            if not admin:
                return _item(
                    "token",
                    False,
                    f"{env} belongs to {user}, who is not a server admin: "
                    'discover = "admin" needs one',
                    f'put a server admin\'s token in {env}, or use discover = "pages_file"',
                )
            return _item("token", True, f"{env} accepted: {user}, a server admin")
    except HttpError as exc:
        if exc.status in (401, 403):
            return _item(
                "token",
                False,
                f"the homeserver refused the token in {env} ({exc.errcode or exc.status})",
                f"put a valid access token in {env} (or unset it to read as a guest "
                'with discover = "pages_file")',
            )
        return _item(
            "token",
            False,
            f"cannot check the token in {env}: {exc.message}",
            "try again; if it persists, check the homeserver's logs",
        )
    finally:
        client.close()
    if src.discover == "joined_rooms":
        return _item(
            "token",
            True,
            f"{env} accepted: {user} (the site's rooms must be "
            "joined by this account: the Cactus appservice's)",
        )
    return _item("token", True, f"{env} accepted: {user}")


# -- the target ------------------------------------------------------------------------------


def _check_target(config: Config, run: RunConfig, report: CheckReport) -> Target | None:
    tgt = config.target
    if tgt.output is not None:
        # a file target is not built: opening one may repair (write) its store
        report.items.append(_output_item(config, tgt.output))
        return None
    try:
        target = build_target(tgt, run)
    except (MigrateError, ValueError) as exc:
        report.items.append(
            _item(
                "target",
                False,
                f"cannot use the target: {exc}",
                f"correct [target] in {_where(config)}",
            )
        )
        return None
    probe: Callable[[], str] | None = getattr(target, "probe", None)
    if probe is None:
        report.items.append(
            _item("target", True, f"not checked: the {target.name} target has no probe")
        )
        return target
    try:
        report.items.append(_item("target", True, probe()))
    except HttpError as exc:
        report.items.append(_target_failure(config, exc))
    except MigrateError as exc:
        report.items.append(
            _item("target", False, str(exc), f"check [target] url in {_where(config)}")
        )
    return target


def _target_failure(config: Config, exc: HttpError) -> CheckItem:
    tgt = config.target
    if exc.status in (401, 403):
        state = "is not set" if tgt.token() is None else "was refused"
        return _item(
            "target",
            False,
            f"{tgt.url} refused the request ({exc.status}): the token in ${tgt.token_env} {state}",
            f"export {tgt.token_env}=<the token the comment API expects> "
            "(for the Worker: its MIGRATE_TOKEN secret)",
        )
    if exc.status is None:
        return _item(
            "target",
            False,
            f"{tgt.url} does not answer: {exc.message}",
            f"check [target] url in {_where(config)} and that the server runs",
        )
    return _item(
        "target",
        False,
        f"{tgt.url} answered unexpectedly: {exc.message}",
        f"check [target] url and type in {_where(config)}",
    )


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (made on demand if missing), or None."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        # os.access says yes to root on a read-only mount; creating a file says the truth
        handle, name = tempfile.mkstemp(prefix=".comment-migrate-check-", dir=existing)
    except OSError as exc:
        return f"cannot create files in {existing}: {exc.strerror or exc}"
    os.close(handle)
    Path(name).unlink()
    return None


def _output_item(config: Config, output: Path) -> CheckItem:
    problem = _folder_problem(output.parent)
    if problem is not None:
        return _item(
            "target",
            False,
            f"output {output}: {problem}",
            f"make the folder writable, or set [target] output in {_where(config)}",
        )
    if not output.exists():
        return _item("target", True, f"{output} will be created (its folder is writable)")
    if not output.is_file():
        return _item(
            "target",
            False,
            f"output {output} exists and is not a file",
            f"set [target] output in {_where(config)} to a file path",
        )
    sniff = _OUTPUT_TYPES.get(config.target.type)
    kind = sniff(output) if sniff else None
    if kind is not None:
        return _item(
            "target",
            False,
            f"output {output} exists and is not {kind}",
            "move it away, or choose another [target] output",
        )
    return _item(
        "target",
        True,
        f"{output} exists and is a {config.target.type} file; a run adds to it what is missing",
    )


def _head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _not_xml(path: Path) -> str | None:
    head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    return None if not head or head.startswith((b"<?xml", b"<rss")) else "a WXR (XML) file"


def _not_jsonl(path: Path) -> str | None:
    first = _head(path).split(b"\n", 1)[0]
    if not first.strip():
        return None
    try:
        return None if isinstance(json.loads(first), dict) else "a JSON Lines file"
    except ValueError:
        # a first line longer than the head read is still JSON if it opens like an object
        return (
            None if first.lstrip().startswith(b"{") and len(first) >= 4096 else "a JSON Lines file"
        )


# what an existing output of each built-in file target must look like
_OUTPUT_TYPES: dict[str, Callable[[Path], str | None]] = {"wxr": _not_xml, "jsonl": _not_jsonl}


# -- the checkpoint --------------------------------------------------------------------------


def _checkpoint_item(config: Config) -> CheckItem:
    path = config.run.checkpoint
    problem = _folder_problem(path.parent)
    if problem is not None:
        return _item(
            "checkpoint",
            False,
            f"{path}: {problem}",
            f"make the folder writable, or set [run] checkpoint in {_where(config)}",
        )
    if not path.exists():
        return _item("checkpoint", True, f"{path} will be created (its folder is writable)")
    try:
        state = read_checkpoint(path)
    except CheckpointError as exc:
        return _item(
            "checkpoint", False, str(exc), f"`comment-migrate checkpoint validate {path}` says more"
        )
    if state.config_digest is not None and state.config_digest != config.digest():
        return _item(
            "checkpoint",
            False,
            f"{path} was made for another migration",
            "use the matching configuration, another [run] checkpoint, or "
            "`run --reset` (moves it aside)",
        )
    progress = state.get_progress_summary()
    return _item(
        "checkpoint",
        True,
        f"{path} exists: {progress['completed']} of {progress['total_pages']} pages "
        "complete; a run resumes it",
    )


# -- pages -----------------------------------------------------------------------------------


def _check_pages(
    config: Config,
    run: RunConfig,
    pages: list[Page],
    source: Source | None,
    target: Target | None,
) -> list[CheckItem]:
    resolve: Callable[[Page], str] | None = getattr(source, "resolve", None)
    site_url = config.target.site_url.rstrip("/")
    if resolve is None and not site_url:
        return []  # nothing per page to check (an archive, no site)
    site = (
        HttpClient(site_url, timeout=run.timeout, policy=RetryPolicy(max_attempts=1))
        if site_url
        else None
    )
    isso = target is not None and target.name == "isso"

    def check(page: Page) -> CheckItem:
        return _page_item(page, resolve, site, isso)

    try:
        with ThreadPoolExecutor(max_workers=max(1, run.workers)) as pool:
            return list(pool.map(check, pages))
    finally:
        if site is not None:
            site.close()


def _page_item(
    page: Page, resolve: Callable[[Page], str] | None, site: HttpClient | None, isso: bool
) -> CheckItem:
    details: list[str] = []
    problems: list[tuple[str, str]] = []  # (what is wrong, how to fix it)
    if resolve is not None:
        label = page.alias or page.room_id or page.id
        try:
            room = resolve(page)
            details.append(f"room {label}" if room == label else f"room {label} ({room})")
        except PageError as exc:
            problems.append((exc.message, _room_fix(exc.message)))
        except (HttpError, MigrateError) as exc:
            problems.append((f"room {label}: {exc}", "check the homeserver item"))
    if site is not None:
        url = site.url(page.uri)
        try:
            response = site.request("GET", page.uri, ok=(200,), retry=False)
        except HttpError as exc:
            where = f"status {exc.status}" if exc.status else exc.message
            problems.append(
                (
                    f"{url} answers {where}",
                    f"check the page's uri {page.uri!r} (the pages file's second "
                    "column) and [target] site_url",
                )
            )
        else:
            details.append(f"{url} answers 200")
            if isso:
                path = urllib.parse.urlsplit(response.url).path or "/"
                problem = _isso_problem(response.text, path, page)
                if problem is None:
                    details.append(f"shows Isso thread {page.uri}")
                else:
                    problems.append(problem)
    name = f"page {page.id}"
    if problems:
        return _item(
            name,
            False,
            "; ".join(p for p, _ in problems),
            "; ".join(dict.fromkeys(f for _, f in problems)),
        )
    return _item(name, True, ", ".join(details) or "ok")


def _room_fix(message: str) -> str:
    if "not found" in message:
        return (
            "nobody commented on this page yet (leave it out of the pages file), or "
            "[source] site / prefix / server_name differ from Cactus's"
        )
    if "forbidden" in message:
        return "the room is not world-readable: use a token of an account in the room"
    return "try again; if it persists, check the homeserver's logs"


class _IssoEmbed(HTMLParser):
    """Finds Isso's script (`data-isso`, or src .../js/embed*.js) and its thread element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.script = False
        self.thread = False
        self.thread_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and (
            "data-isso" in values
            or re.search(r"/js/embed(\.min|\.dev)?\.js", values.get("src") or "")
        ):
            self.script = True
        if values.get("id") == "isso-thread" and not self.thread:
            self.thread = True
            self.thread_id = values.get("data-isso-id") or None


def _isso_problem(html: str, path: str, page: Page) -> tuple[str, str] | None:
    """What keeps this page from showing the thread the migration writes, or None."""
    embed = _IssoEmbed()
    embed.feed(html)
    embed.close()
    if not embed.script:
        return (
            "the page does not embed Isso (no <script data-isso=...>)",
            "add Isso's embed script to the page's template",
        )
    if not embed.thread:
        return (
            'the page loads Isso but has no element with id="isso-thread"',
            'add <section id="isso-thread"></section> where comments belong',
        )
    shown = embed.thread_id or path
    if shown == page.uri:
        return None
    # the page's uri is both its address (site_url + uri) and the thread the migration fills
    if embed.thread_id:
        return (
            f"the page shows Isso thread {shown!r} (its data-isso-id), but the migration "
            f"writes to {page.uri!r}",
            f'set data-isso-id="{page.uri}" on the page, or remove it (Isso then uses the path)',
        )
    return (
        f"the page shows Isso thread {shown!r} (its path; it has no data-isso-id), but the "
        f"migration writes to {page.uri!r}",
        f"give the page the uri {shown!r} in the pages file (second column) and [target] "
        "site_url only the scheme and host",
    )
