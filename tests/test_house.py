"""The library first: a migration as Python objects, plugins found by entry point, the page
ledger's cost, the public API, and options where people type them."""

from __future__ import annotations

import ast
import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import migrate
import migrate.plugins
from migrate import ArchiveSource, JsonlTarget, Migration, RunOptions, WxrTarget
from tests.factories import comment, make_archive, page, threaded_site
from tests.migration_helpers import invoke, write_config
from tests.servers.contract import ContractServer
from utils.checkpoint_manager import CheckpointManager, read_checkpoint


def test_the_public_names_are_one_list_that_the_type_checker_reads_too() -> None:
    """Each public name resolves to the object its module defines, and the imports a type
    checker reads name the same objects from the same modules (no name in one list only)."""
    exports = migrate._EXPORTS
    for name, module in exports.items():
        assert getattr(migrate, name) is getattr(importlib.import_module(module), name), name
    tree = ast.parse(Path(migrate.__file__).read_text(encoding="utf-8"))
    typed = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
        if alias.asname == alias.name
    }
    assert typed == exports
    assert {"Migration", "ArchiveSource", "DisqusTarget", "TargetPlugin"} <= set(migrate.__all__)


def test_a_migration_runs_verifies_and_reruns_without_a_configuration_file(
    tmp_path: Path,
) -> None:
    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=2, per_page=6))
    out = tmp_path / "comments.wxr"
    with Migration(
        ArchiveSource(archive), WxrTarget(out), checkpoint=tmp_path / "cp.json", workers=2
    ) as migration:
        summary = migration.run()
    assert (summary.pages_complete, summary.comments_imported) == (2, 12)
    assert out.read_text(encoding="utf-8").count("<wp:comment>") == 12
    with Migration(
        ArchiveSource(archive), WxrTarget(out), checkpoint=tmp_path / "cp.json"
    ) as again:
        assert again.verify().ok
        rerun = again.run()
        assert rerun.comments_imported == 0 and rerun.pages_skipped == 2
        assert again.status()["completed"] == 2


class CountingCheckpoint(CheckpointManager):
    """Counts what the pipeline asks of the checkpoint, by method name."""

    calls: dict[str, int]

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("utils.checkpoint"):  # the manager calling itself
            return attr
        if callable(attr) and not name.startswith("_") and name != "state":
            counts = super().__getattribute__("__dict__").setdefault("calls", {})
            counts[name] = counts.get(name, 0) + 1
        return attr


def test_a_comment_costs_one_checkpoint_call(tmp_path: Path) -> None:
    """The page ledger reads a page's mappings once and records each comment with one call
    (the old pipeline asked the checkpoint eight to ten times per comment)."""
    from migrate.pipeline.orchestrator import Orchestrator

    archive = make_archive(tmp_path / "site.jsonl", threaded_site(pages=1, per_page=40))
    source = ArchiveSource(archive)
    # single posts: batches would record many comments per call, fewer still
    with ContractServer(batch=False) as server, CountingCheckpoint(tmp_path / "cp.json") as cp:
        from migrate import HttpTarget

        target = HttpTarget(server.url)
        orchestrator = Orchestrator(source, target, cp, workers=1)
        summary = orchestrator.run(list(source.pages()))
        target.close()
        assert summary.comments_imported == 40
        per_page = {
            "start_migration",
            "mark_page_in_progress",
            "mark_page_complete",
            "save_checkpoint",
            "should_skip_page",
        }
        per_comment = sum(n for name, n in cp.calls.items() if name not in per_page)
        assert per_comment <= 40 * 1, cp.calls
        assert cp.calls.get("add_id_mapping") == 40


def test_an_unknown_target_type_names_the_installed_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, archive=tmp_path / "a.jsonl", target={"type": "ftp"})
    result = invoke("run", "-c", str(config))
    assert result.exit_code == 2
    assert "key target.type must be one of" in result.stderr
    assert "'wxr'" in result.stderr and "'isso'" in result.stderr


def test_quiet_and_verbose_work_after_the_command_too(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=1, per_page=3))
    config = write_config(
        tmp_path, archive=archive, target={"type": "jsonl", "output": "out.jsonl"}
    )
    after = invoke("run", "-c", str(config), "-q", "--reset")
    assert after.exit_code == 0
    assert "WARNING" not in after.stderr  # -q: no info lines
    verbose = invoke("run", "-c", str(config), "-v")
    assert verbose.exit_code == 0
    assert "DEBUG" in verbose.stderr or "INFO" in verbose.stderr
    help_text = invoke("run", "--help").stdout
    assert "-q, --quiet" in help_text and "-v, --verbose" in help_text


def test_a_refused_comment_is_reported_as_people_know_it(tmp_path: Path) -> None:
    """Page, author, time and the start of its text; the event id stays in --json."""
    archive = make_archive(
        tmp_path / "site.jsonl",
        {
            page("p1"): [
                comment("$long", text="A long enough comment by Alice about sourdough", page="p1"),
                comment("$ok", "$long", minute=1, author="bob", text="ok", page="p1"),
            ]
        },
    )
    config = write_config(
        tmp_path, archive=archive, target={"type": "isso", "url": "http://127.0.0.1:9"}
    )
    dry = invoke(
        "run",
        "-c",
        str(config),
        "--dry-run",
        "--dry-run-output",
        str(tmp_path / "plan.jsonl"),
        "--json",
    )
    assert dry.exit_code == 0, dry.stderr
    assert 'refused p1: bob, 2021-03-14T15:10:26+00:00: "ok"' in dry.stderr
    data = json.loads(dry.stdout.strip().splitlines()[-1])
    assert data["skipped_comments"][0]["source_id"] == "$ok"
    assert data["skipped_comments"][0]["author"] == "bob"


def test_journal_entries_keep_the_source_id_in_the_checkpoint(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.jsonl", threaded_site(pages=1, per_page=2))
    with Migration(
        ArchiveSource(archive), JsonlTarget(tmp_path / "o.jsonl"), checkpoint=tmp_path / "cp.json"
    ) as migration:
        migration.run(RunOptions(quiet=True))
    state = read_checkpoint(tmp_path / "cp.json")
    assert state.get_new_comment_id("$p0c0:localhost") is not None


def test_no_module_of_the_package_passes_about_400_lines() -> None:
    root = Path(migrate.__file__).resolve().parent.parent
    long = {
        str(p.relative_to(root)): n
        for folder in ("migrate", "utils")
        for p in (root / folder).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}


def test_plumbing_imports_nothing_of_the_domain() -> None:
    root = Path(migrate.__file__).resolve().parent.parent
    offenders = [
        str(p.relative_to(root))
        for p in (root / "utils").rglob("*.py")
        if "from migrate" in p.read_text(encoding="utf-8")
        or "import migrate" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_demos_and_benchmarks_import_nothing_from_tests() -> None:
    root = Path(migrate.__file__).resolve().parent.parent
    offenders = [
        str(p.relative_to(root))
        for folder in ("demos", "benchmarks")
        for p in (root / folder).glob("*.py")
        if any(
            line.lstrip().startswith(("from tests", "import tests"))
            for line in p.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []


def test_the_documented_example_of_the_python_api_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(migrate.__file__).resolve().parent.parent
    page = (root / "docs" / "python-api.md").read_text("utf-8")
    block = page.split("```python\n", 1)[1].split("```", 1)[0]
    make_archive(tmp_path / "site.archive.jsonl", threaded_site(pages=2, per_page=4))
    monkeypatch.chdir(tmp_path)
    exec(compile(textwrap.dedent(block), "docs/python-api.md", "exec"), {})  # noqa: S102
    assert (tmp_path / "comments.wxr").exists()


def test_every_test_the_guarantees_page_names_exists() -> None:
    """The guarantees table names its proofs; a renamed or deleted test must not leave a
    guarantee standing on nothing."""
    import re

    root = Path(migrate.__file__).resolve().parent.parent
    page = (root / "docs" / "guarantees.md").read_text(encoding="utf-8")
    table = page.split("# Guarantees", 1)[1].split("\n## ", 1)[0]
    assert table.count("`tests/") > 40
    missing = []
    for row in table.splitlines():
        current: Path | None = None
        for ref in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", row):
            path, _, name = ref.partition("::")
            if path:
                current = root / path
                if not current.exists():
                    missing.append(path)
                    continue
            text = current.read_text(encoding="utf-8") if current is not None else ""
            if name and current is not None and f"def {name}(" not in text:
                missing.append(f"{current.relative_to(root)}::{name}")
    assert missing == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> project modules it imports, lazy imports (inside functions) included, imports
    made only for the type checker left out; importing `a.b.c` runs `a` and `a.b` too."""
    root = Path(migrate.__file__).resolve().parent.parent
    modules = {}
    for path in [*(root / "migrate").rglob("*.py"), *(root / "utils").rglob("*.py")]:
        parts = list(path.relative_to(root).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        for target in list(found):
            pieces = target.split(".")
            found.update(".".join(pieces[:i]) for i in range(1, len(pieces)))
        graph[name] = {m for m in found if m in modules and m != name}
        graph[name] -= {p for p in graph[name] if name.startswith(p + ".")}  # its own packages
    return graph


def test_no_import_cycle_lazy_imports_included() -> None:
    graph = _import_graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                walk(imported, [*path, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_who_may_import_whom() -> None:
    """The model imports nothing of the project; a system imports no other system, nor the
    pipeline, the commands or the facade; a verb imports no sibling verb."""
    graph = _import_graph()
    assert {m for m in graph["migrate.model"] if m != "migrate"} == set()
    verbs = {f"migrate.commands.{v}" for v in ("run", "sync", "verify", "rollback", "status")}
    wrong = []
    for module, imported in graph.items():
        if module.startswith("migrate.systems."):
            own = ".".join(module.split(".")[:3])
            for other in imported:
                foreign_system = other.startswith("migrate.systems.") and not (
                    other == own or other.startswith(own + ".") or other == "migrate.systems"
                )
                upper = other.startswith(("migrate.pipeline", "migrate.commands")) or other in (
                    "migrate.migration",
                    "migrate.session",
                )
                if foreign_system or upper:
                    wrong.append(f"{module} imports {other}")
        if module in verbs:
            wrong += [f"{module} imports {v}" for v in imported & verbs]
    assert wrong == []
