"""The reference Cloudflare Worker, run on workerd exactly as a user would run it
(`worker init`, `npm ci`, `npm run dev`): the HTTP contract, the batch and PATCH endpoints,
the public read endpoint, and a whole migration from a real Synapse killed at random
instants, verified and rolled back.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import random
import re
import signal
import threading
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from migrate.cli import cli
from migrate.files.base import rfc3339
from migrate.model import Comment, Page
from migrate.systems.matrix import MatrixCommentExtractor
from migrate.worker import TEMPLATE_FILES
from tests.migration_helpers import (
    REPO,
    expected_parents,
    invoke,
    start_run,
    subprocess_env,
    write_config,
)
from tests.servers.killproxy import KillProxy
from tests.servers.synapse import SynapseServer
from tests.servers.workerd import WorkerServer, missing_tools

Body = dict[str, Any]


def comment(
    page_id: str,
    source_id: str,
    *,
    parent_id: str | None = None,
    text: str = "hello",
    created_at: str = "2019-05-06T07:08:09Z",
    author: str = "Ann",
) -> Body:
    """A POST body of the HTTP contract."""
    return {
        "page": {"id": page_id, "uri": f"/{page_id}/", "title": f"Page {page_id}"},
        "parent_id": parent_id,
        "author": {
            "name": author,
            "source_id": f"@{author.lower()}:example.org",
            "avatar_url": "https://example.org/a.png",
        },
        "text": text,
        "html": None,
        "created_at": created_at,
        "source": {"system": "matrix", "id": source_id, "parent_id": None},
    }


def post(worker: WorkerServer, body: Body, key: str | None = None) -> requests.Response:
    key = key or f"matrix:{body['source']['id']}"
    return worker.call("POST", "/comments", body=body, headers={"Idempotency-Key": key})


def new_page() -> str:
    return f"page-{uuid.uuid4().hex[:10]}"


# -- worker init (no Node needed) ------------------------------------------------------------


def test_worker_init_writes_the_project_and_never_overwrites(tmp_path: Path) -> None:
    result = invoke("worker", "init", str(tmp_path / "api"))
    assert result.exit_code == 0, result.output
    written = {
        p.relative_to(tmp_path / "api").as_posix()
        for p in (tmp_path / "api").rglob("*")
        if p.is_file()
    }
    assert written == {*TEMPLATE_FILES.values(), ".dev.vars.example"}
    package = json.loads((tmp_path / "api" / "package.json").read_text())
    assert package["devDependencies"]["wrangler"][0].isdigit(), "wrangler must be pinned"
    lock = json.loads((tmp_path / "api" / "package-lock.json").read_text())
    assert (
        lock["packages"]["node_modules/wrangler"]["version"]
        == package["devDependencies"]["wrangler"]
    )

    # one file in the way: nothing is written, and the error names it
    other = tmp_path / "other"
    (other / "src").mkdir(parents=True)
    (other / "src" / "index.js").write_text("// mine\n")
    result = invoke("worker", "init", str(other))
    assert result.exit_code == 2
    assert f"{other / 'src' / 'index.js'} already exists" in result.stderr
    assert [p.name for p in other.rglob("*") if p.is_file()] == ["index.js"]
    assert (other / "src" / "index.js").read_text() == "// mine\n"


def test_every_template_file_ships_in_the_package_data() -> None:
    """A template file the package-data globs miss would be absent from a pip install."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["migrate"]
    template = REPO / "migrate" / "worker" / "template"
    on_disk = {p.relative_to(template).as_posix() for p in template.rglob("*") if p.is_file()}
    assert on_disk == set(TEMPLATE_FILES)
    for name in TEMPLATE_FILES:
        path = f"worker/template/{name}"
        # setuptools' "*" stays within one folder, as it does here segment by segment
        assert any(
            g.count("/") == path.count("/") and fnmatch.fnmatchcase(path, g) for g in globs
        ), name


def test_the_project_pins_a_wrangler_for_node_20_and_keeps_to_itself() -> None:
    """The lockfile is what `npm ci` installs: it must hold the pinned wrangler, one that runs
    on the Node the README names; `npm run dev` sends no metrics and fetches nothing."""
    template = REPO / "migrate" / "worker" / "template"
    package = json.loads((template / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((template / "package-lock.json").read_text(encoding="utf-8"))
    pinned = package["devDependencies"]["wrangler"]
    assert re.fullmatch(r"4\.\d+\.\d+", pinned), "an exact wrangler 4 pin"
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    locked = lock["packages"]["node_modules/wrangler"]
    assert locked["version"] == pinned
    assert re.fullmatch(r">=(18|20)(\.\d+)*", locked["engines"]["node"]), locked["engines"]
    wrangler = tomllib.loads((template / "wrangler.toml").read_text(encoding="utf-8"))
    assert wrangler["send_metrics"] is False
    for script in ("dev", "deploy", "migrate:remote"):
        assert "WRANGLER_SEND_METRICS=false" in package["scripts"][script]
    assert package["scripts"]["dev"].count("CLOUDFLARE_CF_FETCH_ENABLED=false") == 2
    assert "Node 22" in (template / "README.md").read_text(encoding="utf-8")


def test_the_worker_tests_skip_only_without_node_or_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert missing_tools() == ["node", "npm"]
    for tool in ("node", "npm"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    assert missing_tools() == []


def test_worker_help_has_an_example() -> None:
    from click.testing import CliRunner

    for args in (["worker", "--help"], ["worker", "init", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Example:" in result.output


# -- the contract on workerd -----------------------------------------------------------------


@pytest.mark.workerd
def test_requests_without_the_token_or_with_a_wrong_one_are_401(worker: WorkerServer) -> None:
    page = new_page()
    body = comment(page, "$auth")
    attempts = [
        ("POST", "/comments", body),
        ("POST", "/comments/batch", {"comments": [body]}),
        ("GET", "/comments?page_id=" + page, None),
        ("GET", "/comments?source_id=$auth", None),
        ("PATCH", "/comments/1", {"text": "x", "html": None, "edited_at": None}),
        ("DELETE", "/comments/1", None),
    ]
    for token in (None, "wrong-token", worker.token + "x", worker.token[:-1]):
        for method, path, sent in attempts:
            answer = worker.call(
                method, path, body=sent, token=token, headers={"Idempotency-Key": "matrix:$auth"}
            )
            assert answer.status_code == 401, (method, path, token, answer.text)
            assert answer.json() == {"error": "missing or wrong bearer token"}
    assert worker.list_page(page) == [], "a refused write stored nothing"
    assert post(worker, body).status_code == 201  # and the right token is accepted


@pytest.mark.workerd
def test_a_repeated_post_answers_409_with_the_stored_id(worker: WorkerServer) -> None:
    page = new_page()
    first = post(worker, comment(page, "$repeat"))
    assert first.status_code == 201
    again = post(worker, comment(page, "$repeat", text="changed on the way"))
    assert again.status_code == 409 and again.json() == first.json()
    assert [c["text"] for c in worker.list_page(page)] == ["hello"]
    found = worker.call("GET", "/comments", params={"source_id": "$repeat"})
    assert found.status_code == 200 and found.json() == first.json()
    missing = worker.call("GET", "/comments", params={"source_id": "$nobody"})
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}


@pytest.mark.workerd
def test_concurrent_repeats_of_one_key_store_one_row(worker: WorkerServer) -> None:
    page = new_page()
    body = comment(page, "$race")
    answers: list[tuple[int, Any]] = []
    barrier = threading.Barrier(16)

    def send() -> None:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait()
            answer = session.post(
                f"{worker.url}/comments",
                data=json.dumps(body),
                timeout=30,
                headers={
                    "Authorization": f"Bearer {worker.token}",
                    "Idempotency-Key": "matrix:$race",
                    "Content-Type": "application/json",
                },
            )
            answers.append((answer.status_code, answer.json()))

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 16
    assert sorted(status for status, _ in answers) == [201] + [409] * 15
    assert len({body["id"] for _, body in answers}) == 1
    assert len(worker.list_page(page)) == 1


@pytest.mark.workerd
def test_the_listing_covers_every_comment_once_while_comments_arrive(
    worker: WorkerServer,
) -> None:
    page = new_page()
    for start in range(0, 230, 100):
        batch = [comment(page, f"$l{n}") for n in range(start, min(start + 100, 230))]
        answer = worker.call("POST", "/comments/batch", body={"comments": batch})
        assert answer.status_code == 200
        assert all("id" in r and "existing" not in r for r in answer.json()["results"])
    seen: list[str] = []
    params = {"page_id": page, "limit": "40"}
    pages_read = 0
    while True:
        body = worker.call("GET", "/comments", params=params).json()
        seen.extend(c["source"]["id"] for c in body["comments"])
        pages_read += 1
        if pages_read == 2:  # a comment arriving mid-listing moves nothing already read
            assert post(worker, comment(page, "$late")).status_code == 201
        if not body["next"]:
            break
        params["cursor"] = body["next"]
    assert pages_read == 6
    assert sorted(seen) == sorted([f"$l{n}" for n in range(230)] + ["$late"])
    other = worker.call("GET", "/comments", params={"page_id": new_page()}).json()
    assert other == {"comments": [], "next": None}


@pytest.mark.workerd
def test_delete_releases_the_key_and_a_comment_with_replies_becomes_a_tombstone(
    worker: WorkerServer,
) -> None:
    page = new_page()
    first = post(worker, comment(page, "$del")).json()["id"]
    assert worker.call("DELETE", f"/comments/{first}").status_code == 204
    gone = worker.call("DELETE", f"/comments/{first}")
    assert gone.status_code == 404 and gone.json() == {"error": "not found"}
    again = post(worker, comment(page, "$del"))
    assert again.status_code == 201 and again.json()["id"] != first

    parent = again.json()["id"]
    reply = post(worker, comment(page, "$del-reply", parent_id=parent, author="Bob")).json()["id"]
    assert worker.call("DELETE", f"/comments/{parent}").status_code == 204
    (held_parent, held_reply) = worker.list_page(page)
    assert held_parent["deleted"] is True and held_parent["text"] == "[deleted]"
    assert held_parent["author"]["name"] is None and held_reply["parent_id"] == parent
    # the key is free even though the tombstone stays for its reply
    assert post(worker, comment(page, "$del")).status_code == 201
    # the last reply gone, the tombstone has nothing to hold up and goes too
    assert worker.call("DELETE", f"/comments/{reply}").status_code == 204
    assert [c["source"]["id"] for c in worker.list_page(page)] == ["$del"]


@pytest.mark.workerd
def test_a_batch_answers_per_item(worker: WorkerServer) -> None:
    page = new_page()
    stored = post(worker, comment(page, "$b-old")).json()["id"]
    missing_text = comment(page, "$b-bad")
    del missing_text["text"]
    keyed = comment(page, "$b-keyed")
    keyed["idempotency_key"] = "custom:one"
    items = [
        comment(page, "$b-new"),
        comment(page, "$b-old", text="a resend"),
        comment(page, "$b-orphan", parent_id="999999999"),
        missing_text,
        comment(page, "$b-reply", parent_id=stored, author="Bob"),
        keyed,
        {**comment(page, "$b-dup-of-keyed"), "idempotency_key": "custom:one"},
        comment(page, "$b-time", created_at="2019-05-06 07:08:09"),
    ]
    answer = worker.call("POST", "/comments/batch", body={"comments": items})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == len(items)
    assert set(results[0]) == {"id"}
    assert results[1] == {"id": stored, "existing": True}
    assert results[2] == {"error": f"unknown parent_id 999999999 on page {page}"}
    assert results[3] == {"error": "text is required"}
    assert set(results[4]) == {"id"}
    assert results[6] == {"id": results[5]["id"], "existing": True}
    assert results[7] == {"error": "created_at must be RFC 3339 in UTC"}
    held = {c["source"]["id"]: c for c in worker.list_page(page)}
    assert sorted(held) == ["$b-keyed", "$b-new", "$b-old", "$b-reply"]
    assert held["$b-reply"]["parent_id"] == stored and held["$b-old"]["text"] == "hello"
    # an item's own key (in the body) and the derived one are both honoured by single posts
    assert post(worker, comment(page, "$b-new")).status_code == 409
    assert post(worker, comment(page, "$b-x"), key="custom:one").json() == {"id": results[5]["id"]}

    too_many = worker.call(
        "POST", "/comments/batch", body={"comments": [comment(page, f"$m{n}") for n in range(101)]}
    )
    assert too_many.status_code == 400 and "at most 100" in too_many.json()["error"]
    not_a_batch = worker.call("POST", "/comments/batch", body=[comment(page, "$n")])
    assert not_a_batch.status_code == 400


@pytest.mark.workerd
def test_patch_updates_text_html_and_edited_at(worker: WorkerServer) -> None:
    page = new_page()
    target_id = post(worker, comment(page, "$edit", text="teh typo")).json()["id"]
    edit = {"text": "the typo", "html": "<p>the typo</p>", "edited_at": "2020-01-02T03:04:05Z"}
    answer = worker.call("PATCH", f"/comments/{target_id}", body=edit)
    assert answer.status_code == 200 and answer.json() == {"id": target_id, **edit}
    (held,) = worker.list_page(page)
    assert (held["text"], held["html"], held["edited_at"]) == (
        "the typo",
        "<p>the typo</p>",
        "2020-01-02T03:04:05Z",
    )
    assert held["created_at"] == "2019-05-06T07:08:09Z"
    assert worker.call("PATCH", "/comments/999999999", body=edit).status_code == 404
    bad = worker.call("PATCH", f"/comments/{target_id}", body={**edit, "edited_at": "yesterday"})
    assert bad.status_code == 400 and bad.json() == {"error": "edited_at must be RFC 3339 in UTC"}


@pytest.mark.workerd
def test_the_public_thread_is_nested_safe_and_shows_no_author_secrets(
    worker: WorkerServer,
) -> None:
    page = new_page()
    top = post(worker, comment(page, "$t1", text="<script>alert(1)</script>")).json()["id"]
    reply = post(
        worker, comment(page, "$t2", parent_id=top, author="Bob", created_at="2019-05-06T08:00:00Z")
    ).json()["id"]
    post(
        worker,
        comment(page, "$t3", parent_id=reply, author="Cy", created_at="2019-05-06T09:00:00Z"),
    )
    post(worker, comment(page, "$t4", created_at="2019-05-07T00:00:00Z"))
    answer = worker.call("GET", "/threads", params={"uri": f"/{page}/"}, token=None)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Type"].startswith("application/json")
    raw = answer.text
    assert "<" not in raw and ">" not in raw, "markup is escaped inside the JSON"
    for secret in ("@ann:example.org", "@bob:example.org", "$t1", "matrix:", "source"):
        assert secret not in raw
    thread = answer.json()
    assert thread["page"] == {"id": page, "uri": f"/{page}/", "title": f"Page {page}"}
    assert thread["total"] == 4

    def shape(items: list[Body]) -> list[Any]:
        return [(c["author"]["name"], c["text"], shape(c["replies"])) for c in items]

    assert shape(thread["comments"]) == [
        ("Ann", "<script>alert(1)</script>", [("Bob", "hello", [("Cy", "hello", [])])]),
        ("Ann", "hello", []),
    ]
    by_id = worker.call("GET", "/threads", params={"page_id": page}, token=None).json()
    assert by_id == thread
    # a site's router serves /page as /page/: the widget may ask either way
    unslashed = worker.call("GET", "/threads", params={"uri": f"/{page}"}, token=None).json()
    assert unslashed == thread
    preflight = worker.call("OPTIONS", "/threads", token=None)
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert worker.call("POST", "/threads", body={}, token=None).status_code == 405


# -- a whole migration from a real Synapse ----------------------------------------------------

SITE = "workersite"
SECTIONS = ("first-post", "second-post", "third-post", "fourth-post")
BASE_TS = 1_500_000_000_000
MIN_KILLS = 6


@pytest.fixture(scope="module")
def worker_site(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four pages of 24 threaded comments (replies three deep) on the real homeserver."""
    users = [synapse.user_id(n) for n in ("cactus_wa", "cactus_wb", "cactus_wc")]
    for user, name in zip(users, ("Wanda", "Walt", "Wes"), strict=True):
        synapse.set_displayname(user, name)
    ts = BASE_TS
    for section in SECTIONS:
        room = synapse.create_comment_room(SITE, section)
        chain: list[str] = []
        for i in range(24):
            ts += 3_600_000
            content: dict[str, object] = {"msgtype": "m.text", "body": f"{section} #{i}"}
            level = i % 4
            if level and chain:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": chain[-1]}}
            event = synapse.send_message(room, content, users[i % 3], ts)
            chain = [*chain[:level], event] if level else [event]
    folder = tmp_path_factory.mktemp("worker-site")
    (folder / "pages.csv").write_text(
        "".join(f"{s},/blog/{s}/,Post {s}\n" for s in SECTIONS), encoding="utf-8"
    )
    return folder / "pages.csv"


def source_site(synapse: SynapseServer, pages_file: Path) -> dict[Page, list[Comment]]:
    source = MatrixCommentExtractor(
        homeserver=synapse.url, site=SITE, server_name=synapse.server_name, pages_file=pages_file
    )
    try:
        return {page: source.comments(page).comments for page in source.pages()}
    finally:
        source.close()


def kill_later(pid: int, delay: float) -> threading.Timer:
    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(delay, kill)
    timer.start()
    return timer


def thread_shape(items: list[Body]) -> list[Any]:
    return sorted(
        (c["created_at"], c["author"]["name"], c["text"], thread_shape(c["replies"])) for c in items
    )


def source_shape(comments: list[Comment]) -> list[Any]:
    parents = expected_parents(comments, None)

    def under(parent: str | None) -> list[Any]:
        return sorted(
            (rfc3339(c.created_at), c.author.name, c.text, under(c.id))
            for c in comments
            if parents[c.id] == parent
        )

    return under(None)


def crash_until_done(
    config: Path, proxy: KillProxy, env: dict[str, str], rng: random.Random
) -> int:
    """Run, killing runs at new moments until MIN_KILLS kills; then until a run exits 0."""
    kills = 0
    for round_no in range(60):
        proc = start_run(config, env=env)
        timer = None
        if kills < MIN_KILLS:
            if round_no % 2:
                timer = kill_later(proc.pid, rng.uniform(0.2, 1.0))  # any instant
            else:
                proxy.arm(proc.pid, rng.randint(1, 8))  # stored, its id never journaled
        _, stderr = proc.communicate(timeout=120)
        proxy.disarm()
        if timer is not None:
            timer.cancel()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            continue
        assert proc.returncode == 0, f"round {round_no}: exit {proc.returncode}\n{stderr}"
        if kills >= MIN_KILLS:
            return kills
    raise AssertionError("the migration never finished")


def assert_worker_holds(worker: WorkerServer, site: dict[Page, list[Comment]]) -> None:
    """Every comment once, under its parent, its created_at kept; the public thread has the
    source's shape."""
    for page, comments in site.items():
        held = worker.list_page(page.id)
        by_source: dict[str, list[Body]] = {}
        for item in held:
            by_source.setdefault(item["source"]["id"], []).append(item)
        assert {k: len(v) for k, v in by_source.items()} == {c.id: 1 for c in comments}
        source_of = {item["id"]: item["source"]["id"] for item in held}
        parents = expected_parents(comments, None)
        for c in comments:
            (item,) = by_source[c.id]
            assert item["created_at"] == rfc3339(c.created_at), "original timestamp kept"
            parent = item["parent_id"]
            assert (source_of[parent] if parent else None) == parents[c.id]
        public = worker.call("GET", "/threads", params={"uri": page.key}, token=None).json()
        assert public["total"] == len(comments)
        assert thread_shape(public["comments"]) == source_shape(comments)


@pytest.mark.workerd
@pytest.mark.synapse
def test_synapse_to_the_worker_survives_sigkill_then_verifies_and_rolls_back(
    synapse: SynapseServer,
    worker_site: Path,
    worker: WorkerServer,
    tmp_path: Path,
) -> None:
    source = {
        "type": "matrix",
        "homeserver": synapse.url,
        "server_name": synapse.server_name,
        "site": SITE,
        "pages_file": str(worker_site),
    }
    site = source_site(synapse, worker_site)
    assert sum(len(c) for c in site.values()) == 96
    env = {"TARGET_TOKEN": worker.token}
    proxy = KillProxy(worker.url).start()
    try:
        # the proxy stays: the checkpoint belongs to the target URL the run was given
        config = write_config(
            tmp_path,
            source=source,
            # single posts: the kill proxy arms on POST /comments (batches are proven on the
            # Worker by the contract tests, and under SIGKILL in tests/test_crash.py)
            target={"type": "http", "url": proxy.url, "token_env": "TARGET_TOKEN", "batch_size": 0},
        )
        kills = crash_until_done(config, proxy, subprocess_env(**env), random.Random(9))
        assert proxy.kills >= MIN_KILLS // 2, "some kills came after the Worker stored"
        assert_worker_holds(worker, site)

        verified = invoke("verify", "-c", str(config), env=env)
        assert verified.exit_code == 0, verified.output
        rolled = invoke(
            "rollback",
            "-c",
            str(config),
            "--yes",
            "--backup",
            str(tmp_path / "backup.jsonl"),
            env=env,
        )
        assert rolled.exit_code == 0, rolled.output
    finally:
        proxy.stop()
    assert kills >= MIN_KILLS
    for page in site:
        assert worker.list_page(page.id) == []
        empty = worker.call("GET", "/threads", params={"uri": page.key}, token=None).json()
        assert empty["total"] == 0
