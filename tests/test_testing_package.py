"""migrate.testing: the servers and site builders that tests, demos and benchmarks share.

It ships with the package (so demos and benchmarks need nothing from tests/), imports
without pytest, and the migration itself never imports it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import migrate

ROOT = Path(migrate.__file__).resolve().parent.parent
TESTING_MODULES = [
    f"migrate.testing.{p.stem}"
    for p in sorted((ROOT / "migrate" / "testing").glob("*.py"))
    if p.stem != "__init__"
]


def test_the_testing_package_is_in_the_distribution() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    # setuptools' find matches package names against these patterns the same way
    assert any(fnmatchcase("migrate.testing", pattern) for pattern in include), include
    assert (ROOT / "migrate" / "testing" / "__init__.py").is_file()  # a package find sees


def test_every_testing_module_imports_without_pytest() -> None:
    assert {
        "migrate.testing.contract",
        "migrate.testing.synapse",
        "migrate.testing.isso",
        "migrate.testing.factories",
    } <= set(TESTING_MODULES)
    # None in sys.modules makes `import pytest` fail, as on a machine without it
    code = (
        "import importlib, sys\n"
        "sys.modules['pytest'] = None\n"
        f"for name in {TESTING_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_migration_imports_nothing_of_the_testing_package() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("migrate", "utils")
        for p in (ROOT / folder).rglob("*.py")
        if "testing" not in p.relative_to(ROOT / folder).parts
        and "migrate.testing" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_the_cli_loads_without_the_testing_package() -> None:
    code = (
        "import sys\n"
        "from migrate.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('migrate.testing')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
