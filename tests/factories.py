"""Small builders for source comments in tests: they live in migrate.testing.factories
(demos and benchmarks use them too), re-exported here."""

from __future__ import annotations

from migrate.testing.factories import (
    BASE_TIME,
    ListSource,
    comment,
    make_archive,
    page,
    threaded_site,
)

__all__ = ["BASE_TIME", "ListSource", "comment", "make_archive", "page", "threaded_site"]
