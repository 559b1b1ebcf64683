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
    "TargetSpec": "migrate.spec",
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
    "DisqusTarget": "migrate.systems.disqus.target",
    "IssoSource": "migrate.systems.isso.source",
    "WalineSource": "migrate.systems.waline.source",
    "WalineTarget": "migrate.systems.waline.target",
}

# the one list of public names; the imports below tell type checkers the same (a test
# checks that they agree)
__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:
    from migrate.abilities import Source as Source
    from migrate.abilities import Target as Target
    from migrate.commands.rollback import RollbackOutcome as RollbackOutcome
    from migrate.commands.run import RunOptions as RunOptions
    from migrate.commands.verify import VerifyReport as VerifyReport
    from migrate.config import Config as Config
    from migrate.config import load_config as load_config
    from migrate.config import parse_config as parse_config
    from migrate.errors import ExitStatus as ExitStatus
    from migrate.errors import MigrateError as MigrateError
    from migrate.migration import Migration as Migration
    from migrate.model import Author as Author
    from migrate.model import Capabilities as Capabilities
    from migrate.model import Comment as Comment
    from migrate.model import Page as Page
    from migrate.plugins import SourcePlugin as SourcePlugin
    from migrate.plugins import TargetPlugin as TargetPlugin
    from migrate.reporter import RunSummary as RunSummary
    from migrate.spec import TargetSpec as TargetSpec
    from migrate.systems.archive import ArchiveSource as ArchiveSource
    from migrate.systems.disqus.target import DisqusTarget as DisqusTarget
    from migrate.systems.http.target import HttpTarget as HttpTarget
    from migrate.systems.isso.source import IssoSource as IssoSource
    from migrate.systems.isso.target import IssoTarget as IssoTarget
    from migrate.systems.jsonl.target import JsonlTarget as JsonlTarget
    from migrate.systems.matrix import MatrixCommentExtractor as MatrixCommentExtractor
    from migrate.systems.waline.source import WalineSource as WalineSource
    from migrate.systems.waline.target import WalineTarget as WalineTarget
    from migrate.systems.wordpress.wxr import WxrTarget as WxrTarget


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'migrate' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
