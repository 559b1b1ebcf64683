"""Secrets: read once, checked at start, redacted from everything the tool prints, logs or
stores (utils.redact), end to end through the CLI with a server that echoes them back."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import assert_http_target_holds, invoke, write_config
from tests.servers.contract import ContractServer
from utils.http import HttpClient, HttpError
from utils.logger import setup_logger
from utils.redact import (
    REDACTED,
    InvalidSecret,
    forget_secrets,
    read_token,
    redact,
    redact_value,
    register_secret,
)
from utils.retry import RetryPolicy

# a token whose JSON, URL and HTML forms all differ from the raw value
TOKEN = 'Tk/9+s3cr3t="q"&z~v'


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def forms(value: str) -> list[str]:
    return [value, json.dumps(value)[1:-1], quote(value, safe=""), "Tk%2F9%2Bs3cr3t"]


def test_redact_replaces_the_secret_and_its_encodings() -> None:
    assert redact(f"x {TOKEN} y") == f"x {TOKEN} y"  # nothing registered: unchanged
    register_secret(TOKEN)
    echoed = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    texts = [
        f"Authorization: Bearer {TOKEN}",
        json.dumps(echoed),  # inside a JSON string: the quotes are escaped
        json.dumps(echoed, ensure_ascii=True),
        f"GET /x?access_token={quote(TOKEN, safe='')}",
        "<pre>Bearer Tk/9+s3cr3t=&quot;q&quot;&amp;z~v</pre>",  # HTML-escaped
        f"Invalid header value b'Bearer {TOKEN}\\r'",  # requests' InvalidHeader quoting
    ]
    for text in texts:
        cleaned = redact(text)
        assert REDACTED in cleaned, text
        assert "s3cr3t" not in cleaned, cleaned
    assert redact_value({"error": [f"no {TOKEN}"], "n": 1}) == {"error": [f"no {REDACTED}"], "n": 1}


def test_a_secret_inside_another_is_redacted_whole() -> None:
    register_secret("abcd")
    register_secret("xxabcdyy")
    assert redact("token xxabcdyy and abcd") == f"token {REDACTED} and {REDACTED}"


def test_read_token_trims_surrounding_whitespace_and_registers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CM_T", f"  {TOKEN}\r\n")
    assert read_token("CM_T") == TOKEN
    assert redact(f"<{TOKEN}>") == f"<{REDACTED}>"
    monkeypatch.setenv("CM_T", " \r\n")
    assert read_token("CM_T") is None
    monkeypatch.delenv("CM_T")
    assert read_token("CM_T") is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("left\x01right", "control character"),
        ("left\rright", "control character"),
        ("left right", "whitespace inside"),
        ("left\u2028right", "not latin-1"),
        ("left\x85right", "control character"),
    ],
)
def test_an_unusable_token_is_an_error_naming_the_variable_only(
    monkeypatch: pytest.MonkeyPatch, value: str, why: str
) -> None:
    monkeypatch.setenv("CM_BAD", value)
    with pytest.raises(InvalidSecret) as info:
        read_token("CM_BAD")
    message = str(info.value)
    assert "CM_BAD" in message and why in message
    assert "left" not in message and "right" not in message


def test_every_log_record_is_redacted_whichever_logger_wrote_it() -> None:
    register_secret(TOKEN)
    stream = io.StringIO()
    setup_logger(1, stream=stream)
    try:
        for name in ("comment_migrate.x", "migrate.targets.x", "utils.x"):
            logger = logging.getLogger(name)
            logger.info("sent %s", f"Bearer {TOKEN}")
            try:
                raise ValueError(f"header {TOKEN!r} refused")
            except ValueError:
                logger.debug("failed", exc_info=True)
    finally:
        setup_logger(0)
    text = stream.getvalue()
    assert text.count(REDACTED) >= 6 and "utils.x" in text and "migrate.targets.x" in text
    assert "s3cr3t" not in text


class EchoServer:
    """A target that refuses every request with a 400 echoing the request's headers:
    a JSON error for POSTs, plain text with the token URL-encoded for anything else."""

    def __init__(self) -> None:
        self.requests = 0
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                echo.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                headers = dict(self.headers)
                if self.command == "POST":
                    body = json.dumps({"error": f"bad request, you sent {headers}"}).encode()
                    kind = "application/json"
                else:
                    auth = quote(headers.get("Authorization", ""), safe="")
                    body = f"no. auth={auth} all={headers}".encode()
                    kind = "text/plain"
                self.send_response(400)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> dict[Page, list[Comment]]:
    return threaded_site(pages=2, per_page=3, depth=2)


@pytest.fixture
def archive(tmp_path: Path, site: dict[Page, list[Comment]]) -> Path:
    return make_archive(tmp_path / "site.archive.jsonl", site)


def assert_no_secret(where: str, text: str) -> None:
    for form in forms(TOKEN):
        assert form not in text, f"the token ({form!r}) is in {where}:\n{text}"
    assert "s3cr3t" not in text, f"part of the token is in {where}:\n{text}"


def test_a_target_echoing_the_token_never_gets_it_printed_logged_or_stored(
    tmp_path: Path, archive: Path
) -> None:
    echo = EchoServer()
    try:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": echo.url, "token_env": "CM_ECHO_TOKEN"},
        )
        env = {"CM_ECHO_TOKEN": TOKEN}
        first = invoke("-vv", "run", "-c", str(config), "--json", env=env)
        assert first.exit_code == 3, first.stderr
        summary = json.loads(first.stdout.strip().splitlines()[-1])
        assert summary["pages_failed"] == 2
        assert "400" in summary["failed_pages"][0]["error"]
        assert REDACTED in summary["failed_pages"][0]["error"]  # the echo is kept, minus the token
        # a rerun reconciles the failed pages first: GETs answered with the plain-text echo
        second = invoke("-vv", "run", "-c", str(config), "--json", env=env)
        assert second.exit_code == 3
        assert echo.requests > 2
        outputs = {
            "run stderr (log)": first.stderr,
            "run --json": first.stdout,
            "rerun stderr (log)": second.stderr,
            "rerun --json": second.stdout,
            "status": invoke("status", "-c", str(config), env=env).stdout,
            "status --json": invoke("status", "-c", str(config), "--json", env=env).stdout,
            "checkpoint show": invoke(
                "checkpoint", "show", str(tmp_path / "checkpoint.json")
            ).stdout,
        }
        files = [p for p in tmp_path.glob("checkpoint.json*") if p.is_file()]
        assert files
        outputs.update({f"file {p.name}": p.read_text(encoding="utf-8") for p in files})
        for where, text in outputs.items():
            assert_no_secret(where, text)
        assert f"Bearer {REDACTED}" in outputs["status"]  # the server's words still show
    finally:
        echo.stop()


def test_a_token_with_a_windows_line_ending_works(
    tmp_path: Path, archive: Path, site: dict[Page, list[Comment]]
) -> None:
    with ContractServer(token=TOKEN) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "token_env": "CM_CRLF_TOKEN"},
        )
        result = invoke(
            "-q", "run", "-c", str(config), "--json", env={"CM_CRLF_TOKEN": TOKEN + "\r\n"}
        )
        assert result.exit_code == 0, result.stderr
        assert_http_target_holds(server, site)


def test_a_token_with_a_control_character_inside_stops_the_run_naming_the_variable(
    tmp_path: Path, archive: Path
) -> None:
    with ContractServer() as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url, "token_env": "CM_BAD_TOKEN"},
        )
        result = invoke("run", "-c", str(config), env={"CM_BAD_TOKEN": "leftHALF\x01rightHALF"})
        assert result.exit_code == 2
        assert "CM_BAD_TOKEN" in result.stderr and "control character" in result.stderr
        assert "leftHALF" not in result.stderr and "rightHALF" not in result.stderr
        assert server.requests == 0


def test_a_client_given_a_token_directly_still_keeps_it_out_of_its_errors() -> None:
    # a library caller's token, and requests' own error quoting the header it refuses
    client = HttpClient(
        "http://127.0.0.1:9",
        token="lib\rTOKEN",
        policy=RetryPolicy(max_attempts=1, sleep=lambda s: None),
    )
    with pytest.raises(HttpError) as info:
        client.request("GET", "/x")
    assert not info.value.retryable
    assert "TOKEN" not in str(info.value) and "InvalidHeader" in str(info.value)


def test_a_token_set_later_is_redacted_too() -> None:
    # the Matrix source sets a guest's token after registering it
    client = HttpClient("http://127.0.0.1:9")
    client.token = "guest-token-abc"
    assert redact("Authorization: Bearer guest-token-abc") == f"Authorization: Bearer {REDACTED}"
