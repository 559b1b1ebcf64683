"""Shared pieces of the migration tests: configs, running the CLI, checking a target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from migrate.cli import cli
from migrate.model import Comment, Page
from migrate.pipeline.transform import depths
from utils.retry import RetryPolicy

REPO = Path(__file__).resolve().parent.parent


def write_config(
    directory: Path,
    *,
    archive: Path | None = None,
    target: dict[str, Any],
    source: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    name: str = "migration.toml",
) -> Path:
    src = source or {"type": "archive", "path": str(archive)}
    sections = {
        "source": src,
        "target": target,
        "run": {
            "checkpoint": str(directory / "checkpoint.json"),
            "workers": 2,
            "max_attempts": 8,
            "timeout": 10,
            **(run or {}),
        },
    }
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path = directory / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fast_policy(attempts: int = 3) -> RetryPolicy:
    """Retries that never wait: tests meet faults, not sleeps."""
    return RetryPolicy(max_attempts=attempts, base_wait=0.0, max_wait=0.0, sleep=lambda _s: None)


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def run_json(config: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = invoke("run", "-c", str(config), "--json", *extra)
    out = result.stdout.strip().splitlines()
    data = json.loads(out[-1]) if out else {}
    return result.exit_code, data, result.stderr


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_run(
    config: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`comment-migrate run` in a child process (for signals and SIGKILL)."""
    return subprocess.Popen(
        [sys.executable, "-m", "migrate", "-q", "run", "-c", str(config), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
        env=env or subprocess_env(),
    )


def expected_parents(comments: Sequence[Comment], max_depth: int | None) -> dict[str, str | None]:
    """Source id -> source id of the comment it should hang under in a target with max_depth."""
    by_id = {c.id: c for c in comments}
    depth = depths(comments)
    result: dict[str, str | None] = {}
    for c in comments:
        parent = c.parent_id if c.parent_id in by_id else None
        while parent is not None and max_depth is not None and depth[parent] > max_depth - 1:
            parent = by_id[parent].parent_id
        result[c.id] = parent
    return result


def assert_http_target_holds(
    server: Any, site: dict[Page, list[Comment]], max_depth: int | None = None
) -> None:
    """Every source comment exactly once, each under the parent the rules predict."""
    held = server.comments
    by_source: dict[str, list[dict[str, Any]]] = {}
    for item in held:
        by_source.setdefault(item["source"]["id"], []).append(item)
    expected_ids = {c.id for comments in site.values() for c in comments}
    duplicates = {k: len(v) for k, v in by_source.items() if len(v) > 1}
    assert not duplicates, f"comments sent twice: {duplicates}"
    assert set(by_source) == expected_ids, (
        f"missing {expected_ids - set(by_source)}, extra {set(by_source) - expected_ids}"
    )
    target_to_source = {item["id"]: sid for sid, (item,) in by_source.items()}
    for page, comments in site.items():
        for cid, parent in expected_parents(comments, max_depth).items():
            (item,) = by_source[cid]
            actual = target_to_source.get(item["parent_id"]) if item["parent_id"] else None
            assert actual == parent, f"{cid} on {page.id}: under {actual}, expected {parent}"
            assert item["page"]["id"] == page.id
