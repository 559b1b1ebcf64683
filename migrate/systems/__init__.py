"""One package per comment system: all it knows in one room.

A system's package holds its source and/or its target, its file format and its checks, and
declares its plugins as `SOURCE` and `TARGET` in its `__init__` (registered through the
`comment_migrate.sources` / `comment_migrate.targets` entry points, the same way a third-party
plugin is). The name of the package is the `type = "..."` a user writes. A system imports the
model, abilities, content and utils, never another system, the pipeline or the commands.
"""
