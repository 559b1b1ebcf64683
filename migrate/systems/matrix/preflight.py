"""The Matrix source's preflight (`comment-migrate check`), writing nothing.

- the homeserver answers `/_matrix/client/versions`;
- the token is accepted (`whoami`) with the rights the discovery mode needs (`admin`: a server
  admin; `joined_rooms`: an account that joined the site's rooms, i.e. the Cactus appservice;
  `pages_file`: any account, or a guest registered for the check when no token is set, as the
  Cactus web client does for every visitor);
- every page resolves to a room (alias lookup, as `run` does it). A lookup creates no room on
  the homeserver itself; only a Cactus appservice, asked about an unknown alias, creates an
  empty one (as opening the page in a browser would).
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import TYPE_CHECKING

from migrate.abilities import PageError
from migrate.errors import MigrateError
from migrate.model import CheckItem, Page
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy

if TYPE_CHECKING:
    from migrate.systems.matrix.extractor import MatrixCommentExtractor

log = logging.getLogger(__name__)


class MatrixPreflight:
    """`MatrixCommentExtractor.preflight()`: see the module docstring."""

    def __init__(self, source: MatrixCommentExtractor, timeout: float) -> None:
        self.source = source
        self.timeout = timeout
        self.env = f"${source.token_env}" if source.token_env else "the access token"

    @property
    def origin(self) -> str:
        src = self.source
        if src.discover == "pages_file":
            return f"from {src.pages_file}"
        if src.discover == "admin":
            return f"rooms of site {src.site!r} in the Synapse admin room list"
        return f"rooms of site {src.site!r} the token's account has joined"

    @property
    def note(self) -> str:
        if self.source.discover != "pages_file":
            return ""
        return (
            "rooms are found by alias lookup, which creates no room (only a Cactus "
            "appservice creates an empty one for an unknown alias, as a visit to the page does)"
        )

    @property
    def fix(self) -> str:
        src = self.source
        if src.discover == "pages_file":
            return f"list your pages in {src.pages_file} (columns: section_id[,uri[,title]])"
        return (
            f"check [source] site, prefix and server_name against the room aliases "
            f"(#{src.prefix}{src.site}_<section>:{src.server_name}), or use "
            'discover = "pages_file"'
        )

    def _client(self, token: str | None = None) -> HttpClient:
        return HttpClient(
            self.source.homeserver,
            token=token,
            timeout=self.timeout,
            policy=RetryPolicy(max_attempts=1),
        )

    def service(self) -> list[CheckItem]:
        homeserver = self.homeserver()
        return [homeserver, self.token()] if homeserver.ok else [homeserver]

    def homeserver(self) -> CheckItem:
        homeserver = self.source.homeserver
        client = self._client()
        try:
            response = client.request("GET", "/_matrix/client/versions", retry=False)
            versions = response.json().get("versions")
            if not isinstance(versions, list) or not versions:
                raise ValueError("no versions list")
        except HttpError as exc:
            return CheckItem(
                "homeserver",
                False,
                f"{homeserver} does not answer: {exc.message}",
                "check [source] homeserver (scheme, host, port) and that the server runs",
            )
        except (ValueError, AttributeError):
            return CheckItem(
                "homeserver",
                False,
                f"{homeserver} answers /_matrix/client/versions, but not as Matrix does",
                "[source] homeserver must be the client-server API's base URL",
            )
        finally:
            client.close()
        server = response.headers.get("Server", "").split(" ", 1)[0] or f"Matrix {versions[-1]}"
        return CheckItem("homeserver", True, f"{homeserver} answers ({server})")

    def token(self) -> CheckItem:
        src, env = self.source, self.env
        variable = src.token_env or "<variable>"
        if src.client.guest:
            return self._guest()
        client = self._client(src.client.http.token)
        try:
            who = client.get_json("/_matrix/client/v3/account/whoami", retry=False)
            user = str(who.get("user_id")) if isinstance(who, dict) else "?"
            if src.discover == "admin" and not self._is_admin(client, user):
                return CheckItem(
                    "token",
                    False,
                    f"{env} belongs to {user}, who is not a server admin: "
                    'discover = "admin" needs one',
                    f'put a server admin\'s token in {env}, or use discover = "pages_file"',
                )
        except HttpError as exc:
            if exc.status in (401, 403):
                return CheckItem(
                    "token",
                    False,
                    f"the homeserver refused the token in {env} ({exc.errcode or exc.status})",
                    f"put a valid access token in {env} (or unset {variable} to read as a "
                    'guest with discover = "pages_file")',
                )
            return CheckItem(
                "token",
                False,
                f"cannot check the token in {env}: {exc.message}",
                "try again; if it persists, check the homeserver's logs",
            )
        finally:
            client.close()
        if src.discover == "admin":
            return CheckItem("token", True, f"{env} accepted: {user}, a server admin")
        if src.discover == "joined_rooms":
            return CheckItem(
                "token",
                True,
                f"{env} accepted: {user} (the site's rooms must be "
                "joined by this account: the Cactus appservice's)",
            )
        return CheckItem("token", True, f"{env} accepted: {user}")

    @staticmethod
    def _is_admin(client: HttpClient, user: str) -> bool:
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user, safe='')}/admin"
        try:
            return client.get_json(path, retry=False).get("admin") is True
        except HttpError as exc:
            if exc.status not in (401, 403):
                raise
            return False

    def _guest(self) -> CheckItem:
        src, env = self.source, self.env
        variable = src.token_env or "<variable>"
        if src.discover != "pages_file":
            whose = (
                "a server admin's"
                if src.discover == "admin"
                else "the Cactus appservice's as_token"
            )
            return CheckItem(
                "token",
                False,
                f"discover = {src.discover!r} needs an access token; {env} is not set",
                f"export {variable}=<token> ({whose})",
            )
        try:
            src.check()  # registers the guest the run would register
        except MigrateError as exc:
            return CheckItem(
                "token",
                False,
                f"{env} is not set and {exc}",
                f"export {variable}=<an account's access token>, or allow "
                "guest access on the homeserver",
            )
        return CheckItem(
            "token",
            True,
            f"{env} is not set: read as a guest (enough for Cactus's world-readable rooms)",
        )

    def page(self, page: Page) -> CheckItem:
        label = self.source.alias_for(page.id)
        name = f"page {page.id}"
        try:
            room = self.source.resolve(page)
        except PageError as exc:
            return CheckItem(name, False, exc.message, _room_fix(exc.message))
        except (HttpError, MigrateError) as exc:
            return CheckItem(name, False, f"room {label}: {exc}", "check the homeserver item")
        detail = f"room {label}" if room == label else f"room {label} ({room})"
        return CheckItem(name, True, detail)


def _room_fix(message: str) -> str:
    if "not found" in message:
        return (
            "nobody commented on this page yet (leave it out of the pages file), or "
            "[source] site / prefix / server_name differ from Cactus's"
        )
    if "forbidden" in message:
        return "the room is not world-readable: use a token of an account in the room"
    return "try again; if it persists, check the homeserver's logs"
