"""HttpTarget against the in-repo contract server (tests/servers/contract.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from migrate.abilities import Target
from migrate.errors import UnsupportedOperation
from migrate.model import Author, Comment, OutgoingComment, Page
from migrate.systems.http.target import HttpTarget
from tests.factories import comment, make_archive, page
from tests.migration_helpers import run_json, write_config
from tests.servers.contract import ContractServer
from utils.http import HttpError
from utils.retry import RetryPolicy

PAGE = Page(id="post1", key="/blog/post1/", title="Post one")
WHEN = datetime(2019, 5, 6, 7, 8, 9, tzinfo=UTC)


def outgoing(
    source_id: str,
    text: str = "hello there",
    *,
    parent: tuple[str, str] | None = None,
    page: Page = PAGE,
    author: str = "alice",
) -> OutgoingComment:
    """parent: (source id, target id) of the comment this one answers."""
    comment = Comment(
        id=source_id,
        page_id=page.id,
        parent_id=parent[0] if parent else None,
        author=Author(author, f"@{author}:example.org", "mxc://example.org/a"),
        text=text,
        created_at=WHEN,
        html=f"<p>{text}</p>",
    )
    return OutgoingComment(
        source=comment,
        page=page,
        parent_target_id=parent[1] if parent else None,
        parent_source_id=parent[0] if parent else None,
        text=text,
        html=f"<p>{text}</p>",
        idempotency_key=f"matrix:{source_id}",
    )


def fast_policy(attempts: int = 6) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, sleep=lambda _: None)


@pytest.fixture
def target(contract_server: ContractServer) -> HttpTarget:
    return HttpTarget(contract_server.url, policy=fast_policy())


def test_is_a_target(target: HttpTarget) -> None:
    assert isinstance(target, Target)
    assert target.capabilities.idempotency == "key"
    assert target.capabilities.max_depth is None
    assert target.identity() == {"url": target.url}


def test_create_sends_the_contract_body(
    contract_server: ContractServer, target: HttpTarget
) -> None:
    created = target.create(outgoing("$a"))
    stored = contract_server.comments[0]
    assert created.target_id == stored["id"] and not created.already_existed
    assert stored["idempotency_key"] == "matrix:$a"
    assert {k: v for k, v in stored.items() if k not in ("id", "idempotency_key")} == {
        "page": {"id": "post1", "uri": "/blog/post1/", "title": "Post one"},
        "parent_id": None,
        "author": {
            "name": "alice",
            "source_id": "@alice:example.org",
            "avatar_url": "mxc://example.org/a",
        },
        "text": "hello there",
        "html": "<p>hello there</p>",
        "created_at": "2019-05-06T07:08:09Z",
        "source": {"system": "matrix", "id": "$a", "parent_id": None},
    }


def test_reply_carries_parent_target_id(
    contract_server: ContractServer, target: HttpTarget
) -> None:
    top = target.create(outgoing("$a"))
    reply = target.create(outgoing("$b", parent=("$a", top.target_id)))
    assert reply.parent_target_id == top.target_id
    assert contract_server.comments[1]["parent_id"] == top.target_id
    assert contract_server.comments[1]["source"]["parent_id"] == "$a"


def test_same_idempotency_key_is_409_and_success(
    contract_server: ContractServer, target: HttpTarget
) -> None:
    first = target.create(outgoing("$a"))
    again = target.create(outgoing("$a"))
    assert again.target_id == first.target_id and again.already_existed
    assert len(contract_server.comments) == 1


def test_token_is_sent_and_never_shown(contract_server: ContractServer) -> None:
    server = ContractServer(token="s3cret").start()
    try:
        good = HttpTarget(server.url, token="s3cret", policy=fast_policy())
        assert good.create(outgoing("$a")).target_id
        assert "s3cret" not in repr(good) and "s3cret" not in str(good.identity())
        with pytest.raises(HttpError) as caught:
            HttpTarget(server.url, token="wrong", policy=fast_policy()).create(outgoing("$b"))
        assert caught.value.status == 401 and "bearer token" in caught.value.message
    finally:
        server.stop()


def test_400_surfaces_the_server_message_without_retry() -> None:
    server = ContractServer(
        refuse_if=lambda body: "spam is not welcome" if "buy" in body["text"] else None
    ).start()
    try:
        target = HttpTarget(server.url, policy=fast_policy())
        with pytest.raises(HttpError) as caught:
            target.create(outgoing("$a", "buy now"))
        assert caught.value.status == 400 and not caught.value.retryable
        assert "spam is not welcome" in caught.value.message
        assert server.posts == 1  # a 4xx is final
    finally:
        server.stop()


@pytest.mark.parametrize("fault", [500, 503, 429, "reset"])
def test_a_transient_fault_is_retried(fault: int | str) -> None:
    server = ContractServer(fail_requests={1: fault, 2: fault}).start()
    try:
        created = HttpTarget(server.url, policy=fast_policy()).create(outgoing("$a"))
        assert server.posts == 3 and [c["id"] for c in server.comments] == [created.target_id]
    finally:
        server.stop()


@pytest.mark.parametrize("fault", ["accept:503", "accept:reset"])
def test_accepted_then_failed_is_not_duplicated(fault: str) -> None:
    server = ContractServer(fail_requests={1: fault}).start()
    try:
        created = HttpTarget(server.url, policy=fast_policy()).create(outgoing("$a"))
        assert created.already_existed  # the retry met the Idempotency-Key
        assert [c["id"] for c in server.comments] == [created.target_id]
    finally:
        server.stop()


def test_random_faults_lose_and_duplicate_nothing() -> None:
    server = ContractServer(fault_rate=0.3, accept_then_fail=0.5, seed=7).start()
    try:
        target = HttpTarget(server.url, policy=fast_policy(attempts=12))
        ids: dict[str, str] = {}
        for n in range(60):
            parent = ("$0", ids["$0"]) if n and n % 3 == 0 else None
            ids[f"${n}"] = target.create(outgoing(f"${n}", f"comment {n}", parent=parent)).target_id
        assert server.faults_injected > 10
        assert sorted(c["source"]["id"] for c in server.comments) == sorted(ids)
        assert {c["source"]["id"]: c["id"] for c in server.comments} == ids
    finally:
        server.stop()


def test_retries_give_up_with_the_last_error() -> None:
    server = ContractServer(fault_rate=1.0, faults=(503,)).start()
    try:
        with pytest.raises(HttpError) as caught:
            HttpTarget(server.url, policy=fast_policy(attempts=3)).create(outgoing("$a"))
        assert caught.value.status == 503 and caught.value.retryable and server.posts == 3
    finally:
        server.stop()


def test_reconcile_by_page_listing(contract_server: ContractServer, target: HttpTarget) -> None:
    a = target.create(outgoing("$a"))
    pending = [outgoing("$a"), outgoing("$b")]
    before = contract_server.requests
    assert target.reconcile(PAGE, pending) == {"$a": a.target_id}
    assert contract_server.requests == before + 1  # one listing, not one lookup per comment


def test_reconcile_by_lookup_when_there_is_no_listing() -> None:
    server = ContractServer(listing=False).start()
    try:
        target = HttpTarget(server.url, policy=fast_policy())
        a = target.create(outgoing("$a"))
        assert target.reconcile(PAGE, [outgoing("$a"), outgoing("$b")]) == {"$a": a.target_id}
        assert target.lookup("$zz") is None
    finally:
        server.stop()


def test_reconcile_without_lookup_relies_on_the_key() -> None:
    server = ContractServer(listing=False, lookup=False).start()
    try:
        target = HttpTarget(server.url, policy=fast_policy())
        a = target.create(outgoing("$a"))
        assert target.reconcile(PAGE, [outgoing("$a"), outgoing("$b")]) == {}
        assert target.create(outgoing("$a")).target_id == a.target_id  # 409 keeps it single
        with pytest.raises(UnsupportedOperation):
            target.list_page(PAGE)
    finally:
        server.stop()


def test_list_page_follows_the_cursor() -> None:
    server = ContractServer(page_size=2).start()
    other = Page(id="post2", key="/blog/post2/")
    try:
        target = HttpTarget(server.url, policy=fast_policy())
        made = [target.create(outgoing(f"${n}", f"text {n}")).target_id for n in range(5)]
        target.create(outgoing("$x", page=other))
        listed = target.list_page(PAGE)
        assert [c.target_id for c in listed] == made
        assert [c.source_id for c in listed] == [f"${n}" for n in range(5)]
        assert listed[0].created_at == WHEN and listed[0].author_name == "alice"
        assert listed[0].text == "text 0"
    finally:
        server.stop()


def test_delete(contract_server: ContractServer, target: HttpTarget) -> None:
    a = target.create(outgoing("$a"))
    assert target.delete(a.target_id, PAGE) is True
    assert target.delete(a.target_id, PAGE) is False  # 404: already gone
    assert contract_server.comments == []
    # the key was released: migrating again after a rollback creates it anew
    again = target.create(outgoing("$a"))
    assert not again.already_existed and again.target_id != a.target_id


class FixedAnswer:
    """A real server answering every request with one status and JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        answer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fixed() -> Iterator[FixedAnswer]:
    server = FixedAnswer(201, {})
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ({"id": True}, "true"),
        ({"id": False}, "false"),
        ({"id": {}}, "{}"),
        ({"id": ""}, '""'),
        ({"id": "  "}, '"  "'),
        ({"id": 1.5}, "1.5"),
        ({"id": [3]}, "[3]"),
        ({"ok": 1}, "without 'id'"),
        ({"id": None}, "without 'id'"),
        ([17], "[17]"),
    ],
)
def test_an_answer_without_a_usable_id_fails_naming_the_endpoint_and_the_answer(
    fixed: FixedAnswer, body: Any, shown: str
) -> None:
    fixed.body = body
    target = HttpTarget(fixed.url, policy=fast_policy())
    with pytest.raises(HttpError) as info:
        target.create(outgoing("$a"))
    message = str(info.value)
    assert f"POST {fixed.url}/comments -> 201" in message and shown in message
    assert not info.value.retryable


@pytest.mark.parametrize(("value", "expected"), [(42, "42"), ("c-9", "c-9"), (0, "0")])
def test_ids_are_strings_or_integers_as_decimal_strings(
    fixed: FixedAnswer, value: Any, expected: str
) -> None:
    fixed.body = {"id": value, "parent_id": 7}
    created = HttpTarget(fixed.url, policy=fast_policy()).create(outgoing("$a"))
    assert created.target_id == expected and created.parent_target_id == "7"
    assert not created.already_existed


def test_409_already_there_is_created_with_already_existed(fixed: FixedAnswer) -> None:
    fixed.status, fixed.body = 409, {"id": 7}
    created = HttpTarget(fixed.url, policy=fast_policy()).create(outgoing("$a"))
    assert created.target_id == "7" and created.already_existed


def test_a_bad_id_from_lookup_or_listing_fails_too(fixed: FixedAnswer) -> None:
    target = HttpTarget(fixed.url, policy=fast_policy())
    fixed.status, fixed.body = 200, {"id": True}
    with pytest.raises(HttpError, match=r"GET .*/comments\?source_id= -> 200: .*'id' = true"):
        target.lookup("$a")
    fixed.body = {"comments": [{"id": {}, "text": "x"}]}
    with pytest.raises(HttpError, match=r"GET .*/comments\?page_id= -> 200: .*'id' = \{\}"):
        target.list_page(PAGE)
    fixed.body = {"comments": [{"id": 3, "parent_id": True, "text": "x"}]}
    with pytest.raises(HttpError, match="'parent_id' = true"):
        target.list_page(PAGE)


def test_a_run_into_a_target_answering_id_true_fails_the_page_and_says_why(
    tmp_path: Path, fixed: FixedAnswer
) -> None:
    fixed.body = {"id": True}
    archive = make_archive(tmp_path / "a.jsonl", {page("post1"): [comment("$a")]})
    config = write_config(tmp_path, archive=archive, target={"type": "http", "url": fixed.url})
    code, summary, _ = run_json(config)
    assert code == 3
    (failed,) = summary["failed_pages"]
    assert f"{fixed.url}/comments" in failed["error"] and "'id' = true" in failed["error"]
    assert summary["comments_imported"] == 0
