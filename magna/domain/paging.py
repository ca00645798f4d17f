"""Which slice of a collection a list asks for: the one value the API, the services and the
repository all speak (``api.pagination`` parses it from the query, ``db.repository`` turns it into
ORDER BY, WHERE after the marker and LIMIT)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    limit: int
    marker: str | None = None
    sort_key: str = "id"
    sort_dir: str = "asc"
