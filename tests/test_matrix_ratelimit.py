"""429 M_LIMIT_EXCEEDED from a real Synapse with low rate limits (its own short-lived server).

Synapse rate-limits sending (rc_message) and registration (rc_registration), not /messages:
the extractor meets 429s when it registers guests, and the shared HTTP client meets them when
posting. Both go through the one retry policy (utils/retry.py), which must wait as asked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.systems.matrix import MatrixCommentExtractor
from tests.servers.synapse import SynapseServer
from utils.http import HttpClient
from utils.retry import RetryPolicy

pytestmark = pytest.mark.synapse


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)  # really wait: the server only lets us through afterwards


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    server = SynapseServer(
        tmp_path_factory.mktemp("synapse-limited"),
        rc_message={"per_second": 5, "burst_count": 2},
        rc_registration={"per_second": 5, "burst_count": 1},
    )
    with server:
        yield server


def test_guest_registration_429_is_waited_out(limited: SynapseServer, tmp_path: Path) -> None:
    room = limited.create_comment_room("rl", "p")
    limited.send_message(room, {"msgtype": "m.text", "body": "hello"}, "@cactus_a:localhost")
    pages = tmp_path / "pages.csv"
    pages.write_text("p\n")
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=8, base_wait=0.0, max_wait=0.0, sleep=sleep)
    texts = []
    for _ in range(3):  # each registers a guest: burst 1, so the later ones get 429 first
        extractor = MatrixCommentExtractor(
            homeserver=limited.url,
            site="rl",
            server_name="localhost",
            pages_file=pages,
            policy=policy,
        )
        page = next(extractor.pages())
        texts.append([c.text for c in extractor.comments(page).comments])
        extractor.close()
    assert texts == [["hello"]] * 3
    assert sleep.waits, "no 429 was met: the limit is not low enough for this test"
    # base_wait 0: every wait comes from the server's Retry-After / retry_after_ms
    assert all(0 < w <= 1.0 for w in sleep.waits)


def test_message_429_honoured_by_the_shared_client(limited: SynapseServer) -> None:
    user_id, token = limited.register_user("sender")
    room = limited.create_comment_room("rl", "q")
    limited.join(room, user_id)
    sleep = RecordingSleep()
    client = HttpClient(
        limited.url,
        token=token,
        policy=RetryPolicy(max_attempts=8, base_wait=0.0, max_wait=0.0, sleep=sleep),
    )
    for n in range(4):
        client.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/rl{n}",
            json_body={"msgtype": "m.text", "body": f"m{n}"},
        )
    assert sleep.waits  # burst 2: the third message is refused first
    # base_wait 0: the wait is the server's (Synapse sends Retry-After in whole seconds)
    assert all(w > 0 for w in sleep.waits)
