"""A real Isso server for tests, demos and benchmarks (loopback only).

Importable without pytest::

    from migrate.testing.isso import IssoServer
    server = IssoServer(tmp_dir).start()          # ~0.3 s; fresh database in tmp_dir
    server.post("/blog/post1/", "Hello there", author="alice")
    server.threads("/blog/post1/")                # GET /?uri=...&plain=1 (raw text)
    server.import_wxr(Path("comments.wxr"))       # isso import -t wordpress, TZ=UTC
    server.import_disqus(Path("comments.xml"))    # isso import -t disqus --empty-id
    server.rendered("/blog/post1/")               # GET /?uri=... (text rendered to HTML)
    server.stop()

Configuration follows the team recipe for real servers in tests: guard off (it would answer 403
after two posts a minute), moderation off, gravatar off, ISSO_SETTINGS removed from the
child's environment (it overrides -c). Override any option with `section__option=value`
keyword arguments (underscores in the option become hyphens), e.g.
`IssoServer(d, general__max_age="1s", moderation__enabled="true")`.

The pytest fixtures `isso` and `isso_factory` live in tests/servers/isso.py.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import requests

logger = logging.getLogger(__name__)

START_TIMEOUT = 20.0


def isso_executable() -> str:
    beside = Path(sys.executable).with_name("isso")  # the venv running the tests
    if beside.exists():
        return str(beside)
    found = shutil.which("isso")
    if found is None:
        raise RuntimeError("isso is not installed (pip install isso)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ISSO_SETTINGS"}
    env.update(extra)
    return env


class IssoServer:
    def __init__(self, directory: Path | str, port: int | None = None, **config: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fixed_port = port
        self.port = port or 0
        self.overrides = config
        self.db_path = self.directory / "comments.db"
        self.config_path = self.directory / "isso.cfg"
        self.log_path = self.directory / "isso.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        cfg = configparser.ConfigParser()
        cfg.read_dict(
            {
                "general": {
                    "dbpath": str(self.db_path),
                    "host": f"{self.url}/",
                    "gravatar": "false",
                },
                "moderation": {"enabled": "false"},
                "server": {"listen": f"{self.url}/"},
                "guard": {"enabled": "false"},
            }
        )
        for key, value in self.overrides.items():
            section, _, option = key.partition("__")
            if not option:
                raise ValueError(f"override {key!r}: use section__option=value")
            if not cfg.has_section(section):
                cfg.add_section(section)
            cfg.set(section, option.replace("_", "-"), str(value))
        with self.config_path.open("w") as handle:
            cfg.write(handle)

    def start(self) -> Self:
        last_error = ""
        for _ in range(3):  # a free port can be taken between probing and binding
            self.port = self.fixed_port or free_port()
            self.write_config()
            log = self.log_path.open("ab")
            self.process = subprocess.Popen(
                [isso_executable(), "-c", str(self.config_path), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=self.directory,
            )
            log.close()
            if self._wait_ready():
                logger.debug("isso ready on %s", self.url)
                return self
            last_error = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"Isso did not start: {last_error}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/config", timeout=1).status_code == 200:
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- reading and seeding ---------------------------------------------------------------

    def threads(self, uri: str) -> dict[str, Any]:
        """The thread as Isso serves it: top-level comments with nested `replies`, raw text."""
        response = requests.get(f"{self.url}/", params={"uri": uri, "plain": "1"}, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def comments(self, uri: str) -> list[dict[str, Any]]:
        """The thread flattened (top level, then its replies), in Isso's order."""
        flat: list[dict[str, Any]] = []
        for top in self.threads(uri)["replies"]:
            flat.append(top)
            flat.extend(top.get("replies") or [])
        return flat

    def post(
        self,
        uri: str,
        text: str,
        *,
        author: str | None = None,
        parent: int | None = None,
        title: str = "A page",
    ) -> dict[str, Any]:
        """Create a comment the way a visitor would (no cookies kept)."""
        response = requests.post(
            f"{self.url}/new",
            params={"uri": uri},
            json={"text": text, "author": author, "parent": parent, "title": title},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def age_comment(self, comment_id: int, created: float) -> None:
        """Backdate a comment in the database (a comment made "long ago")."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
            db.execute("UPDATE comments SET created = ? WHERE id = ?", (created, comment_id))

    def rows(self) -> list[dict[str, Any]]:
        """Every comment row of the database, all modes, by id."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM comments ORDER BY id")]

    def import_wxr(self, path: Path | str) -> subprocess.CompletedProcess[str]:
        """`isso import -t wordpress` into this server's database (TZ=UTC so the dates are
        read as UTC; "y" answers the prompt Isso shows on a non-empty database)."""
        return self.import_file(path, "wordpress")

    def import_disqus(self, path: Path | str) -> subprocess.CompletedProcess[str]:
        """`isso import -t disqus --empty-id`: Isso 0.14 skips every thread of a Disqus file
        without --empty-id (and still exits 0), so check what it stored."""
        return self.import_file(path, "disqus", "--empty-id")

    def import_file(
        self, path: Path | str, kind: str, *options: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                isso_executable(),
                "-c",
                str(self.config_path),
                "import",
                "-t",
                kind,
                *options,
                str(path),
            ],
            input="y\n",
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env=child_env(TZ="UTC"),
            cwd=self.directory,
        )

    def rendered(self, uri: str) -> list[dict[str, Any]]:
        """The thread flattened as a visitor's browser gets it: text rendered to HTML by
        Isso's Markdown renderer and sanitizer (no plain=1)."""
        response = requests.get(f"{self.url}/", params={"uri": uri}, timeout=10)
        response.raise_for_status()
        flat: list[dict[str, Any]] = []
        for top in response.json()["replies"]:
            flat.append(top)
            flat.extend(top.get("replies") or [])
        return flat
