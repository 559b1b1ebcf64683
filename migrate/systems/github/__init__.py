"""GitHub Discussions, as the giscus widget shows them: a target (see target.py)."""

from migrate.systems.github.plugin import PLUGIN as TARGET
from migrate.systems.github.target import GitHubTarget

__all__ = ["TARGET", "GitHubTarget"]
