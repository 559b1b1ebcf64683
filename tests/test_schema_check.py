"""The compiled checks (utils/schema_check.py) say exactly what jsonschema says.

The archive's lines and the checkpoint's snapshot are checked with predicates compiled from
the shipped schemas, and jsonschema runs only to explain a failure: the two must agree on
every record, valid or damaged anywhere, or a bad record would pass unexplained. Records
from a real run are damaged at one place each (a value of every JSON type put anywhere,
a key removed or added) and both verdicts compared. Records drawn at random in every valid
shape are changed a few times each (look-alikes: a bool for an int, 1.0, a str or dict
subclass, a timestamp with a newline; nulls; keys gone or added; wrong nested types)."""

from __future__ import annotations

import inspect
import json
from collections import OrderedDict, defaultdict
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions
from migrate.systems.archive.records import FORMAT, _checks, archive_schema, format_time
from migrate.testing.factories import comment, make_archive, page
from utils.checkpoint.formats import PAGE_STATUSES, checkers, load_schema
from utils.schema_check import SchemaCompiler

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
    copy = deepcopy(document)
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
    assert archive_check(changed) == validator.is_valid(changed), (where, how, changed)


def archive_check(record: Any) -> bool:
    """The reader's test of one archive line: the compiled check of the kind it names."""
    kind = record.get("record") if isinstance(record, dict) else None
    check = _checks().get(kind) if isinstance(kind, str) else None
    return check is not None and check(record)


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


class Text(str):
    """A str subclass: still a string to jsonschema, and so to the compiled checks."""


def lookalikes(value: Any) -> list[Any]:
    """Values a compiled test could confuse with `value`: the same JSON value held in
    another Python type, or a value of another JSON type that looks alike."""
    if isinstance(value, bool):
        return [int(value), float(value), None]
    if isinstance(value, int):
        return [float(value), value + 0.5, value == 1, str(value), -1]
    if isinstance(value, float):
        return [int(value), True]
    if isinstance(value, str):
        # `$` also matches before a final newline, in re and so in jsonschema
        return [Text(value), "", value + "\n", None, [value]]
    if isinstance(value, dict):
        # a defaultdict without one of its keys makes up "" for it when asked
        forgetful = defaultdict(str, list(value.items())[1:])
        return [forgetful, defaultdict(str, value), OrderedDict(value), [*value.values()], None]
    if isinstance(value, list):
        return [tuple(value), [*value, None], {}, None]
    return [False, 0, "", {}]


def at(document: Any, where: tuple[Any, ...]) -> Any:
    for step in where:
        document = document[step]
    return document


def mutations(data: st.DataObject, document: Any) -> list[Any]:
    """Copies of `document`, each changed once at every place (every look-alike of the value
    there, the key removed), then one changed up to three times at random."""
    changed = [
        damaged(document, where, "replace", value)
        for where in paths(document)
        for value in lookalikes(at(document, where))
    ]
    changed += [damaged(document, where, "remove", None) for where in paths(document)[1:]]
    return [*changed, mutated(data, document)]


def mutated(data: st.DataObject, document: Any) -> Any:
    """`document` changed one to three times: replaced by a value of any JSON type or a
    look-alike, removed, or joined by an unexpected key."""
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(document)))
        how = data.draw(st.sampled_from(["replace", "remove", "add", "lookalike"]))
        if how == "lookalike":
            value = data.draw(st.sampled_from(lookalikes(at(document, where))))
            how = "replace"
        else:
            value = data.draw(VALUES)
        document = damaged(document, where, how, value)
    return document


ID = st.text(min_size=1, max_size=6)
TEXT = st.text(max_size=6)
OPTIONAL_TEXT = st.none() | TEXT
# an integer may also be written 1.0 (JSON Schema counts it an integer)
COUNT = st.integers(0, 5) | st.sampled_from([0.0, 1.0, 7.0])
# from year 1000: format_time writes no leading zeros before it (no comment is that old)
TIMESTAMP = st.datetimes(datetime(1000, 1, 1), timezones=st.just(UTC)).map(format_time)
ARCHIVE_RECORDS = st.one_of(
    st.fixed_dictionaries(
        {
            "record": st.just("header"),
            "format": st.just(FORMAT),
            "version": st.sampled_from([1, 1.0]),
            "created_at": TIMESTAMP,
            "source": st.fixed_dictionaries(
                {"system": ID, "identity": st.dictionaries(TEXT, TEXT, max_size=2)}
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "record": st.just("page"),
            **{"id": ID, "uri": TEXT, "title": OPTIONAL_TEXT, "room_id": OPTIONAL_TEXT},
            **{"alias": OPTIONAL_TEXT, "status": st.sampled_from(["ok", "failed"])},
            **{"error": OPTIONAL_TEXT, "retryable": st.booleans(), "comments": COUNT},
            **{"skipped": COUNT, "orphans": st.lists(TEXT, max_size=2)},
        }
    ),
    st.fixed_dictionaries(
        {
            "record": st.just("comment"),
            **{"id": ID, "page_id": ID, "parent_id": st.none() | ID, "text": TEXT},
            "author": st.fixed_dictionaries(
                {"name": TEXT, "source_id": TEXT, "avatar_url": OPTIONAL_TEXT},
                optional={"email": OPTIONAL_TEXT, "url": OPTIONAL_TEXT},
            ),
            **{"html": OPTIONAL_TEXT, "created_at": TIMESTAMP, "deleted": st.booleans()},
            "edited_at": st.none() | TIMESTAMP,
        },
        optional={"status": st.sampled_from(["approved", "pending", "spam"]), "likes": COUNT},
    ),
    st.fixed_dictionaries(
        {"record": st.just("skipped"), "page_id": ID, "event_id": TEXT, "reason": TEXT}
    ),
    st.fixed_dictionaries(
        {"record": st.just("end"), "pages": COUNT, "failed_pages": COUNT}
        | {"comments": COUNT, "skipped": COUNT}
    ),
)

TIME = ID | TIMESTAMP
PAGE_ID = st.none() | TEXT
REVISION = st.text(min_size=1, max_size=6) | st.just("r" * 128)
MEDIA_INFO = st.fixed_dictionaries(
    {"name": ID},
    optional={"content_type": TEXT, "size": COUNT, "sha256": st.just("0a" * 32)},
)
ERROR = st.fixed_dictionaries(
    {"type": TEXT, "message": TEXT, "retryable": st.none() | st.booleans(), "time": TIME}
)
PAGE_STATE = st.fixed_dictionaries(
    {"status": st.sampled_from(PAGE_STATUSES), "attempts": COUNT, "extracted": COUNT}
    | {"imported": COUNT, "skipped": COUNT, "error": st.none() | ERROR, "updated_at": TIME},
    optional={"cursor": st.none() | TEXT, "cursor_ref": ID, "source_media": COUNT},
)


def journal_record(kind: str, optional: dict[str, Any] | None = None, **fields: Any) -> Any:
    """Valid journal records of one kind (seq counts from 1)."""
    common = {"seq": st.integers(1, 9) | st.just(2.0), "kind": st.just(kind), "time": TIME}
    return st.fixed_dictionaries(common | fields, optional=optional or {})


JOURNAL_RECORDS = st.one_of(
    journal_record("start", total_pages=COUNT),
    journal_record("page", page_id=ID, state=PAGE_STATE),
    journal_record("map", {"revision": REVISION}, source_id=ID, target_id=ID, page_id=PAGE_ID),
    journal_record(
        "map_page",
        {"revisions": st.lists(st.none() | REVISION, max_size=2)},
        page_id=PAGE_ID,
        source_ids=st.lists(ID, max_size=2),
        target_ids=st.lists(ID, max_size=2),
    ),
    journal_record("unmap", source_id=ID),
    journal_record("skip", source_id=ID, page_id=PAGE_ID, reason=TEXT),
    journal_record("config", digest=ID, identity=st.dictionaries(TEXT, TEXT, max_size=2)),
    journal_record("meta", key=ID, value=VALUES),
    journal_record("revision", source_id=ID, revision=REVISION),
    journal_record(
        "media",
        mxc=st.builds("mxc://hs.org/{}".format, st.text("aZ09_-", min_size=1)),
        info=MEDIA_INFO,
    ),
    journal_record("sync", info=st.fixed_dictionaries({"at": TIME})),
)
JOURNAL_HEADERS = st.fixed_dictionaries(
    {"kind": st.just("journal"), "format": st.just("comment-migrate-checkpoint")}
    | {"version": st.sampled_from([2, 3, 3.0]), "migration": ID, "snapshot": st.none() | ID}
    | {"base_seq": COUNT}
)
MUTATIONS = settings(max_examples=400, deadline=None)


@MUTATIONS
@given(data=st.data())
def test_archive_checks_agree_with_jsonschema_on_mutated_records(data: st.DataObject) -> None:
    validator = jsonschema.Draft202012Validator(archive_schema())
    record = data.draw(ARCHIVE_RECORDS)
    assert archive_check(record) and validator.is_valid(record), record
    for changed in mutations(data, record):
        expected = validator.is_valid(changed)  # first: a check must not change what it reads
        assert archive_check(changed) == expected, changed


@MUTATIONS
@given(data=st.data())
def test_journal_checks_agree_with_jsonschema_on_mutated_records(data: st.DataObject) -> None:
    schema = load_schema()
    _, record_check, header_check = checkers()
    header = data.draw(st.booleans())
    definition = "journal_header" if header else "journal_record"
    validator = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{definition}"})
    check = header_check if header else record_check
    record = data.draw(JOURNAL_HEADERS if header else JOURNAL_RECORDS)
    assert check(record) and validator.is_valid(record), record
    for changed in mutations(data, record):
        expected = validator.is_valid(changed)  # first: a check must not change what it reads
        assert check(changed) == expected, changed


# every keyword the checker knows, and the edges between them
KEYWORDS = {
    "$defs": {
        "tree": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 3},
                "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}},
                "size": {"type": "number", "minimum": 0.5},
                "tag": {"enum": ["a", "b"]},
                "one": {"oneOf": [{"type": "integer"}, {"minimum": 2}, {"const": "x"}]},
                "two": {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
                "any": {"anyOf": [{"type": "object", "required": ["k"]}, {"const": 3}]},
                "code": {"pattern": "^[0-9]+$"},
            },
            "additionalProperties": {"type": ["boolean", "null"]},
        }
    }
}
KEYWORD_VALUES: list[Any] = [
    {"name": "ab"},
    {"name": ""},
    {"name": "abcd"},
    {"name": Text("ab")},
    defaultdict(str, {"name": "x"}),
    # a required key missing from a dict that makes up missing keys when asked
    defaultdict[str, Any](lambda: "ok", {"size": 1}),
    {"name": "a", "kids": [{"name": "b", "kids": [{"name": "c"}]}]},
    {"name": "a", "kids": [{"name": "b", "kids": [{"name": ""}]}]},
    {"name": "a", "kids": ({"name": ""},)},
    {"name": "a", "size": 0.5},
    {"name": "a", "size": True},
    {"name": "a", "size": 0},
    {"name": "a", "size": "0"},
    {"name": "a", "tag": "b"},
    {"name": "a", "tag": "c"},
    {"name": "a", "one": 1},
    {"name": "a", "one": 2},
    {"name": "a", "one": 2.5},
    {"name": "a", "one": True},
    {"name": "a", "one": "x"},
    {"name": "a", "two": 1},
    {"name": "a", "two": 3},
    {"name": "a", "two": 2.5},
    {"name": "a", "two": "s"},
    {"name": "a", "any": {"k": None}},
    {"name": "a", "any": {}},
    {"name": "a", "any": 3.0},
    {"name": "a", "any": True},
    {"name": "a", "code": "12"},
    {"name": "a", "code": "12\n"},
    {"name": "a", "code": "1a"},
    {"name": "a", "code": 12},
    {"name": "a", "extra": None},
    {"name": "a", "extra": False},
    {"name": "a", "extra": 0},
    ["name"],
    "tree",
    None,
]


@pytest.mark.parametrize("value", KEYWORD_VALUES, ids=repr)
def test_every_keyword_agrees_with_jsonschema(value: Any) -> None:
    validator = jsonschema.Draft202012Validator({**KEYWORDS, "$ref": "#/$defs/tree"})
    check = SchemaCompiler(KEYWORDS).definition("tree")
    expected, before = validator.is_valid(value), deepcopy(value)
    assert check(value) == expected
    assert value == before  # checked, not changed (a defaultdict adds what is asked for)


def test_a_definition_is_one_plain_function_whose_source_can_be_read() -> None:
    compiler = SchemaCompiler(archive_schema())
    check = compiler.definition("comment")
    assert check.__closure__ is None
    assert inspect.getsource(check).startswith("def check_comment(v):")
    assert inspect.getsource(check) in compiler.source
    assert compiler.definition("comment") is check
