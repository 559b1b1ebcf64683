"""A page's rooms: the room its alias names, the rooms that one was upgraded to, and the rooms
it replaced; a page's comments are those of the whole chain, oldest room first.

A room upgrade (`POST /rooms/{id}/upgrade`) leaves an `m.room.tombstone` in the old room naming
the new one (`replacement_room`), and starts the new room with an `m.room.create` naming its
`predecessor`. A room of the chain that this account cannot read (purged, or no longer
world_readable) ends the chain there: its comments are not read, and since only the source's
own deletion records delete (migrate.pipeline.changes), those already migrated stay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from migrate.systems.matrix.client import HomeserverClient

log = logging.getLogger(__name__)

MAX_ROOMS = 20  # upgrades of one page's room; a longer chain is a loop someone made


def _room_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("!") else None


def newest_room(client: HomeserverClient, room_id: str, label: str) -> str:
    """The room `room_id` was last upgraded to (itself when it has no readable successor)."""
    chain = [room_id]
    while len(chain) < MAX_ROOMS:
        tombstone = client.room_state(chain[-1], "m.room.tombstone", label)
        successor = _room_id(tombstone.get("replacement_room")) if tombstone else None
        if successor is None or successor in chain:
            break
        if client.room_state(successor, "m.room.create", label) is None:
            log.warning("%s: room %s was replaced by %s, which cannot be read", label,
                        chain[-1], successor)  # fmt: skip
            break
        chain.append(successor)
    return chain[-1]


def room_chain(client: HomeserverClient, newest: str, label: str) -> list[str]:
    """`newest` and the readable rooms it replaced, oldest first."""
    chain = [newest]
    create = client.room_state(newest, "m.room.create", label)
    while create is not None and len(chain) < MAX_ROOMS:
        before = create.get("predecessor")
        older = _room_id(before.get("room_id")) if isinstance(before, Mapping) else None
        if older is None or older in chain:
            break
        create = client.room_state(older, "m.room.create", label)
        if create is None:
            log.warning("%s: the earlier room %s cannot be read; its comments stay as "
                        "they were migrated", label, older)  # fmt: skip
            break
        chain.append(older)
    return chain[::-1]
