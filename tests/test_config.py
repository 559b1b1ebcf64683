"""migration.toml: validation errors name the file and the key; secrets only from env."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.config import TEMPLATE, Config, load_config
from migrate.errors import ConfigError
from migrate.migration import Migration
from migrate.pages import templated_key

GOOD = """
[source]
type = "matrix"
homeserver = "https://matrix.example.org/"
site = "myblog"
pages_file = "pages.csv"

[target]
type = "http"
url = "https://comments.example.org"

[run]
workers = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "migration.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    identity = Migration.from_config(config).identity
    assert identity["source.homeserver"] == "https://matrix.example.org"
    assert identity["source.server_name"] == "matrix.example.org"  # default: the homeserver host
    assert identity["source.prefix"] == "comments_"
    assert config.source.path("pages_file") == tmp_path / "pages.csv"  # relative to the config
    assert config.run.workers == 2
    assert config.run.checkpoint == tmp_path / ".migration_checkpoint.json"


def test_template_is_a_valid_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TEMPLATE))
    assert isinstance(config, Config)
    assert config.target.type == "http"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('type = "http"', 'type = "ftp"'), "target.type must be one of"),
        (GOOD.replace('site = "myblog"\n', ""), "key source.site is required"),
        (GOOD.replace('site = "myblog"', 'site = "my_blog"'), "key source.site 'my_blog'"),
        (GOOD.replace("workers = 2", "workers = 0"), "key run.workers"),
        (GOOD.replace("workers = 2", "wrokers = 2"), "key run.wrokers is not a known key"),
        (GOOD.replace('url = "https://comments.example.org"', ""), "key target.url is required"),
        (GOOD + "\n[extra]\n", "key extra is not a known key"),
        (GOOD.replace('pages_file = "pages.csv"\n', ""), "source.pages_file is required"),
        ("[source\n", "invalid TOML"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="comment-migrate init"):
        load_config(tmp_path / "nope.toml")


def test_tokens_come_only_from_the_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(
        write(
            tmp_path,
            GOOD.replace('site = "myblog"', 'site = "myblog"\ntoken_env = "MY_MATRIX_TOKEN"'),
        )
    )
    monkeypatch.delenv("MY_MATRIX_TOKEN", raising=False)
    assert config.source.token("MATRIX_ACCESS_TOKEN") is None
    monkeypatch.setenv("MY_MATRIX_TOKEN", "")  # empty means "read as a guest"
    assert config.source.token("MATRIX_ACCESS_TOKEN") is None
    monkeypatch.setenv("MY_MATRIX_TOKEN", "syt_secret")
    assert config.source.token("MATRIX_ACCESS_TOKEN") == "syt_secret"
    # the secret is in no part of what identifies the migration
    assert (
        "syt_secret"
        not in repr(Migration.from_config(config).identity) + Migration.from_config(config).digest
    )


def test_a_token_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source\.token is not a known key"):
        load_config(
            write(tmp_path, GOOD.replace('site = "myblog"', 'site = "myblog"\ntoken = "syt_x"'))
        )


def test_digest_covers_identity_not_tuning(tmp_path: Path) -> None:
    base = Migration.from_config(load_config(write(tmp_path, GOOD))).digest
    tuned = load_config(write(tmp_path, GOOD.replace("workers = 2", "workers = 8\ntimeout = 5")))
    assert Migration.from_config(tuned).digest == base
    other_site = load_config(write(tmp_path, GOOD.replace('"myblog"', '"otherblog"')))
    assert Migration.from_config(other_site).digest != base
    other_target = load_config(write(tmp_path, GOOD.replace("comments.example", "new.example")))
    assert Migration.from_config(other_target).digest != base


def test_the_identity_of_a_migration_is_the_one_checkpoints_of_version_one_recorded(
    tmp_path: Path,
) -> None:
    """The identity computed from the objects is the one checkpoints of version one recorded
    through the CLI: a checkpoint made before must still match."""
    config = load_config(write(tmp_path, GOOD))
    assert Migration.from_config(config).identity == {
        "source.type": "matrix",
        "target.type": "http",
        "source.homeserver": "https://matrix.example.org",
        "source.server_name": "matrix.example.org",
        "source.site": "myblog",
        "source.prefix": "comments_",
        "target.url": "https://comments.example.org",
    }
    wxr = load_config(
        write(
            tmp_path,
            GOOD.replace(
                'type = "http"\nurl = "https://comments.example.org"',
                'type = "wxr"\noutput = "c.wxr"',
            ),
        )
    )
    assert Migration.from_config(wxr).identity["target.output"] == str(tmp_path / "c.wxr")
    assert "target.url" not in Migration.from_config(wxr).identity


def test_a_migration_is_the_same_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd demo && comment-migrate run` and `comment-migrate run -c demo/migration.toml`
    are one migration (paths identify it, absolute)."""
    from tests.factories import make_archive, threaded_site

    (tmp_path / "demo").mkdir()
    make_archive(tmp_path / "demo" / "a.jsonl", threaded_site(pages=1, per_page=2))
    files = '[source]\ntype = "archive"\npath = "a.jsonl"\n'
    files += '[target]\ntype = "jsonl"\noutput = "o.jsonl"\n'
    write(tmp_path / "demo", files)
    monkeypatch.chdir(tmp_path)
    outside = Migration.from_config(load_config("demo/migration.toml")).digest
    monkeypatch.chdir(tmp_path / "demo")
    inside = Migration.from_config(load_config("migration.toml")).digest
    assert outside == inside


def test_every_problem_is_reported_at_once_with_the_near_key(tmp_path: Path) -> None:
    """One round of editing, not one per key: each unknown key with the key it is
    closest to, each missing one, in one error."""
    text = (
        GOOD.replace("workers = 2", "wrokers = 2\nmax_atempts = 3")
        .replace('site = "myblog"\n', "")
        .replace('url = "https://comments.example.org"', 'ulr = "https://c.example.org"')
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert sorted(line.removeprefix(f"{path}: ") for line in lines) == [
        "key run.max_atempts is not a known key (did you mean run.max_attempts?)",
        "key run.wrokers is not a known key (did you mean run.workers?)",
        "key source.site is required",
        "key target.ulr is not a known key (did you mean target.url?)",
        "key target.url is required",
    ]


@pytest.mark.parametrize(
    ("template", "key"),
    [("/c/{page_id}/", "/c/post1/"), ("/{section_id}.html", "/post1.html"), (None, "/post1/")],
)
def test_a_pages_uri_template_names_the_page_by_page_id_or_section_id(
    tmp_path: Path, template: str | None, key: str
) -> None:
    # {section_id} is Cactus's name for a page's id, kept for the configurations that use it
    line = f'uri_template = "{template}"\n' if template else ""
    config = load_config(
        write(
            tmp_path,
            GOOD.replace('pages_file = "pages.csv"\n', f'pages_file = "pages.csv"\n{line}'),
        )
    )
    assert templated_key(config.uri_template, "post1") == key


@pytest.mark.parametrize("template", ["/posts/", "/{lang}/{page_id}/", "/{page_id}/{page_id}"])
def test_a_uri_template_without_one_placeholder_is_refused(tmp_path: Path, template: str) -> None:
    # another name would fail every page at its first use (it was a KeyError then)
    text = GOOD.replace(
        'pages_file = "pages.csv"\n', f'pages_file = "pages.csv"\nuri_template = "{template}"\n'
    )
    with pytest.raises(ConfigError, match=r"key source\.uri_template"):
        load_config(write(tmp_path, text))
