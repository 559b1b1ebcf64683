"""A real Waline server for tests and benchmarks (loopback only), from npm.

Importable without pytest::

    from migrate.testing.waline import WalineServer
    server = WalineServer(tmp_dir, tz="Asia/Shanghai").start()   # installs once, ~3 s to start
    token = server.admin_token()          # the first user registered is the administrator
    server.post_comment("/blog/p1/", "Hi", nick="visitor")      # as a visitor's widget does
    server.widget("/blog/p1/")            # GET /api/comment?path=... (what readers see)
    server.stop()

`@waline/vercel` is pinned by migrate/testing/waline/package.json + package-lock.json and
installed with `npm ci` into a cache folder outside the repository (`WALINE_CACHE`, default
`~/.cache/comment-migrate/waline-<lock digest>`), once per lock file; a failed install raises
(never a silent skip). Each server gets a fresh SQLite database made from
migrate/testing/waline/schema.sql (Waline creates no table itself), `JWT_TOKEN`, and
`OAUTH_URL` pointing at a stand-in on 127.0.0.1 answering `{"services": []}` (Waline fetches
it on every request). serve.js starts Waline's own ThinkJS application bound to 127.0.0.1.
Waline stores times as the server's local wall clock: `tz` sets the server's zone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Self

import requests

from migrate.testing.isso import free_port
from migrate.testing.loopback import Answer, serve

INSTALL_TIMEOUT = 900.0
START_TIMEOUT = 60.0
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "migration-admin-password"  # noqa: S105 - a throwaway test server's admin
_FILES = ("package.json", "package-lock.json", "serve.js")


def _asset(name: str) -> bytes:
    return resources.files("migrate.testing").joinpath("waline", name).read_bytes()


def install_dir() -> Path:
    """Where the pinned Waline is installed: one folder per lock file, reused across sessions."""
    digest = hashlib.sha256(_asset("package-lock.json")).hexdigest()[:12]
    base = os.environ.get("WALINE_CACHE") or str(Path.home() / ".cache" / "comment-migrate")
    return Path(base) / f"waline-{digest}"


def install() -> Path:
    """`npm ci` of the pinned @waline/vercel into `install_dir()` unless done already (a
    marker written last says so); concurrent sessions wait on a lock. Raises on failure."""
    folder = install_dir()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".installed"
    with (folder.parent / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return folder
        for name in _FILES:
            (folder / name).write_bytes(_asset(name))
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"npm ci of Waline failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        marker.write_text("ok\n")
    return folder


class _NoServices:
    """The OAuth service stand-in: Waline asks it which login services exist."""

    def handle(self, method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        return 200, {"services": []}, {}


class WalineServer:
    def __init__(self, directory: Path | str, *, tz: str = "UTC", port: int | None = None) -> None:
        self.directory = Path(directory)
        self.tz = tz
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = self.directory / "waline.sqlite"
        self.log_path = self.directory / "waline.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only
        self._oauth: Any = None
        self._token: str | None = None

    def start(self) -> Self:
        folder = install()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.database.exists():
            with contextlib.closing(sqlite3.connect(self.database)) as db:
                db.executescript(_asset("schema.sql").decode("utf-8"))
        self._oauth, _ = serve(_NoServices())
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MYSQL_", "PG_", "POSTGRES_", "MONGO_", "LEAN_", "TIDB_"))
        }
        env.update(
            {
                "TZ": self.tz,
                "SQLITE_PATH": str(self.directory),
                "JWT_TOKEN": hashlib.sha256(os.urandom(16)).hexdigest(),
                "OAUTH_URL": f"http://127.0.0.1:{self._oauth.server_address[1]}/",
                "NODE_ENV": "production",
                "IPQPS": "0",  # one visitor comment a minute per IP otherwise (all are 127.0.0.1)
            }
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["node", str(folder / "serve.js"), str(self.port)],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # ThinkJS forks a worker: stop them as a group
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Waline exited {self.process.returncode}:\n{self._log_tail()}")
            with contextlib.suppress(requests.RequestException):
                answer = self.session.get(
                    f"{self.url}/api/comment", params={"path": "/"}, timeout=2
                )
                if answer.status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"Waline did not answer within {START_TIMEOUT:.0f} s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._oauth is not None:
            self._oauth.shutdown()
            self._oauth.server_close()
            self._oauth = None
        self.session.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admin_token(self) -> str:
        """Registers the administrator (the first user) once, and logs in: the JWT."""
        if self._token is None:
            self._call(
                "POST",
                "/api/user",
                json={
                    "display_name": "Admin",
                    "email": ADMIN_EMAIL,
                    "password": ADMIN_PASSWORD,
                    "url": "",
                },
            )
            data = self._call(
                "POST", "/api/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            self._token = str(data["token"])
        return self._token

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, self.url + path, timeout=30, **kwargs)
        body = answer.json()
        if answer.status_code != 200 or body.get("errno"):
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return body.get("data")

    def post_comment(self, path: str, text: str, *, nick: str, **fields: Any) -> dict[str, Any]:
        """A visitor's comment through the widget's endpoint (Waline stamps the time)."""
        body = {"url": path, "comment": text, "nick": nick, "ua": "test", **fields}
        data: dict[str, Any] = self._call("POST", "/api/comment", json=body)
        return data

    def admin_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token()}"}

    def insert(self, row: Mapping[str, Any]) -> str:
        """One row through the administrator's import endpoint, as given."""
        data = self._call(
            "POST", "/api/db?table=Comment", json=dict(row), headers=self.admin_auth()
        )
        return str(data["objectId"])

    def widget(self, path: str, *, admin: bool = False) -> list[dict[str, Any]]:
        """Every comment of the page as the widget API serves it, flattened (roots, then
        each root's children); as the administrator, waiting and spam ones too."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._call(
                "GET",
                "/api/comment",
                params={"path": path, "page": page, "pageSize": 100},
                headers=self.admin_auth() if admin else {},
            )
            for root in data["data"]:
                found.append(root)
                found.extend(root.get("children") or ())
            if page >= int(data.get("totalPages") or 0):
                return found
            page += 1

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/api/db", headers=self.admin_auth())
        return data

    def rows(self) -> list[dict[str, Any]]:
        """wl_Comment as stored (read-only), to check what no API shows."""
        uri = f"file:{self.database}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM wl_Comment ORDER BY id")]


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None
