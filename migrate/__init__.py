"""comment-migrate: move a site's comments out of Cactus Comments into another system.

The public API is what `__all__` names: a `Migration` of a source into a target, the
built-in sources and targets, and the results its verbs return. See migrate/migration.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module; imported on first use, so `import migrate` stays cheap for the CLI
_EXPORTS = {
    "Migration": "migrate.migration",
    "TargetSpec": "migrate.migration",
    "RunOptions": "migrate.commands.run",
    "RunSummary": "migrate.reporter",
    "VerifyReport": "migrate.commands.verify",
    "RollbackOutcome": "migrate.commands.rollback",
    "Config": "migrate.config",
    "load_config": "migrate.config",
    "parse_config": "migrate.config",
    "Comment": "migrate.model",
    "Page": "migrate.model",
    "Author": "migrate.model",
    "Capabilities": "migrate.model",
    "Source": "migrate.abilities",
    "Target": "migrate.abilities",
    "MigrateError": "migrate.errors",
    "ExitStatus": "migrate.errors",
    "SourcePlugin": "migrate.plugins",
    "TargetPlugin": "migrate.plugins",
    "MatrixCommentExtractor": "migrate.systems.matrix",
    "ArchiveSource": "migrate.systems.archive",
    "HttpTarget": "migrate.systems.http.target",
    "IssoTarget": "migrate.systems.isso.target",
    "WxrTarget": "migrate.systems.wordpress.wxr",
    "JsonlTarget": "migrate.systems.jsonl.target",
}

__all__ = [
    "ArchiveSource",
    "Author",
    "Capabilities",
    "Comment",
    "Config",
    "ExitStatus",
    "HttpTarget",
    "IssoTarget",
    "JsonlTarget",
    "MatrixCommentExtractor",
    "MigrateError",
    "Migration",
    "Page",
    "RollbackOutcome",
    "RunOptions",
    "RunSummary",
    "Source",
    "SourcePlugin",
    "Target",
    "TargetPlugin",
    "TargetSpec",
    "VerifyReport",
    "WxrTarget",
    "__version__",
    "load_config",
    "parse_config",
]

if TYPE_CHECKING:
    from migrate.abilities import Source, Target
    from migrate.commands.rollback import RollbackOutcome
    from migrate.commands.run import RunOptions
    from migrate.commands.verify import VerifyReport
    from migrate.config import Config, load_config, parse_config
    from migrate.errors import ExitStatus, MigrateError
    from migrate.migration import Migration, TargetSpec
    from migrate.model import Author, Capabilities, Comment, Page
    from migrate.plugins import SourcePlugin, TargetPlugin
    from migrate.reporter import RunSummary
    from migrate.systems.archive import ArchiveSource
    from migrate.systems.http.target import HttpTarget
    from migrate.systems.isso.target import IssoTarget
    from migrate.systems.jsonl.target import JsonlTarget
    from migrate.systems.matrix import MatrixCommentExtractor
    from migrate.systems.wordpress.wxr import WxrTarget


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'migrate' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
