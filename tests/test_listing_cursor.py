"""A page listing whose cursor never ends (`GET /comments?page_id=` answering the same `next`
forever) is an error naming the endpoint, in every command that reads it: verify, the
backup before a rollback, and the reconciliation of an interrupted page on a rerun. A real
contract server answers; a proxy of the test's own rewrites each listing's `next`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.model import Page
from migrate.systems.http.listing import list_comments
from migrate.systems.http.target import HttpTarget
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import invoke, run_json, write_config
from tests.servers.contract import ContractServer
from tests.servers.killproxy import KillProxy
from utils.checkpoint_manager import CheckpointManager
from utils.http import HttpClient, HttpError


def endless(method: str, path: str, body: bytes) -> bytes | None:
    """Every listing answer points at the same next page, forever."""
    if method != "GET" or "page_id=" not in path:
        return None
    answer = json.loads(body)
    answer["next"] = "2"  # a real cursor of this server, every time
    return json.dumps(answer).encode()


@pytest.fixture
def looping() -> Iterator[tuple[ContractServer, KillProxy]]:
    with ContractServer(page_size=2) as server:
        proxy = KillProxy(server.url).start()
        try:
            yield server, proxy
        finally:
            proxy.stop()


def listings(proxy: KillProxy) -> int:
    return sum(1 for method, path in proxy.log if method == "GET" and "page_id=" in path)


def test_a_repeated_cursor_is_an_error_naming_the_endpoint(
    looping: tuple[ContractServer, KillProxy],
) -> None:
    _, proxy = looping
    proxy.rewrite = endless
    target = HttpTarget(proxy.url)
    with pytest.raises(HttpError) as raised:
        target.list_page(Page(id="p1", key="/p1/"))
    assert f"GET {proxy.url}/comments?page_id=p1" in raised.value.message
    assert "a second time" in raised.value.message
    assert listings(proxy) == 2  # the first answer, and the one that repeats its cursor


def test_an_absurd_number_of_listing_pages_is_an_error(
    looping: tuple[ContractServer, KillProxy],
) -> None:
    _, proxy = looping
    count = iter(range(10**9))

    def ever_new(method: str, path: str, body: bytes) -> bytes | None:
        if method != "GET" or "page_id=" not in path:
            return None
        return json.dumps({"comments": [], "next": str(next(count) + 100)}).encode()

    proxy.rewrite = ever_new
    client = HttpClient(proxy.url)
    with pytest.raises(HttpError, match="after 25 requests"):
        list_comments(client, "p1", max_requests=25)
    assert listings(proxy) == 25


def test_verify_rollback_and_rerun_stop_on_an_endless_listing(
    tmp_path: Path, looping: tuple[ContractServer, KillProxy]
) -> None:
    server, proxy = looping
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=2, per_page=5))
    config = write_config(tmp_path, archive=archive, target={"type": "http", "url": proxy.url})
    code, summary, _ = run_json(config)
    assert code == 0 and summary["comments_imported"] == 10
    proxy.rewrite = endless

    verified = invoke("-q", "verify", "-c", str(config), "--json")
    report = json.loads(verified.stdout.strip().splitlines()[-1])
    assert verified.exit_code == 3
    assert all("a second time" in page["error"] for page in report["pages"])

    rolled = invoke("-q", "rollback", "-c", str(config), "--yes")
    assert rolled.exit_code != 0 and "a second time" in rolled.stderr
    assert "nothing was deleted" in rolled.stderr
    assert len(server.comments) == 10  # the backup failed, so nothing was deleted

    # a rerun reconciles an interrupted page before resending it: through the listing
    with CheckpointManager(checkpoint_file=tmp_path / "checkpoint.json") as cp:
        source_id, _ = cp.state.get_page_mappings("post1")[-1]
        cp.remove_id_mapping(source_id)  # accepted by the server, never journaled
        cp.mark_page_failed("post1", "an earlier failure")
    code, summary, _ = run_json(config)
    assert code == 3
    (failed,) = summary["failed_pages"]
    assert failed["page_id"] == "post1" and "a second time" in failed["error"]
    assert len(server.comments) == 10
