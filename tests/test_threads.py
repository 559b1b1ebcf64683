"""The one thread-shape rule for assembling a page from an export read in any order."""

from __future__ import annotations

import dataclasses

import pytest

from migrate.abilities import PageError
from migrate.testing.factories import comment, page
from migrate.threads import assemble_page, depths


def test_children_before_parents_orphans_and_tombstones() -> None:
    read = [
        comment("$reply", "$top", minute=2),  # the file lists it before its parent
        comment("$lost", "$not-in-export", minute=3),
        dataclasses.replace(comment("$top", minute=1), deleted=True),  # a tombstone: replies
        dataclasses.replace(comment("$alone", minute=4), deleted=True),  # no replies
    ]
    result = assemble_page(page(), read)
    assert [c.id for c in result.comments] == ["$top", "$reply", "$lost"]
    assert result.orphans == ["$lost"]
    # top level, the reason recorded; its parent id stays (a twin page may hold the parent)
    assert result.comments[2].parent_id == "$not-in-export"
    assert depths(result.comments)["$lost"] == 0
    assert [(s.event_id, s.reason) for s in result.skipped] == [
        ("$alone", "deleted, and no replies")
    ]


def test_a_parent_cycle_is_refused_with_the_ids_named() -> None:
    read = [comment("$a", "$c"), comment("$b", "$a"), comment("$c", "$b"), comment("$d")]
    with pytest.raises(PageError, match=r"cycle: \$a -> \$c -> \$b -> \$a"):
        assemble_page(page(), read)
