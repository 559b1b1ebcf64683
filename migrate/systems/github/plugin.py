"""`[target] type = "github"`: its keys, identity and how it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrate.errors import ConfigError
from migrate.plugins import TargetPlugin, retry_policy
from migrate.systems.github.api import DEFAULT_API_URL
from migrate.systems.github.giscus import MAPPINGS
from migrate.systems.github.target import CAPABILITIES, GitHubTarget
from utils.pace import pace_file_for

if TYPE_CHECKING:
    from migrate.config import RunConfig, SectionConfig

DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - a variable's name


def build(section: SectionConfig, run: RunConfig) -> GitHubTarget:
    mapping = section.text("mapping", "pathname")
    if mapping == "url" and not section.get("site_url"):
        raise ConfigError(
            'key target.site_url is required with mapping = "url": the term is the page\'s '
            "URL on the new site (site_url + the page's key)"
        )
    return GitHubTarget(
        section.text("repo"),
        section.text("category"),
        mapping=mapping,
        token=section.token(DEFAULT_TOKEN_ENV),
        token_env=section.text("token_env", DEFAULT_TOKEN_ENV),
        api_url=section.text("api_url", DEFAULT_API_URL),
        site_url=section.get("site_url"),
        title_format=section.text("title_format", "{title}"),
        per_minute=float(section.get("per_minute", 80)),
        per_hour=float(section.get("per_hour", 500)),
        timeout=run.timeout,
        policy=retry_policy(run),
        pace_file=pace_file_for(run.checkpoint),
    )


PLUGIN = TargetPlugin(
    name="github",
    build=build,
    capabilities=lambda section: CAPABILITIES,
    # where the comments land; not the pace, the token or the endpoint's address
    identity=lambda section: {
        "repo": section.text("repo").lower(),
        "category": section.text("category"),
        "mapping": section.text("mapping", "pathname"),
    },
    schema={
        "required": ["repo", "category"],
        "properties": {
            "repo": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"},
            "category": {"type": "string", "minLength": 1},
            "mapping": {"enum": list(MAPPINGS)},
            "title_format": {"type": "string", "pattern": "\\{title\\}"},
            "token_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "api_url": {"type": "string", "pattern": "^https?://[^\\s]+$"},
            "per_minute": {"type": "number", "exclusiveMinimum": 0},
            "per_hour": {"type": "number", "exclusiveMinimum": 0},
        },
    },
)
