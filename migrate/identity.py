"""The one identity of a migration: what its source and its target are, never how fast it
runs or which secret it uses. A checkpoint records it and refuses another migration's run.

It is computed from the objects, whoever built them (the Python API or migration.toml): the
source's own `identity()`, and the target's, known before the target is opened (a dry run
never opens it) from its plugin, which must agree with the opened target's `identity()` (a
test checks every built-in plugin). Paths are absolute, URLs without a trailing slash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from migrate.abilities import Source


def migration_identity(
    source: Source, target_type: str, target: Mapping[str, str]
) -> dict[str, str]:
    ident = {f"source.{k}": str(v) for k, v in source.identity().items()}
    ident.update({f"target.{k}": str(v) for k, v in target.items()})
    ident["source.type"] = source.system
    ident["target.type"] = target_type
    return ident


def identity_digest(identity: Mapping[str, str]) -> str:
    canonical = json.dumps(dict(identity), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_identity_change(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append(f"{key}: {old.get(key, '(unset)')!r} -> {new.get(key, '(unset)')!r}")
    return "; ".join(changes) or "(identity unknown)"
