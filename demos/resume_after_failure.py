"""A migration that fails on two pages, `status` naming them, and the rerun that finishes them.

The target is a custom comment API (the HTTP contract, served in-process on 127.0.0.1 by
migrate/testing/contract.py) with an over-eager spam filter: on two pages it refuses every
comment after the fifth. The first `comment-migrate run` exits 3 with those pages failed
(their first comments are already in the target), `comment-migrate status` shows them with
the server's message, the filter is relaxed, and the second run imports only what is missing:
in the end every comment of the sample site is in the target exactly once, under its parent.

    python demos/resume_after_failure.py
"""

from __future__ import annotations

import collections
import contextlib
import importlib.resources
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from migrate.systems.archive import ArchiveSource  # noqa: E402
from migrate.testing.contract import ContractServer  # noqa: E402

FLAGGED_PAGES = ("lisbon-in-three-days", "tokyo-on-a-budget")
ALLOWED_PER_PAGE = 5


class SpamFilter:
    """Refuses the sixth and later comments on the flagged pages (a 400 with a message)."""

    def __init__(self, pages: Sequence[str], allowed: int) -> None:
        self.pages = set(pages)
        self.allowed = allowed
        self.seen: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str | None:
        page = str(body["page"]["id"])
        if page not in self.pages:
            return None
        with self._lock:
            self.seen[page] += 1
            if self.seen[page] <= self.allowed:
                return None
        return (
            f"spam filter: more than {self.allowed} comments a minute on one page looks like a bot"
        )


def abridged(lines: list[str], keep: int = 2) -> list[str]:
    """The output with the list of skipped events (reactions, deleted comments) cut short."""
    skipped = [line for line in lines if line.lstrip().startswith(("skipped ", "... and "))]
    out = [line for line in lines if line not in skipped[keep:]]
    if len(skipped) > keep:
        out.insert(
            out.index(skipped[keep - 1]) + 1,
            f"  [{len(skipped) - keep} more 'skipped' lines cut from this demo]",
        )
    return out


def cli(workdir: Path, *args: str) -> int:
    """Run comment-migrate as a site owner would, and show what they would see."""
    print(f"$ comment-migrate {' '.join(args)}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["NO_PROXY"] = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1"]))
    done = subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    for line in abridged(done.stdout.rstrip().splitlines()):
        print(line)
    print(f"(exit status {done.returncode})\n")
    return done.returncode


def check_target(server: ContractServer, archive: ArchiveSource) -> list[str]:
    """Problems with what the target holds: missing, duplicated or misplaced comments."""
    expected = {c.id: c for page in archive.pages() for c in archive.comments(page).comments}
    held: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for item in server.comments:
        held[item["source"]["id"]].append(item)
    problems = [
        f"{sid} is there {len(items)} times" for sid, items in held.items() if len(items) > 1
    ]
    problems += [f"{sid} is missing" for sid in expected.keys() - held.keys()]
    problems += [f"{sid} was never in the source" for sid in held.keys() - expected.keys()]
    source_of = {items[0]["id"]: sid for sid, items in held.items()}
    for sid, items in held.items():
        comment = expected.get(sid)
        parent = source_of.get(items[0]["parent_id"]) if items[0]["parent_id"] else None
        if comment is not None and parent != comment.parent_id:
            problems.append(f"{sid} hangs under {parent}, not under {comment.parent_id}")
    return problems


def main() -> int:
    resource = importlib.resources.files("migrate") / "sample" / "site.archive.jsonl"
    with contextlib.ExitStack() as stack:
        archive_path = stack.enter_context(importlib.resources.as_file(resource))
        archive = ArchiveSource(archive_path)
        total = sum(len(archive.comments(p).comments) for p in archive.pages())
        spam_filter = SpamFilter(FLAGGED_PAGES, ALLOWED_PER_PAGE)
        server = stack.enter_context(ContractServer(refuse_if=spam_filter))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="resume-demo-")))
        (workdir / "migration.toml").write_text(
            "[source]\n"
            'type = "archive"\n'
            f'path = "{archive_path.as_posix()}"\n\n'
            "[target]\n"
            'type = "http"\n'
            f'url = "{server.url}"\n\n'
            "[run]\n"
            'checkpoint = ".migration_checkpoint.json"\n'
            "workers = 4\n",
            encoding="utf-8",
        )
        print(f"The sample site: {total} comments on {len(list(archive.pages()))} pages.")
        print(
            f"Target: a custom comment API on {server.url}, whose spam filter refuses "
            f"more than {ALLOWED_PER_PAGE} comments on {' and '.join(FLAGGED_PAGES)}.\n"
        )

        first = cli(workdir, "run")
        status = cli(workdir, "status")
        before = len(server.comments)
        print(f"The target now holds {before} of {total} comments.")
        print("Fixing the cause: the spam filter is switched off for the import.\n")
        server.refuse_if = None
        posts = server.posts
        second = cli(workdir, "run")
        cli(workdir, "status")

        problems = check_target(server, archive)
        sent_again = server.posts - posts - (total - before)
        print(f"First run: exit {first}; status: exit {status}; rerun: exit {second}.")
        print(
            f"The rerun sent {server.posts - posts} comments: the {total - before} missing "
            f"ones" + (f" and {sent_again} more" if sent_again else "") + "."
        )
        if problems or (first, status, second) != (3, 3, 0) or len(server.comments) != total:
            print("UNEXPECTED:", *problems[:20], sep="\n  ")
            return 1
        print(
            f"Checked: {len(server.comments)} comments in the target, {total} in the source, "
            "no duplicates, none missing, every reply under its parent."
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
