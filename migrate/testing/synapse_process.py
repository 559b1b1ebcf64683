"""One Synapse homeserver process for the project's tests, demos and benchmarks (loopback
only): its configuration, start and stop, raw client-server requests, and users.

`SynapseServer` (migrate.testing.synapse) adds Cactus-like rooms and the events Matrix
clients send; use that. Everything here is importable without pytest. Rate limits are
lifted (a test that needs 429s sets `rc_message` / `rc_registration`), registration is by
shared secret, and an application service may act as any local user and backdate events.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import requests

from utils.retry import RetryPolicy

logger = logging.getLogger(__name__)

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


class SynapseProcess:
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

    def start(self) -> Self:
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
        logger.debug("synapse ready on %s", self.url)
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

    def __enter__(self) -> Self:
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
        path = f"/_matrix/client/v3/profile/{quoted(user_id)}/displayname"
        self.as_call("PUT", path, user_id=user_id, body={"displayname": name})

    def set_avatar_url(self, user_id: str, mxc: str) -> None:
        self.ensure_user(user_id)
        path = f"/_matrix/client/v3/profile/{quoted(user_id)}/avatar_url"
        self.as_call("PUT", path, user_id=user_id, body={"avatar_url": mxc})


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")
