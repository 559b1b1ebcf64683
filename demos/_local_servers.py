"""The servers of demos/end_to_end_local.sh: a real Synapse and a real Isso on 127.0.0.1.

    python demos/_local_servers.py start DIR     # start both, seed a small site, write
                                                 # DIR/migration.toml and DIR/pages.csv
    python demos/_local_servers.py threads DIR   # print the Isso threads of every page
    python demos/_local_servers.py stop DIR      # stop both (by PID; safe to call twice)

`start` leaves both servers running after it exits; their PIDs and URLs are kept in
DIR/servers.json, which `threads` and `stop` read.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import make_sample_site as sample  # noqa: E402  (demos/ is this script's directory)

from migrate.testing.isso import IssoServer  # noqa: E402
from migrate.testing.synapse import SynapseServer  # noqa: E402

# a small site: three pages, one with a conversation six levels deep, an image and an emote
SECTIONS = ("sourdough-starter-week-one", "ramen-from-scratch", "paella-valenciana")


def small_site() -> list[sample.PageSpec]:
    specs = [spec for spec in sample.PAGES if spec.section in SECTIONS]
    return [dataclasses.replace(spec, lines=spec.lines[:4], replies=4) for spec in specs]


def _state_path(directory: Path) -> Path:
    return directory / "servers.json"


def _save(directory: Path, state: dict[str, Any]) -> None:
    _state_path(directory).write_text(json.dumps(state, indent=2), encoding="utf-8")


def _load(directory: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(_state_path(directory).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return state


def start(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {}
    synapse = SynapseServer(directory / "synapse")
    try:
        synapse.start()
        assert synapse.process is not None
        state.update(synapse_pid=synapse.process.pid, synapse_url=synapse.url)
        _save(directory, state)
        print(f"Synapse is running on {synapse.url} (pid {synapse.process.pid})")

        specs = small_site()
        plans = sample.plan_site(specs, spam=False)
        events = sample.seed_site(synapse, sample.SITE, plans)
        sample.write_pages_file(directory / "pages.csv", specs)
        print(
            f"Seeded the site {sample.SITE!r}: {len(specs)} pages, {events} events "
            "(comments, replies, edits, deletions, reactions), dated 2019..2024"
        )

        # Isso drops <img> unless told to show it: a site with image comments needs this
        # (without it, `verify` reports each image as one readers cannot see)
        isso = IssoServer(
            directory / "isso",
            markup__allowed_elements="img",
            markup__allowed_attributes="src, alt, title",
        ).start()
        assert isso.process is not None
        state.update(
            isso_pid=isso.process.pid, isso_url=isso.url, uris=[spec.uri for spec in specs]
        )
        _save(directory, state)
        print(f"Isso is running on {isso.url} (pid {isso.process.pid})")
    except BaseException:
        stop(directory)
        synapse.stop()
        raise

    (directory / "migration.toml").write_text(
        textwrap.dedent(f"""\
        [source]
        type = "matrix"
        homeserver = "{synapse.url}"
        server_name = "{synapse.server_name}"
        site = "{sample.SITE}"
        discover = "pages_file"
        pages_file = "pages.csv"
        # unset: read as a guest, as the Cactus web client does
        token_env = "END_TO_END_DEMO_MATRIX_TOKEN"

        [target]
        type = "isso"
        url = "{isso.url}"

        [run]
        checkpoint = ".migration_checkpoint.json"
        workers = 2
        """),
        encoding="utf-8",
    )
    print(f"Wrote {directory / 'migration.toml'} and {directory / 'pages.csv'}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie is as good as gone


def stop(directory: Path) -> None:
    state = _load(directory)
    for name in ("isso", "synapse"):
        pid = state.get(f"{name}_pid")
        if not isinstance(pid, int) or not _alive(pid):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        print(f"stopped {name} (pid {pid})")


def threads(directory: Path) -> int:
    """Every page's thread as Isso serves it (GET /?uri=...&plain=1), as an indented tree."""
    state = _load(directory)
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy
    total = 0
    for uri in state["uris"]:
        response = session.get(
            state["isso_url"] + "/", params={"uri": uri, "plain": "1"}, timeout=10
        )
        response.raise_for_status()
        thread = response.json()
        print(f"\nGET /?uri={uri}&plain=1  ({thread.get('total_replies', '?')} comments)")
        total += _print_replies(thread.get("replies") or [], indent=1)
    print(f"\n{total} comments in Isso")
    return 0


def _print_replies(replies: list[dict[str, Any]], indent: int) -> int:
    count = 0
    for comment in replies:
        text = " ".join(str(comment.get("text") or "").split())
        head = f"{'    ' * indent}#{comment['id']} {comment.get('author') or 'anonymous'}: "
        width = max(30, 100 - len(head))
        print(head + (text if len(text) <= width else text[: width - 3] + "..."))
        count += 1 + _print_replies(comment.get("replies") or [], indent + 1)
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "threads", "stop"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    if args.command == "start":
        start(args.directory)
        return 0
    if args.command == "threads":
        return threads(args.directory)
    stop(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
