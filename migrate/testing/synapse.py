"""A real Synapse homeserver for tests, demos and benchmarks (loopback only).

Importable without pytest::

    from migrate.testing.synapse import SynapseServer
    server = SynapseServer(tmp_dir).start()
    room_id = server.create_comment_room("blog", "post1")
    server.send_message(room_id, {"msgtype": "m.text", "body": "hi"},
                        user_id=server.user_id("cactus_alice"), ts=1_500_000_000_000)
    server.stop()

Rooms are made the way the Cactus appservice makes them: created by the appservice's own user
(`@cactusbot:localhost`) with the alias `#{prefix}{site}_{section}:localhost`, world_readable
and guest-joinable. Messages are sent through the appservice, which may act as any user of the
server (`?user_id=`) and backdate events (`?ts=`), so fixtures can hold years-old comments and
thousands of events without tripping rate limits.

The process itself (configuration, start and stop, requests, users) is SynapseProcess in
migrate.testing.synapse_process; the pytest fixture `synapse` lives in tests/servers/synapse.py.
"""

from __future__ import annotations

import contextlib
import html as html_lib
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from migrate.testing.synapse_process import (
    AS_SENDER,
    SERVER_NAME,
    SynapseError,
    SynapseProcess,
    free_port,
)
from migrate.testing.synapse_process import quoted as _q

__all__ = [
    "AS_SENDER",
    "SERVER_NAME",
    "SynapseError",
    "SynapseProcess",
    "SynapseServer",
    "free_port",
    "running_synapse",
]


class SynapseServer(SynapseProcess):
    """A Synapse seeded the way Cactus Comments fills it: comment rooms, comments and replies
    as Matrix clients send them, per-room names, redactions, media."""

    # -- rooms -----------------------------------------------------------------------------

    def set_room_displayname(self, room_id: str, user_id: str, name: str | None) -> str:
        """A per-room name (a new m.room.member state event, in the timeline at once)."""
        self.join(room_id, user_id)
        content: dict[str, Any] = {"membership": "join"}
        if name is not None:
            content["displayname"] = name
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.member/{_q(user_id)}"
        return str(self.as_call("PUT", path, user_id=user_id, body=content)["event_id"])

    def create_comment_room(
        self,
        site: str,
        section: str | None,
        prefix: str = "comments_",
        *,
        world_readable: bool = True,
    ) -> str:
        """A Cactus-like room; `section=None` makes the site's moderation room."""
        alias_name = f"{prefix}{site}" + (f"_{section}" if section is not None else "")
        visibility = "world_readable" if world_readable else "shared"
        body = {
            "room_alias_name": alias_name,
            "room_version": "10",  # classic !id:server room ids
            "preset": "public_chat",
            "name": f"Comments on {site}/{section}" if section else f"{site} moderation",
            "initial_state": [
                # before any message: events sent earlier stay hidden from non-members
                {
                    "type": "m.room.history_visibility",
                    "state_key": "",
                    "content": {"history_visibility": visibility},
                },
                {
                    "type": "m.room.guest_access",
                    "state_key": "",
                    "content": {"guest_access": "can_join"},
                },
            ],
        }
        room_id = str(self.as_call("POST", "/_matrix/client/v3/createRoom", body=body)["room_id"])
        with self._lock:
            self._joined.add((room_id, self.appservice_user_id))
        return room_id

    def alias(self, site: str, section: str, prefix: str = "comments_") -> str:
        return f"#{prefix}{site}_{section}:{SERVER_NAME}"

    def join(self, room_id: str, user_id: str) -> None:
        with self._lock:
            if (room_id, user_id) in self._joined:
                return
        self.ensure_user(user_id)
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/join"
        self.as_call("POST", path, user_id=user_id, body={})
        with self._lock:
            self._joined.add((room_id, user_id))

    def send_event(
        self,
        room_id: str,
        event_type: str,
        content: Any,
        user_id: str | None = None,
        ts: int | None = None,
        *,
        raw_body: bytes | None = None,
    ) -> str:
        """Send any event (content may be malformed: Synapse checks little); returns its id."""
        user_id = user_id or self.appservice_user_id
        self.join(room_id, user_id)
        params = {"ts": ts} if ts is not None else {}
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/send/{_q(event_type)}/{self.next_txn()}"
        result = self.as_call(
            "PUT",
            path,
            user_id=user_id,
            params=params,
            body=None if raw_body is not None else content,
            raw_body=raw_body,
        )
        return str(result["event_id"])

    def send_message(
        self,
        room_id: str,
        content: Any,
        user_id: str | None = None,
        ts: int | None = None,
    ) -> str:
        """An m.room.message, through the appservice (so `ts` may backdate it)."""
        return self.send_event(room_id, "m.room.message", content, user_id, ts)

    def send_messages(
        self,
        room_id: str,
        messages: Iterable[tuple[Mapping[str, Any], str | None, int | None]],
        *,
        concurrency: int = 8,
    ) -> list[str]:
        """Bulk seeding: (content, user_id, ts) triples sent concurrently. Event ids come back
        in input order; timeline order may differ, so give each a distinct `ts`."""
        items = list(messages)
        for user in {u for _, u, _ in items if u}:
            self.join(room_id, user)  # joins first, so the pool only sends messages
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda m: self.send_message(room_id, m[0], m[1], m[2]), items))

    def upload_media(
        self,
        data: bytes,
        content_type: str,
        filename: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """`POST /_matrix/media/v3/upload` as `user_id` (the appservice by default): mxc://."""
        params: dict[str, Any] = {"filename": filename} if filename else {}
        if user_id:
            self.ensure_user(user_id)
            params["user_id"] = user_id
        response = self.session().post(
            self.url + "/_matrix/media/v3/upload",
            params=params,
            data=data,
            timeout=60,
            headers={
                "Authorization": f"Bearer {self.appservice_token}",
                "Content-Type": content_type,
            },
        )
        if response.status_code != 200:
            raise SynapseError(
                f"upload -> {response.status_code}: {response.text}",
                response.status_code,
                response.text,
            )
        return str(response.json()["content_uri"])

    def event(self, room_id: str, event_id: str) -> dict[str, Any]:
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/event/{_q(event_id)}"
        result: dict[str, Any] = self.as_call("GET", path)
        return result

    # -- Element-style events (the shapes Matrix clients send) ----------------------------

    def send_cactus_comment(
        self,
        room_id: str,
        markdown: str,
        html: str,
        user_id: str,
        ts: int | None = None,
    ) -> str:
        """What the Cactus web client sends: the Markdown typed, and the HTML rendered."""
        content = {
            "msgtype": "m.text",
            "body": markdown,
            "format": "org.matrix.custom.html",
            "formatted_body": html,
        }
        return self.send_message(room_id, content, user_id, ts)

    def reply_content(
        self,
        room_id: str,
        parent_id: str,
        body: str,
        html: str | None = None,
        *,
        fallback: bool = True,
        thread_root: str | None = None,
        falling_back: bool = False,
    ) -> dict[str, Any]:
        """A reply as Element builds it: `m.in_reply_to`, and (unless `fallback` is False, as
        MSC2781 clients send) the quoted parent in `body` (`> <@sender> ...`) and in
        `formatted_body` (`<mx-reply>`); with `thread_root`, inside an `m.thread` relation
        (`falling_back`: the reply only points older clients at the thread's latest event)."""
        parent = self.event(room_id, parent_id)
        sender = parent["sender"]
        parent_body = str(parent["content"].get("body", ""))
        parent_html = parent["content"].get("formatted_body") or html_lib.escape(parent_body)
        own_html = html if html is not None else html_lib.escape(body)
        content: dict[str, Any] = {
            "msgtype": "m.text",
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": own_html,
        }
        if fallback:
            quoted = "\n".join(
                (f"> <{sender}> {line}" if i == 0 else f"> {line}")
                for i, line in enumerate(parent_body.split("\n"))
            )
            content["body"] = f"{quoted}\n\n{body}"
            content["formatted_body"] = (
                f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{parent_id}">'
                f'In reply to</a> <a href="https://matrix.to/#/{sender}">{sender}</a><br>'
                f"{parent_html}</blockquote></mx-reply>{own_html}"
            )
        relates: dict[str, Any] = {"m.in_reply_to": {"event_id": parent_id}}
        if thread_root is not None:
            relates = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": falling_back,
                **relates,
            }
        content["m.relates_to"] = relates
        return content

    def redact(
        self,
        room_id: str,
        event_id: str,
        reason: str | None = None,
        user_id: str | None = None,
    ) -> str:
        user_id = user_id or self.appservice_user_id
        path = f"/_matrix/client/v3/rooms/{_q(room_id)}/redact/{_q(event_id)}/{self.next_txn()}"
        body = {"reason": reason} if reason else {}
        return str(self.as_call("PUT", path, user_id=user_id, body=body)["event_id"])

    def room_id_for(self, alias: str) -> str:
        return str(self.call("GET", f"/_matrix/client/v3/directory/room/{_q(alias)}")["room_id"])


@contextlib.contextmanager
def running_synapse(**kwargs: Any) -> Iterator[SynapseServer]:
    """A throwaway server in a temp folder (benchmarks, demos, one-off tests)."""
    with tempfile.TemporaryDirectory(prefix="synapse-") as tmp:
        server = SynapseServer(Path(tmp), **kwargs)
        try:
            yield server.start()
        finally:
            server.stop()
