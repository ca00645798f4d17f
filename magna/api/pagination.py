"""``limit``/``marker``/``sort_key``/``sort_dir`` parsing and the ``next`` link."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from magna.api import deps
from magna.common.exceptions import Invalid
from magna.domain.paging import Page


def page_from(request: Request, default_sort: str = "id") -> Page:
    params = request.query_params
    max_limit = deps.services(request).conf.api.max_limit
    raw_limit = params.get("limit")
    limit = max_limit
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except ValueError:
            raise Invalid(f"Invalid input for field/attribute limit. Value: '{raw_limit}'. "
                          "Value should be an integer.") from None
        if limit <= 0:
            raise Invalid("Limit must be positive")
        limit = min(limit, max_limit)
    sort_dir = params.get("sort_dir") or "asc"
    if sort_dir not in ("asc", "desc"):
        raise Invalid(f"Invalid sort direction: {sort_dir}. Acceptable values are 'asc' or "
                      "'desc'")
    return Page(limit=limit, marker=params.get("marker") or None,
                sort_key=params.get("sort_key") or default_sort, sort_dir=sort_dir)


def collection(request: Request, key: str, items: list[dict[str, object]], page: Page,
               path: str, last_marker: str | None, extra: dict[str, str] | None = None
               ) -> dict[str, object]:
    """``{key: items}`` plus ``next`` when the page is full, as upstream."""
    body: dict[str, object] = {key: items}
    if items and len(items) == page.limit and last_marker is not None:
        query = {"sort_key": page.sort_key, "sort_dir": page.sort_dir, "limit": page.limit,
                 "marker": last_marker, **(extra or {})}
        body["next"] = f"{deps.base_url(request)}{path}?{urlencode(query)}"
    return body
