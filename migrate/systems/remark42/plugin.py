"""The remark42 plugins: `[source] path = "backup-remark.gz"` (keep_ip),
`[target] output = "remark42-backup.gz"` with `site_url` (required: Remark42 keys pages by
their full URL) and `site` (the Remark42 site id, "remark" by default)."""

from __future__ import annotations

from migrate.files.derived import export_file_plugin
from migrate.files.export_source import export_source_plugin
from migrate.systems.remark42.source import Remark42Source
from migrate.systems.remark42.target import Remark42Target

SOURCE = export_source_plugin("remark42", Remark42Source, example="remark42-backup.gz")
TARGET = export_file_plugin(
    Remark42Target,
    {"site": {"type": "string", "minLength": 1}},
    required=("site_url",),
)
