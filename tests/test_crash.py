"""SIGKILL at any instant: a rerun finishes with no comment twice, none lost, every reply
under its parent.

The migration runs in a child process. A forwarding proxy in front of the real target kills
it right after the target accepted the Nth comment and before the answer comes back: the
comment is stored but its id was never journaled. Other rounds kill on a timer, at random
instants (start-up, extraction, a checkpoint write, between two comments). We rerun until the
run exits 0, then read the target. The same holds with many comments of one page in flight,
and with batches (a kill after the server stored a whole batch).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from migrate.model import Comment, Page
from tests.factories import make_archive, threaded_site
from tests.migration_helpers import (
    assert_http_target_holds,
    expected_parents,
    invoke,
    run_json,
    start_run,
    write_config,
)
from tests.servers.contract import ContractServer
from tests.servers.isso import IssoServer
from tests.servers.killproxy import KillProxy

MIN_KILLS = 20


def kill_later(pid: int, delay: float) -> threading.Timer:
    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(delay, kill)
    timer.start()
    return timer


def crash_until_done(config: Path, proxy: KillProxy, rng: random.Random) -> int:
    """Run, killing each run at a new moment, until MIN_KILLS kills happened and a run ends
    by itself with 0. Returns the number of kills."""
    kills = 0
    for round_no in range(200):
        proc = start_run(config)
        timer = None
        if kills < MIN_KILLS:
            if round_no % 3 == 2:
                timer = kill_later(proc.pid, rng.uniform(0.2, 0.8))  # any instant
            else:
                proxy.arm(proc.pid, rng.randint(1, 4))  # after the target accepted
        _, stderr = proc.communicate(timeout=120)
        proxy.disarm()
        if timer is not None:
            timer.cancel()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            continue
        assert proc.returncode == 0, f"round {round_no}: exit {proc.returncode}\n{stderr}"
        assert kills >= MIN_KILLS, f"finished after only {kills} kills: the site is too small"
        return kills
    raise AssertionError("the migration never finished")


@pytest.fixture
def big_site() -> dict[Page, list[Comment]]:
    # enough comments that 20+ kills after a handful of posts each still leave work to do
    return threaded_site(pages=6, per_page=50, depth=4)


def test_http_target_survives_sigkill_at_20_moments(
    tmp_path: Path, big_site: dict[Page, list[Comment]]
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", big_site)
    with ContractServer(batch=False) as server:  # one comment per POST: kills between them
        proxy = KillProxy(server.url).start()
        try:
            config = write_config(
                tmp_path, archive=archive, target={"type": "http", "url": proxy.url}
            )
            kills = crash_until_done(config, proxy, random.Random(1))
        finally:
            proxy.stop()
        assert kills >= MIN_KILLS and proxy.kills >= MIN_KILLS // 2
        assert_http_target_holds(server, big_site)
    assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0


def test_http_batches_survive_sigkill_right_after_the_server_stored_a_batch(
    tmp_path: Path,
) -> None:
    """The kill comes after the server stored a whole batch and before its answer: every
    item of it is in the target, none journaled. Reruns send the same items again with the
    same keys and adopt them."""
    site = threaded_site(pages=6, per_page=150, depth=4)  # batches of 3: 300 POSTs per run
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    with ContractServer(delay=0.005) as server:
        proxy = KillProxy(server.url).start()
        try:
            config = write_config(
                tmp_path,
                archive=archive,
                target={"type": "http", "url": proxy.url, "batch_size": 3},
                run={"workers": 4},
            )
            kills = crash_until_done(config, proxy, random.Random(3))
        finally:
            proxy.stop()
        assert kills >= MIN_KILLS and proxy.kills >= MIN_KILLS // 2
        assert max(server.batch_sizes) == 3  # the comments did travel in batches
        assert_http_target_holds(server, site)
    assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0


def test_sigkill_at_random_instants_with_8_workers_on_one_big_page(tmp_path: Path) -> None:
    """Eight requests of one page in flight when the process dies, at random instants."""
    site = threaded_site(pages=1, per_page=600, depth=4)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    rng = random.Random(4)
    with ContractServer(delay=0.05, batch=False) as server:
        config = write_config(
            tmp_path,
            archive=archive,
            target={"type": "http", "url": server.url},
            run={"workers": 8},
        )
        kills = 0
        for _ in range(12):
            proc = start_run(config)
            timer = kill_later(proc.pid, rng.uniform(0.3, 1.0))
            _, stderr = proc.communicate(timeout=120)
            timer.cancel()
            if proc.returncode == -signal.SIGKILL:
                kills += 1
            else:
                assert proc.returncode == 0, stderr
                break
        assert kills >= 5, f"only {kills} runs were killed"
        proc = start_run(config)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        assert server.max_in_flight_per_page["post0"] > 1
        assert_http_target_holds(server, site)
    assert invoke("checkpoint", "validate", str(tmp_path / "checkpoint.json")).exit_code == 0


def isso_shape(isso: IssoServer, pages: list[Page]) -> Counter[tuple[str, str, str, str | None]]:
    """(page, author, text, parent text) of every comment Isso holds."""
    shape: Counter[tuple[str, str, str, str | None]] = Counter()
    for page in pages:
        flat = isso.comments(page.key)
        by_id = {c["id"]: c for c in flat}
        for c in flat:
            parent = by_id[c["parent"]]["text"] if c.get("parent") else None
            shape[(page.id, c["author"], c["text"], parent)] += 1
    return shape


def expected_isso_shape(
    site: dict[Page, list[Comment]],
) -> Counter[tuple[str, str, str, str | None]]:
    """What Isso must hold: two levels, deeper replies under their top-level ancestor with
    "@whom they answered: " in front."""
    shape: Counter[tuple[str, str, str, str | None]] = Counter()
    for page, comments in site.items():
        by_id = {c.id: c for c in comments}
        parents = expected_parents(comments, max_depth=1)
        texts = {}
        for c in comments:
            attached = parents[c.id]
            direct = by_id.get(c.parent_id) if c.parent_id is not None else None
            moved = direct is not None and c.parent_id != attached
            texts[c.id] = f"@{direct.author.name}: {c.text}" if direct and moved else c.text
        for c in comments:
            attached = parents[c.id]
            parent_text = texts[attached] if attached else None
            shape[(page.id, c.author.name, texts[c.id], parent_text)] += 1
    return shape


@pytest.mark.isso
def test_isso_target_survives_sigkill_at_20_moments(
    tmp_path: Path, big_site: dict[Page, list[Comment]], isso: IssoServer
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", big_site)
    proxy = KillProxy(isso.url).start()
    try:
        config = write_config(tmp_path, archive=archive, target={"type": "isso", "url": proxy.url})
        kills = crash_until_done(config, proxy, random.Random(2))
    finally:
        proxy.stop()
    assert kills >= MIN_KILLS and proxy.kills >= MIN_KILLS // 2
    assert isso_shape(isso, list(big_site)) == expected_isso_shape(big_site)


def test_kills_early_in_a_run_at_start_up_and_first_checkpoint_writes_are_recoverable(
    tmp_path: Path, big_site: dict[Page, list[Comment]]
) -> None:
    archive = make_archive(tmp_path / "site.archive.jsonl", big_site)
    # slow enough that a run lasts past the last kill, now that a page's comments go out
    # side by side
    with ContractServer(delay=0.01, batch=False) as server:
        config = write_config(tmp_path, archive=archive, target={"type": "http", "url": server.url})
        killed = 0
        for delay in (0.05, 0.15, 0.3, 0.45):
            proc = start_run(config)
            kill_later(proc.pid, delay)
            proc.communicate(timeout=60)
            killed += proc.returncode == -signal.SIGKILL
        assert killed == 4, "each early run was killed before it could finish"
        proc = start_run(config)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert_http_target_holds(server, big_site)


@pytest.mark.isso
def test_isso_answer_lost_in_transit_is_not_posted_twice(tmp_path: Path, isso: IssoServer) -> None:
    """POST /new is not idempotent: when Isso stored a comment but its answer was lost, the
    retry must find that comment instead of posting it again (all within one run)."""
    site = threaded_site(pages=2, per_page=12, depth=3)
    archive = make_archive(tmp_path / "site.archive.jsonl", site)
    proxy = KillProxy(isso.url).start()
    proxy.drop_posts = {1, 2, 5, 9, 13, 14, 20}
    try:
        config = write_config(
            tmp_path, archive=archive, target={"type": "isso", "url": proxy.url}, run={"workers": 1}
        )
        code, summary, stderr = run_json(config)
    finally:
        proxy.stop()
    assert code == 0, stderr
    assert proxy.dropped == 7
    assert summary["comments_imported"] == 24
    assert isso_shape(isso, list(site)) == expected_isso_shape(site)
