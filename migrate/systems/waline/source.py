"""Waline as a source: a running server (`url` + `token_env`: the administrator's export,
`GET /api/db`) or an export file (`path`, what Waline's admin Export writes; plain or gzip).

Pages are the rows' `url`s. Spam is skipped with its reason, waiting comments come as
pending. From a server, each page's times are the widget API's (`time`, an instant the
server works out from its own wall clock), so no zone has to be known; a file's times
without a zone are read in `timezone` (the zone of the Waline server that wrote it, UTC
unless configured).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from migrate.errors import ConfigError, SourceError
from migrate.model import Page, PageComments
from migrate.pages import default_key
from migrate.systems.waline.api import page_comments, shown_time, waline_data
from migrate.systems.waline.rows import export_comments, load_export, page_keys, read_rows
from utils.http import HttpClient, HttpError
from utils.retry import RetryPolicy


def zone_named(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"timezone {name!r} is not a time zone name (e.g. Asia/Shanghai)"
        ) from exc


class WalineSource:
    system = "waline"

    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        token: str | None = None,
        zone: str | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.path = Path(path) if path else None
        self.url = url.rstrip("/") if url else None
        self.zone = zone_named(zone)
        self.zone_name = zone or "UTC"
        self.client = (
            HttpClient(self.url, token=token, timeout=timeout, policy=policy) if self.url else None
        )
        self._rows: list[dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"WalineSource({str(self.path or self.url)!r})"

    def identity(self) -> Mapping[str, str]:
        if self.path is not None:
            return {"path": str(self.path.resolve())}
        return {"url": str(self.url).rstrip("/")}

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = self._read()
        return self._rows

    def _read(self) -> list[dict[str, Any]]:
        if self.path is not None:
            try:
                raw = self.path.read_bytes()
            except OSError as exc:
                raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return load_export(raw, str(self.path))
        assert self.client is not None
        if not self.client.token:
            raise SourceError(
                f"reading {self.url} needs the Waline administrator's token (token_env)"
            )
        try:
            data = waline_data(self.client, "GET", "/api/db")
        except HttpError as exc:
            raise SourceError(f"cannot export {self.url}/api/db: {exc.message}") from exc
        return export_comments(data, f"{self.url}/api/db")

    def pages(self) -> Iterator[Page]:
        for url in page_keys(self.rows()):
            yield Page(id=url, key=default_key(url), title=None, url=None)

    def comments(self, page: Page) -> PageComments:
        rows = [r for r in self.rows() if r.get("url") == page.id]
        instants: dict[str, datetime] = {}
        if self.client is not None:  # the server's own instants: no zone to guess
            for held in page_comments(self.client, page.id):
                moment = shown_time(held)
                if moment is not None:
                    instants[str(held["objectId"])] = moment
        comments, skipped, orphans = read_rows(rows, page.id, self.zone, instants)
        return PageComments(page, comments, skipped=skipped, orphans=orphans)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
