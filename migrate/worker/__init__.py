"""The reference Cloudflare Worker: a project template shipped inside the package.

`write_project(dest)` copies the template (wrangler.toml with a D1 binding `DB`, D1
migrations, `src/index.js`, package.json and its lockfile pinning wrangler, a README with the
deploy steps) into `dest`, plus `.dev.vars.example`. It never overwrites: if any file it
would write exists, it writes nothing and raises `ProjectExists` naming that file.

In the written folder, `npm ci && npm run dev -- --port P` serves the Worker on
127.0.0.1:P through workerd with a fresh local D1; the token is the Worker secret
`MIGRATE_TOKEN` (`.dev.vars` locally).
"""

from __future__ import annotations

import logging
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from migrate.errors import ExitStatus, MigrateError

log = logging.getLogger(__name__)

__all__ = ["TEMPLATE_FILES", "ProjectExists", "write_project"]

# Template path -> path in the written project. Dotfiles are stored without their dot, so
# no packaging tool drops them as hidden files.
TEMPLATE_FILES: dict[str, str] = {
    "README.md": "README.md",
    "package.json": "package.json",
    "package-lock.json": "package-lock.json",
    "wrangler.toml": "wrangler.toml",
    "gitignore": ".gitignore",
    "migrations/0001_comments.sql": "migrations/0001_comments.sql",
    "src/index.js": "src/index.js",
    "src/sanitize.js": "src/sanitize.js",
}

DEV_VARS_EXAMPLE = """\
# Copy to .dev.vars (never commit it) for `npm run dev`. In production the token is the
# Worker secret: `npx wrangler secret put MIGRATE_TOKEN`. comment-migrate sends it from the
# environment variable named by [target] token_env.
MIGRATE_TOKEN=replace-with-a-long-random-string
"""


class ProjectExists(MigrateError):
    """A file the Worker project would be written to exists already."""

    exit_status = ExitStatus.USAGE


def _template() -> Traversable:
    return files("migrate.worker").joinpath("template")


def write_project(dest: Path) -> list[Path]:
    """Write the Worker project into `dest` (created if missing); the paths written."""
    contents: dict[Path, bytes] = {}
    template = _template()
    for source, target in TEMPLATE_FILES.items():
        resource = template.joinpath(*source.split("/"))
        contents[dest / target] = resource.read_bytes()
    contents[dest / ".dev.vars.example"] = DEV_VARS_EXAMPLE.encode()

    existing = [path for path in contents if path.exists()]
    if existing:
        raise ProjectExists(
            f"{existing[0]} already exists; not overwriting it (choose an empty folder)"
        )
    written: list[Path] = []
    for path, data in contents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x": a file that appeared since the check above is still never overwritten
        try:
            with path.open("xb") as out:
                out.write(data)
        except FileExistsError as exc:
            raise ProjectExists(f"{path} already exists; not overwriting it") from exc
        written.append(path)
    log.debug("wrote the Worker project into %s (%d files)", dest, len(written))
    return written
