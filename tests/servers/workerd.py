"""The reference Cloudflare Worker on wrangler's local runtime (workerd), exactly as a user
runs it: `comment-migrate worker init DIR`, then in DIR `npm ci` and
`npm run dev -- --port P` (migrations applied to a fresh local D1, served on 127.0.0.1:P).

Importable without pytest::

    from tests.servers.workerd import WorkerServer
    server = WorkerServer(tmp_dir, token="s3cret").install().start()
    server.call("POST", "/comments", body={...}, headers={"Idempotency-Key": "matrix:$x"})
    server.stop()

The dev server runs in its own process group (npm -> wrangler -> workerd) and is stopped as
a group. Offline: no metrics, no cf.json fetch, and wrangler's update check is pointed at a
closed loopback port. Only `npm ci` talks to the npm registry (or its cache).

pytest fixture (registered through tests/conftest.py): `worker` (one per session); it skips,
saying why, only when `node` or `npm` is not on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import pytest
import requests

from migrate.worker import write_project
from tests.servers.synapse import free_port

START_TIMEOUT = 120.0
INSTALL_TIMEOUT = 600.0
CLOSED_PORT_URL = "http://127.0.0.1:9/"  # discard port: nothing listens, refused at once


def missing_tools() -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def offline_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WRANGLER_SEND_METRICS": "false",
            "CLOUDFLARE_CF_FETCH_ENABLED": "false",
            "CI": "true",
            "XDG_CONFIG_HOME": str(home / "xdg"),  # wrangler's logs and config stay in the test
            "NO_PROXY": "*",
            "NO_COLOR": "1",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "npm_config_update_notifier": "false",
        }
    )
    return env


class WorkerServer:
    """A Worker project written by `write_project` into `directory`, served by workerd."""

    def __init__(self, directory: Path, *, token: str, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.project = self.directory / "worker"
        self.token = token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.directory / "wrangler-dev.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy from the environment

    def install(self) -> Self:
        write_project(self.project)
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=self.project,
            env=offline_env(self.directory),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return self

    def start(self) -> Self:
        (self.project / ".dev.vars").write_text(f"MIGRATE_TOKEN={self.token}\n")
        env = offline_env(self.directory)
        env["npm_config_registry"] = CLOSED_PORT_URL  # wrangler's update check stays local
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["npm", "run", "dev", "--", "--port", str(self.port)],
                cwd=self.project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: npm, wrangler, workerd
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"npm run dev exited {self.process.returncode}:\n{self._log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                if self.session.get(f"{self.url}/threads?uri=/", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"the Worker did not answer within {START_TIMEOUT}s:\n{self._log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        # workerd may outlive npm by a moment: the group goes only when all of it is gone
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.session.close()

    def _log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        token: str | None = "",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request; `token=""` sends the server's token, `None` sends none."""
        sent = dict(headers or {})
        bearer = self.token if token == "" else token
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        data = None if body is None else json.dumps(body)
        if data is not None:
            sent["Content-Type"] = "application/json"
        return self.session.request(
            method, f"{self.url}{path}", data=data, headers=sent, params=params, timeout=30
        )

    def list_page(self, page_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Every comment of a page through the listing, following `next` to the end."""
        comments: list[dict[str, Any]] = []
        params = {"page_id": page_id}
        if limit is not None:
            params["limit"] = str(limit)
        while True:
            answer = self.call("GET", "/comments", params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            comments.extend(body["comments"])
            if not body["next"]:
                return comments
            params["cursor"] = body["next"]


@pytest.fixture(scope="session")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerServer]:
    """The Worker written by `worker init`, installed with `npm ci`, served by workerd."""
    missing = missing_tools()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not found on PATH: the Worker tests run the "
            "Worker with Node and npm (wrangler's local runtime)"
        )
    server = WorkerServer(tmp_path_factory.mktemp("workerd"), token="worker-test-token")
    server.install().start()
    try:
        yield server
    finally:
        server.stop()
