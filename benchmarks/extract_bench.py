"""Extraction speed: MatrixCommentExtractor against a bare requests loop over /messages.

One room with 5,000 comments on a local Synapse (started with the test fixture's code).
The two are alternated several times in the same run and the medians compared; seeding is
not timed. The last stdout line is a JSON object:
{"ratio_vs_raw": ours/raw (events per second), "events_per_second": ours, ...}.

    python benchmarks/extract_bench.py [--comments 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrate.systems.matrix import MESSAGES_FILTER, MatrixCommentExtractor
from migrate.testing.synapse import SynapseServer, running_synapse


def seed(server: SynapseServer, count: int) -> str:
    room = server.create_comment_room("bench", "long")
    users = [f"@cactus_b{n}:localhost" for n in range(20)]
    start = 1_400_000_000_000
    messages = [
        (
            {"msgtype": "m.text", "body": f"comment number {n} " + "lorem ipsum " * (n % 7)},
            users[n % 20],
            start + n * 1000,
        )
        for n in range(count)
    ]
    server.send_messages(room, messages, concurrency=32)
    return room


def raw_loop(url: str, room: str, token: str) -> int:
    """The floor: page through /messages with limit=1000 and the extractor's filter (the same
    request, so the ratio measures our work, not the server's), parse the JSON, nothing else."""
    session = requests.Session()
    session.trust_env = False
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, str | int] = {"dir": "f", "limit": 1000, "filter": MESSAGES_FILTER}
    events = 0
    while True:
        data = session.get(
            f"{url}/_matrix/client/v3/rooms/{room}/messages",
            params=params,
            headers=headers,
            timeout=60,
        ).json()
        events += len(data["chunk"])
        if "end" not in data:
            session.close()
            return events
        params["from"] = data["end"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with running_synapse() as server:
        began = time.perf_counter()
        room = seed(server, args.comments)
        seed_seconds = time.perf_counter() - began
        print(f"seeded {args.comments} comments in {seed_seconds:.1f}s", file=sys.stderr)
        token = server.register_guest()
        extractor = MatrixCommentExtractor(
            homeserver=server.url,
            site="bench",
            server_name="localhost",
            token=token,
            discover="admin",
        )  # pages() unused
        extractor.check()
        page = extractor.page_for("long")
        events = raw_loop(server.url, room, token)  # warm-up (caches), not timed
        raw_times: list[float] = []
        our_times: list[float] = []
        comments = 0
        for _ in range(args.rounds):
            began = time.perf_counter()
            events = raw_loop(server.url, room, token)
            raw_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            comments = len(extractor.comments(page).comments)
            our_times.append(time.perf_counter() - began)
        extractor.close()
    if comments != args.comments:
        raise SystemExit(f"extracted {comments} comments, seeded {args.comments}")
    raw_rate = events / statistics.median(raw_times)
    our_rate = events / statistics.median(our_times)
    print(
        f"raw loop: {raw_rate:.0f} events/s; extractor: {our_rate:.0f} events/s "
        f"(medians of {args.rounds})",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "ratio_vs_raw": round(our_rate / raw_rate, 3),
                "events_per_second": round(our_rate, 1),
                "raw_events_per_second": round(raw_rate, 1),
                "events": events,
                "comments": comments,
                "rounds": args.rounds,
                "raw_seconds": [round(t, 3) for t in raw_times],
                "extractor_seconds": [round(t, 3) for t in our_times],
                "seed_seconds": round(seed_seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
