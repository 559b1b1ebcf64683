"""The compiled checks (utils/schema_check.py) say exactly what jsonschema says.

The archive's lines and the checkpoint's snapshot are checked with predicates compiled from
the shipped schemas, and jsonschema runs only to explain a failure: the two must agree on
every record, valid or damaged anywhere, or a bad record would pass unexplained. Records
from a real run are damaged at one place each (a value of every JSON type put anywhere,
a key removed or added) and both verdicts compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.systems.archive.records import _checks, archive_schema
from migrate.testing.factories import comment, make_archive, page
from utils.checkpoint.formats import checkers, load_schema

# values of every JSON type, and the look-alikes a predicate could confuse (a bool is no
# integer, 1.0 is one, an empty string is no id, a timestamp without its Z is none)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from([1.0, 0.5, -1.0]),
    st.sampled_from(
        [
            "",
            "x",
            "comment",
            "page",
            "approved",
            "spam",
            "2021-03-14T15:09:26Z",
            "2021-03-14T15:09:26.123Z",
            "2021-03-14 15:09:26",
        ]
    ),
    st.just([]),
    st.just(["x"]),
    st.just([1]),
    st.just({}),
    st.just({"name": "x", "source_id": "y", "avatar_url": None}),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as a tuple of keys and indexes."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def damaged(document: Any, where: tuple[Any, ...], how: str, value: Any) -> Any:
    """A copy of `document` with one change at `where`: replaced, removed, or a key added."""
    copy = json.loads(json.dumps(document))
    if not where:
        return value if how == "replace" else copy
    holder = copy
    for step in where[:-1]:
        holder = holder[step]
    last = where[-1]
    if how == "remove" and isinstance(holder, dict):
        del holder[last]
    elif how == "add" and isinstance(holder, dict):
        holder["unexpected"] = value
    else:
        holder[last] = value
    return copy


def damage_drawn(data: st.DataObject, document: Any) -> tuple[tuple[Any, ...], str, Any]:
    """One change drawn for `document`: where, how, and the changed copy."""
    where = data.draw(st.sampled_from(paths(document)))
    how = data.draw(st.sampled_from(["replace", "remove", "add"]))
    return where, how, damaged(document, where, how, data.draw(VALUES))


# a fixture shared by many examples: it is only read
AGREEMENT = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], Any]:
    """The lines of a real archive and the snapshot of a real checkpoint."""
    folder = tmp_path_factory.mktemp("schema")
    pg, other = page("post1"), page("post2")
    site = {
        pg: [
            comment("$a:h", text="first", html="<p>first</p>"),
            comment("$b:h", "$a:h", minute=1, text="a reply"),
        ],
        other: [comment("$c:h", minute=2, text="elsewhere", page="post2")],
    }
    archive = make_archive(folder / "site.archive.jsonl", site)
    checkpoint = folder / "cp.json"
    Migration(ArchiveSource(archive), JsonlTarget(folder / "out.jsonl"), checkpoint=checkpoint).run(
        RunOptions(quiet=True)
    )
    lines = [json.loads(line) for line in archive.read_text("utf-8").splitlines()]
    return lines, json.loads(checkpoint.read_text("utf-8"))


@AGREEMENT
@given(data=st.data())
def test_archive_checks_agree_with_jsonschema(
    run_files: tuple[list[Any], Any], data: st.DataObject
) -> None:
    lines, _ = run_files
    validator = jsonschema.Draft202012Validator(archive_schema())
    where, how, changed = damage_drawn(data, data.draw(st.sampled_from(lines)))
    kind = changed.get("record") if isinstance(changed, dict) else None
    check = _checks().get(kind) if isinstance(kind, str) else None
    compiled = check is not None and check(changed)
    assert compiled == validator.is_valid(changed), (where, how, changed)


@AGREEMENT
@given(data=st.data())
def test_snapshot_check_agrees_with_jsonschema(
    run_files: tuple[list[Any], Any], data: st.DataObject
) -> None:
    _, snapshot = run_files
    validator = jsonschema.Draft202012Validator(load_schema())
    where, how, changed = damage_drawn(data, snapshot)
    snapshot_check, _, _ = checkers()
    assert snapshot_check(changed) == validator.is_valid(changed), (where, how)


def test_the_undamaged_files_pass_both(run_files: tuple[list[Any], Any], tmp_path: Path) -> None:
    lines, snapshot = run_files
    archive_validator = jsonschema.Draft202012Validator(archive_schema())
    for record in lines:
        assert archive_validator.is_valid(record) and _checks()[record["record"]](record)
    assert jsonschema.Draft202012Validator(load_schema()).is_valid(snapshot)
    assert checkers()[0](snapshot)
