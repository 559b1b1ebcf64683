"""The README and docs/ say only what is so: every transcript replays, every command, option
and configuration key they name exists, the set-up commands are the ones CI runs, and every
local link leads somewhere."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from migrate.cli import cli
from migrate.config import SHARED_KEYS, config_schema
from migrate.plugins import source_plugin, source_types, target_plugin, target_types
from tests.migration_helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(path: Path, language: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


# -- transcripts ---------------------------------------------------------------------------

# what differs from one run to the next: times, rates, time stamps in file names
VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"\d{8}T\d{6,}Z?"), "<stamp>"),
    (re.compile(r"\b\d+\.\d\ds\b"), "<secs>"),
    (re.compile(r"\(\d+\.\d/s\)"), "(<rate>)"),
]


def normalised(text: str) -> list[str]:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def matches(expected: list[str], got: list[str]) -> bool:
    """`...` on a line of its own stands for any lines (none included)."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == expected[0] and matches(expected[1:], got[1:])


def steps(block: str) -> Iterator[tuple[str, list[str]]]:
    command: str | None = None
    output: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, output
            command, output = line[2:], []
        else:
            output.append(line)
    if command is not None:
        yield command, output


def transcripts() -> list[tuple[Path, list[str]]]:
    return [(p, blocks(p, "console")) for p in PAGES if blocks(p, "console")]


def test_readme_has_transcripts() -> None:
    assert transcripts() and transcripts()[0][0].name == "README.md"


@pytest.mark.parametrize(
    ("page", "console"), transcripts(), ids=[str(p.relative_to(REPO)) for p, _ in transcripts()]
)
def test_every_transcript_replays_as_written(
    tmp_path: Path, page: Path, console: list[str]
) -> None:
    """Each page's console blocks in order, in one empty folder, as a reader types them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr in the order a terminal shows them
    cwd = tmp_path
    for block in console:
        for command, expected in steps(block):
            words = shlex.split(command, comments=True)
            if words[0] == "cd":
                cwd = (cwd / words[1]).resolve()
                assert not expected
                continue
            assert words[0] == "comment-migrate", f"{page.name}: {command}"
            done = subprocess.run(
                words,
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"{command}:\n{done.stdout}"
            got = normalised(done.stdout)
            want = normalised("\n".join(expected))
            assert matches(want, got), f"{page.name}: $ {command}\n" + "\n".join(got)


# -- names ---------------------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[" ".join((*prefix, name))] = command
        if isinstance(command, click.Group):
            found.update(command_paths(command, (*prefix, name)))
    return found


def options_of(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def named_commands() -> list[tuple[Path, str]]:
    """`comment-migrate ...` wherever the pages write it, in code or in prose."""
    found = []
    for page in PAGES:
        text = page.read_text("utf-8")
        code = "\n".join(
            re.findall(r"`([^`\n]+)`", text)
            + re.findall(r"^```\w*\n(.*?)^```", text, flags=re.M | re.S)
        )
        # (not the markers the tool hides in what it writes: `<!-- comment-migrate ... -->`)
        pattern = r"(?<!<!-- )comment-migrate((?: [a-z][\w-]*| -{1,2}[\w-]+)+)"
        for match in re.finditer(pattern, code):
            found.append((page, match.group(1).strip()))
    return found


def test_every_command_and_option_the_pages_name_exists() -> None:
    commands = command_paths(cli)
    root = options_of(cli) | {"-v", "-q", "--verbose", "--quiet"}
    wrong = []
    for page, words in named_commands():
        parts = words.split()
        path: list[str] = []
        for part in parts:
            if part.startswith("-"):
                break
            if " ".join([*path, part]) in commands:
                path.append(part)
            elif not path:
                wrong.append(f"{page.name}: comment-migrate {words}")
                break
            else:
                break  # an argument (a path, a folder)
        if not path:
            continue
        known = options_of(commands[" ".join(path)]) | root
        wrong += [f"{page.name}: {words}" for p in parts if p.startswith("-") and p not in known]
    assert wrong == []


def known_keys() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {
        section: set(spec.get("properties", {}))
        for section, spec in config_schema()["properties"].items()
    }
    for name in source_types():
        keys["source"] |= set(source_plugin(name).schema.get("properties", {}))
    for name in target_types():
        keys["target"] |= set(target_plugin(name).schema.get("properties", {}))
    for side in ("source", "target"):
        keys[side] |= set(SHARED_KEYS[side])
    return keys


OUR_TABLES = ("source", "target", "run", "media", "pages")


def named_keys() -> list[tuple[Path, str, str]]:
    """Keys in TOML blocks (commented-out ones too) and `[section] key` in prose."""
    found = []
    for page in PAGES:
        for block in blocks(page, "toml"):
            section = ""
            for line in block.splitlines():
                line = line.strip()
                if header := re.match(r"#?\s*\[([^\]]+)\]", line):
                    section = header.group(1)
                elif section not in OUR_TABLES:
                    continue  # another program's file (pyproject.toml's entry points)
                elif key := re.match(r"#?\s*(\w+)\s*=", line):
                    found.append((page, section, key.group(1)))
        # our tables only: pages quote other systems' settings too (Isso's `[guard] enabled`)
        ours = rf"`\[({'|'.join(OUR_TABLES)})\] (\w+)"
        for match in re.finditer(ours, page.read_text("utf-8")):
            found.append((page, match.group(1), match.group(2)))
    return found


def test_every_configuration_key_the_pages_name_exists() -> None:
    keys = known_keys()
    named = named_keys()
    assert len(named) > 20
    wrong = [f"{p.name}: [{s}] {k}" for p, s, k in named if k not in keys.get(s, set())]
    assert wrong == []


def test_the_configuration_example_is_a_configuration() -> None:
    (example,) = blocks(REPO / "docs" / "configuration.md", "toml")
    data = tomllib.loads(example)
    assert set(data) <= set(config_schema()["properties"])


# -- the README itself ---------------------------------------------------------------------


def test_the_readme_is_read_in_five_minutes() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    # what is folded away (<details>: the whole plugin source) is read only by who opens it
    shown = re.sub(r"<details>.*?</details>", "", text, flags=re.S)
    assert len(shown.splitlines()) <= 150
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings == ["Set up", "Quickstart", "Systems", "Documentation"]


def test_two_set_up_commands_the_second_the_one_ci_runs() -> None:
    readme = REPO / "README.md"
    setup = readme.read_text(encoding="utf-8").split("## Set up", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"^```sh\n(.*?)^```", setup, flags=re.M | re.S)
    commands = [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].endswith("comment-migrate demo")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in [line.strip() for line in ci.splitlines()]


def test_every_local_link_leads_somewhere() -> None:
    broken = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target) or target.startswith("#"):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve()
            if file.rstrip("/").endswith("systems") and page.parent == REPO / "docs":
                continue  # docs/systems/<name>.md: one page per system, written with each
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
            elif anchor and path.suffix == ".md":
                slugs = {
                    re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
                    for h in re.findall(r"^#+ (.+)$", path.read_text("utf-8"), flags=re.M)
                }
                if anchor not in slugs:
                    broken.append(f"{page.relative_to(REPO)}: {target}")
    assert broken == []
