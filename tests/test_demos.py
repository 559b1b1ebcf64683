"""Every demo in demos/ runs as its README says, exits 0 and shows what it promises."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.systems.archive import ArchiveSource
from tests.migration_helpers import REPO

DEMOS = REPO / "demos"


def demo_env() -> dict[str, str]:
    """The test's virtualenv first on PATH (python, isso, comment-migrate), the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("ISSO_SETTINGS", None)
    return env


def run_demo(*command: str, timeout: float = 120) -> str:
    done = subprocess.run(
        list(command),
        cwd=REPO,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{output}"
    return done.stdout


def test_the_sample_generator_plans_the_same_site_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = importlib.util.spec_from_file_location("make_sample_site", DEMOS / "make_sample_site.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, generator)  # dataclasses look it up there
    spec.loader.exec_module(generator)

    def contents() -> list[tuple[str, int, str, int | None]]:
        return [
            (c.person.localpart, c.ts, c.content["body"], c.parent)
            for plan in generator.plan_site()
            for c in plan.comments
        ]

    first = contents()
    assert first == contents()
    assert len(first) >= 300 + 15  # deletions without replies leave the archive


def sample() -> ArchiveSource:
    return ArchiveSource(REPO / "migrate" / "sample" / "site.archive.jsonl")


@pytest.mark.parametrize("target", ["isso", "http", "wxr", "jsonl"])
def test_dry_run_prints_a_plan_per_page_and_totals_that_the_cli_agrees_with(
    target: str,
) -> None:
    out = run_demo(sys.executable, str(DEMOS / "dry_run.py"), "--target", target)
    archive = sample()
    pages = list(archive.pages())
    total = sum(len(archive.comments(p).comments) for p in pages)
    for page in pages:
        assert re.search(rf"^{re.escape(page.id)}  {re.escape(page.key)}", out, re.M), page.id
    assert "Nothing is sent." in out
    totals = re.search(
        r"^Total: (\d+) pages, (\d+) comments in \d+ threads; (\d+) replies "
        r"re-attached by depth flattening, .*; (\d+) would be sent, (\d+) refused",
        out,
        re.M,
    )
    assert totals is not None, out
    n_pages, n_comments, flattened, sent, refused = map(int, totals.groups())
    assert (n_pages, n_comments) == (len(pages), total)
    assert sent + refused == total
    if target == "isso":  # two levels, and text under 3 characters refused
        assert flattened > 0 and refused > 0
        assert re.search(r'e\.g\. "@[^:]+: ', out)
        assert "text is too short for Isso" in out
    else:  # any depth, no length rule
        assert flattened == 0 and refused == 0
    assert "$ comment-migrate run -c migration.toml --dry-run" in out
    assert "comment-migrate agrees" in out


def test_resume_after_failure_fails_two_pages_then_completes_them_without_duplicates() -> None:
    out = run_demo(sys.executable, str(DEMOS / "resume_after_failure.py"))
    runs = out.split("$ comment-migrate ")
    assert [r.split("\n", 1)[0] for r in runs[1:]] == ["run", "status", "run", "status"]
    first, status, second = runs[1], runs[2], runs[3]
    assert "(exit status 3)" in first and "2 failed" in first
    assert "(exit status 3)" in status
    for page in ("lisbon-in-three-days", "tokyo-on-a-budget"):
        assert re.search(rf"{page} .*spam filter", status), status
    assert "(exit status 0)" in second and "0 failed" in second
    assert "no duplicates, none missing, every reply under its parent" in out


@pytest.mark.synapse
@pytest.mark.isso
def test_end_to_end_with_real_synapse_and_isso_prints_the_threads() -> None:
    out = run_demo("bash", str(DEMOS / "end_to_end_local.sh"), timeout=150)
    assert "Synapse is running on http://127.0.0.1:" in out
    assert "Isso is running on http://127.0.0.1:" in out
    assert "$ comment-migrate run -c migration.toml" in out
    runs = re.findall(r"comments: (\d+) imported.*\n(?:.*\n)*?\(exit status (\d+)\)", out)
    assert len(runs) == 2 and runs[0][1] == "0" and runs[1] == ("0", "0"), runs
    imported = int(runs[0][0])
    assert imported > 30
    threads = re.findall(r"^GET /\?uri=(\S+)&plain=1", out, re.M)
    assert threads == [
        "/2019/03/sourdough-starter-week-one/",
        "/2021/04/ramen-from-scratch/",
        "/2024/01/paella-valenciana/",
    ]
    assert f"\n{imported} comments in Isso\n" in out
    assert re.search(r"^ {8}#\d+ [^:]+: @[^:]+: ", out, re.M), "a flattened reply with @Name"
    assert "$ comment-migrate verify" in out
    verify = out.split("$ comment-migrate verify", 1)[1]
    assert verify.split("(exit status ", 1)[1].startswith("0)"), verify
    assert "stopped isso" in out and "stopped synapse" in out
