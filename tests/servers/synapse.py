"""A real Synapse homeserver for tests, demos and benchmarks (loopback only).

Importable without pytest::

    from tests.servers.synapse import SynapseServer
    server = SynapseServer(tmp_dir).start()
    room_id = server.create_comment_room("blog", "post1")
    server.send_message(room_id, {"msgtype": "m.text", "body": "hi"},
                        user_id=server.user_id("cactus_alice"), ts=1_500_000_000_000)
    server.stop()

Rooms are made the way the Cactus appservice makes them: created by the appservice's own user
(`@cactusbot:localhost`) with the alias `#{prefix}{site}_{section}:localhost`, world_readable
and guest-joinable. Messages are sent through the appservice, which may act as any user of the
server (`?user_id=`) and backdate events (`?ts=`), so fixtures can hold years-old comments and
thousands of events without tripping rate limits.

pytest fixtures (registered through tests/conftest.py): `synapse` (one server per session).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html as html_lib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from utils.retry import RetryPolicy

SERVER_NAME = "localhost"
AS_SENDER = "cactusbot"
UNLIMITED = {"per_second": 100000, "burst_count": 100000}
START_TIMEOUT = 60.0


class SynapseError(RuntimeError):
    """The test homeserver refused a seeding request (status and Matrix error attached)."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def free_port() -> int:
    """A port nobody listens on right now (bind to 127.0.0.1:0 and let the kernel pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(home: Path) -> dict[str, str]:
    # A fresh environment: inherited SYNAPSE_*, proxy or Python path variables must not
    # redirect the server's config, data or traffic.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_PROXY": "*",
    }


class SynapseServer:
    """One Synapse process in its own folder, listening on 127.0.0.1 only.

    `rc_message` / `rc_registration` (dicts with per_second and burst_count) set low rate
    limits for tests that need 429s; every other limit is lifted.
    """

    server_name = SERVER_NAME

    def __init__(
        self,
        directory: Path | str,
        port: int | None = None,
        *,
        rc_message: Mapping[str, float] | None = None,
        rc_registration: Mapping[str, float] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.rc_message = dict(rc_message) if rc_message else dict(UNLIMITED)
        self.rc_registration = dict(rc_registration) if rc_registration else dict(UNLIMITED)
        self.shared_secret = secrets.token_hex(16)
        self.appservice_token = "as_" + secrets.token_hex(16)
        self.hs_token = "hs_" + secrets.token_hex(16)
        self.admin_token = ""
        self.admin_user_id = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "homeserver.log"
        self._local = threading.local()
        self._registered: set[str] = set()
        self._joined: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._txn = 0

    # -- lifecycle -------------------------------------------------------------------------

    def write_config(self) -> Path:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        (d / "media").mkdir(exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        (d / "signing.key").write_text(f"ed25519 a_test {key}\n")
        registration = {
            "id": "cactus",
            "url": None,
            "as_token": self.appservice_token,
            "hs_token": self.hs_token,
            "sender_localpart": AS_SENDER,
            # Non-exclusive catch-all: the appservice may puppet any local user, like a
            # bridge; tests need to backdate messages from "real" commenters.
            "namespaces": {
                "users": [{"exclusive": False, "regex": f"@.*:{SERVER_NAME}"}],
                "aliases": [{"exclusive": False, "regex": f"#.*:{SERVER_NAME}"}],
                "rooms": [],
            },
            "rate_limited": False,
        }
        (d / "appservice.yaml").write_text(json.dumps(registration))
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "public_baseurl": self.url + "/",
            "report_stats": False,
            "pid_file": str(d / "homeserver.pid"),
            "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"),
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "allow_guest_access": True,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "app_service_config_files": [str(d / "appservice.yaml")],
            "presence": {"enabled": False},
            "user_directory": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            "rc_message": self.rc_message,
            "rc_registration": self.rc_registration,
            "rc_room_creation": UNLIMITED,
            "rc_joins_per_room": UNLIMITED,
            "rc_admin_redaction": UNLIMITED,
            "rc_profile": UNLIMITED,
            "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
            "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
            "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
        }
        path = d / "homeserver.yaml"
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        return path

    def start(self) -> SynapseServer:
        config = self.write_config()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
                cwd=self.directory,
                env=_clean_env(self.directory),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited at start:\n{self._log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if self.session().get(self.url + "/_matrix/client/versions", timeout=1).ok:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"synapse silent for {START_TIMEOUT}s; see {self.log_path}")
            time.sleep(0.05)
        self.admin_user_id, self.admin_token = self.register_user("admin", admin=True)
        return self

    def stop(self) -> None:
        """SIGTERM by PID (SIGKILL after 10 s); safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> SynapseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- raw requests ------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """One session per thread (seeding runs in a pool); proxies from the env are ignored."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            self._local.session = session
        return session

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        ok: Sequence[int] = (200,),
        policy: RetryPolicy | None = None,
    ) -> Any:
        """One client-server request; 429s are waited out (by `policy`, if given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempts = 0
        while True:
            attempts += 1
            response = self.session().request(
                method, self.url + path, params=params, data=data, headers=headers, timeout=60
            )
            if response.status_code in ok:
                return response.json() if response.content else None
            try:
                err: Any = response.json()
            except ValueError:
                err = response.text
            if response.status_code == 429 and attempts < 50:
                wait = (err.get("retry_after_ms", 500) if isinstance(err, dict) else 500) / 1000
                (policy.sleep if policy else time.sleep)(wait)
                continue
            raise SynapseError(
                f"{method} {path} -> {response.status_code}: {err}", response.status_code, err
            )

    def as_call(self, method: str, path: str, user_id: str | None = None, **kwargs: Any) -> Any:
        """A request made by the appservice, acting as `user_id` when given."""
        params = dict(kwargs.pop("params", None) or {})
        if user_id:
            params["user_id"] = user_id
        return self.call(method, path, token=self.appservice_token, params=params, **kwargs)

    def next_txn(self) -> str:
        with self._lock:
            self._txn += 1
            return f"t{self._txn}.{time.monotonic_ns()}"

    # -- users -----------------------------------------------------------------------------

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{SERVER_NAME}"

    @property
    def appservice_user_id(self) -> str:
        return self.user_id(AS_SENDER)

    def register_user(
        self,
        localpart: str,
        password: str | None = None,
        *,
        admin: bool = False,
        displayname: str | None = None,
    ) -> tuple[str, str]:
        """A real account through the shared-secret admin API: (user_id, access_token)."""
        password = password or secrets.token_hex(8)
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [
                    nonce.encode(),
                    localpart.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            )
        )
        body: dict[str, Any] = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        if displayname:
            body["displayname"] = displayname
        result = self.call("POST", "/_synapse/admin/v1/register", body=body)
        with self._lock:
            self._registered.add(result["user_id"])
        return result["user_id"], result["access_token"]

    def register_guest(self) -> str:
        """A guest access token, as the Cactus web client gets one."""
        result = self.call("POST", "/_matrix/client/v3/register", params={"kind": "guest"}, body={})
        return str(result["access_token"])

    def ensure_user(self, user_id: str) -> None:
        """Register `user_id` through the appservice (needed before it may act as it)."""
        with self._lock:
            if user_id in self._registered or user_id == self.appservice_user_id:
                return
        localpart = user_id[1:].split(":", 1)[0]
        try:
            self.call(
                "POST",
                "/_matrix/client/v3/register",
                token=self.appservice_token,
                body={"type": "m.login.application_service", "username": localpart},
            )
        except SynapseError as exc:
            if not (isinstance(exc.body, dict) and exc.body.get("errcode") == "M_USER_IN_USE"):
                raise
        with self._lock:
            self._registered.add(user_id)

    def set_displayname(self, user_id: str, name: str) -> None:
        """The global name: joins after this carry it. Synapse copies it into rooms already
        joined in the background, so for a name change at a known point use
        set_room_displayname."""
        self.ensure_user(user_id)
        path = f"/_matrix/client/v3/profile/{_q(user_id)}/displayname"
        self.as_call("PUT", path, user_id=user_id, body={"displayname": name})

    def set_room_displayname(self, room_id: str, user_id: str, name: str | None) -> str:
        """A per-room name (a new m.room.member state event, in the timeline at once)."""
        self.join(room_id, user_id)
        content: dict[str, Any] = {"membership": "join"}
        if name is not None:
            content["displayname"] = name
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.member/{_q(user_id)}"
        return str(self.as_call("PUT", path, user_id=user_id, body=content)["event_id"])

    def set_avatar_url(self, user_id: str, mxc: str) -> None:
        self.ensure_user(user_id)
        path = f"/_matrix/client/v3/profile/{_q(user_id)}/avatar_url"
        self.as_call("PUT", path, user_id=user_id, body={"avatar_url": mxc})

    # -- rooms -----------------------------------------------------------------------------

    def create_comment_room(
        self,
        site: str,
        section: str | None,
        prefix: str = "comments_",
        *,
        world_readable: bool = True,
    ) -> str:
        """A Cactus-like room; `section=None` makes the site's moderation room."""
        alias_name = f"{prefix}{site}" + (f"_{section}" if section is not None else "")
        visibility = "world_readable" if world_readable else "shared"
        body = {
            "room_alias_name": alias_name,
            "room_version": "10",  # classic !id:server room ids
            "preset": "public_chat",
            "name": f"Comments on {site}/{section}" if section else f"{site} moderation",
            "initial_state": [
                # before any message: events sent earlier stay hidden from non-members
                {
                    "type": "m.room.history_visibility",
                    "state_key": "",
                    "content": {"history_visibility": visibility},
                },
                {
                    "type": "m.room.guest_access",
                    "state_key": "",
                    "content": {"guest_access": "can_join"},
                },
            ],
        }
        room_id = str(self.as_call("POST", "/_matrix/client/v3/createRoom", body=body)["room_id"])
        with self._lock:
            self._joined.add((room_id, self.appservice_user_id))
        return room_id

    def alias(self, site: str, section: str, prefix: str = "comments_") -> str:
        return f"#{prefix}{site}_{section}:{SERVER_NAME}"

    def join(self, room_id: str, user_id: str) -> None:
        with self._lock:
            if (room_id, user_id) in self._joined:
                return
        self.ensure_user(user_id)
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/join"
        self.as_call("POST", path, user_id=user_id, body={})
        with self._lock:
            self._joined.add((room_id, user_id))

    def send_event(
        self,
        room_id: str,
        event_type: str,
        content: Any,
        user_id: str | None = None,
        ts: int | None = None,
        *,
        raw_body: bytes | None = None,
    ) -> str:
        """Send any event (content may be malformed: Synapse checks little); returns its id."""
        user_id = user_id or self.appservice_user_id
        self.join(room_id, user_id)
        params = {"ts": ts} if ts is not None else {}
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/send/{_q(event_type)}/{self.next_txn()}"
        result = self.as_call(
            "PUT",
            path,
            user_id=user_id,
            params=params,
            body=None if raw_body is not None else content,
            raw_body=raw_body,
        )
        return str(result["event_id"])

    def send_message(
        self,
        room_id: str,
        content: Any,
        user_id: str | None = None,
        ts: int | None = None,
    ) -> str:
        """An m.room.message, through the appservice (so `ts` may backdate it)."""
        return self.send_event(room_id, "m.room.message", content, user_id, ts)

    def send_messages(
        self,
        room_id: str,
        messages: Iterable[tuple[Mapping[str, Any], str | None, int | None]],
        *,
        concurrency: int = 8,
    ) -> list[str]:
        """Bulk seeding: (content, user_id, ts) triples sent concurrently. Event ids come back
        in input order; timeline order may differ, so give each a distinct `ts`."""
        items = list(messages)
        for user in {u for _, u, _ in items if u}:
            self.join(room_id, user)  # joins first, so the pool only sends messages
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda m: self.send_message(room_id, m[0], m[1], m[2]), items))

    def upload_media(
        self,
        data: bytes,
        content_type: str,
        filename: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """`POST /_matrix/media/v3/upload` as `user_id` (the appservice by default): mxc://."""
        params: dict[str, Any] = {"filename": filename} if filename else {}
        if user_id:
            self.ensure_user(user_id)
            params["user_id"] = user_id
        response = self.session().post(
            self.url + "/_matrix/media/v3/upload",
            params=params,
            data=data,
            timeout=60,
            headers={
                "Authorization": f"Bearer {self.appservice_token}",
                "Content-Type": content_type,
            },
        )
        if response.status_code != 200:
            raise SynapseError(
                f"upload -> {response.status_code}: {response.text}",
                response.status_code,
                response.text,
            )
        return str(response.json()["content_uri"])

    def event(self, room_id: str, event_id: str) -> dict[str, Any]:
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/event/{_q(event_id)}"
        result: dict[str, Any] = self.as_call("GET", path)
        return result

    # -- Element-style events (the shapes Matrix clients send) ----------------------------

    def send_cactus_comment(
        self,
        room_id: str,
        markdown: str,
        html: str,
        user_id: str,
        ts: int | None = None,
    ) -> str:
        """What the Cactus web client sends: the Markdown typed, and the HTML rendered."""
        content = {
            "msgtype": "m.text",
            "body": markdown,
            "format": "org.matrix.custom.html",
            "formatted_body": html,
        }
        return self.send_message(room_id, content, user_id, ts)

    def reply_content(
        self,
        room_id: str,
        parent_id: str,
        body: str,
        html: str | None = None,
        *,
        fallback: bool = True,
        thread_root: str | None = None,
        falling_back: bool = False,
    ) -> dict[str, Any]:
        """A reply as Element builds it: `m.in_reply_to`, and (unless `fallback` is False, as
        MSC2781 clients send) the quoted parent in `body` (`> <@sender> ...`) and in
        `formatted_body` (`<mx-reply>`); with `thread_root`, inside an `m.thread` relation
        (`falling_back`: the reply only points older clients at the thread's latest event)."""
        parent = self.event(room_id, parent_id)
        sender = parent["sender"]
        parent_body = str(parent["content"].get("body", ""))
        parent_html = parent["content"].get("formatted_body") or html_lib.escape(parent_body)
        own_html = html if html is not None else html_lib.escape(body)
        content: dict[str, Any] = {
            "msgtype": "m.text",
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": own_html,
        }
        if fallback:
            quoted = "\n".join(
                (f"> <{sender}> {line}" if i == 0 else f"> {line}")
                for i, line in enumerate(parent_body.split("\n"))
            )
            content["body"] = f"{quoted}\n\n{body}"
            content["formatted_body"] = (
                f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{parent_id}">'
                f'In reply to</a> <a href="https://matrix.to/#/{sender}">{sender}</a><br>'
                f"{parent_html}</blockquote></mx-reply>{own_html}"
            )
        relates: dict[str, Any] = {"m.in_reply_to": {"event_id": parent_id}}
        if thread_root is not None:
            relates = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": falling_back,
                **relates,
            }
        content["m.relates_to"] = relates
        return content

    def redact(
        self,
        room_id: str,
        event_id: str,
        reason: str | None = None,
        user_id: str | None = None,
    ) -> str:
        user_id = user_id or self.appservice_user_id
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/redact/{_q(event_id)}/{self.next_txn()}"
        body = {"reason": reason} if reason else {}
        return str(self.as_call("PUT", path, user_id=user_id, body=body)["event_id"])

    def room_id_for(self, alias: str) -> str:
        return str(self.call("GET", f"/_matrix/client/v3/directory/room/{_q(alias)}")["room_id"])


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@contextlib.contextmanager
def running_synapse(**kwargs: Any) -> Iterator[SynapseServer]:
    """A throwaway server in a temp folder (benchmarks, demos, one-off tests)."""
    with tempfile.TemporaryDirectory(prefix="synapse-") as tmp:
        server = SynapseServer(Path(tmp), **kwargs)
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One Synapse for the whole session (start ~2 s); tests make their own site names."""
    # The project's HTTP client honours proxy variables: keep loopback traffic direct.
    saved = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy")}
    for key in saved:
        os.environ[key] = ",".join(filter(None, [os.environ.get(key), "127.0.0.1", "localhost"]))
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    try:
        yield server.start()
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
