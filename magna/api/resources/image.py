"""A Glance v2 subset at ``/image/v2``: reading ``images``, for the stock ``openstack image
list|show``.

The images are the enabled drivers' catalogs (``services/catalog_reads.py``): every one public,
active and protected, with its catalog properties (``os_distro``, …) as Glance's custom
properties, which is how a template's image is matched to a driver. Listing filters on any
property by equality and pages with ``limit``/``marker`` and a ``next`` link, as Glance does.
Writing is not offered: images are not uploaded, they are what the drivers can build, so
``POST``, ``PATCH``, ``PUT`` and ``DELETE`` answer 501 in Glance's error shape
(``api/foreign.py``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from magna.api import deps, foreign
from magna.common.exceptions import Invalid, MagnaError
from magna.drivers.catalog import Image
from magna.services import catalog_reads

router = APIRouter(prefix=foreign.IMAGE, include_in_schema=False)
# NOTE: catalog images have no upload time; a fixed date keeps answers stable across restarts.
EPOCH = "2021-01-01T00:00:00Z"
PAGING = {"limit", "marker", "sort_key", "sort_dir", "sort"}
SORT_KEYS = {"name", "id", "created_at", "updated_at", "status", "visibility"}
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


class NotImplementedHere(MagnaError):
    status = 501
    code = "client"


def _version_doc(request: Request) -> dict[str, Any]:
    href = f"{deps.base_url(request)}{foreign.IMAGE}/v2/"
    return {"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}


@router.get("")
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version_doc(request)]}


@router.get("/versions")
def versions_alias(request: Request) -> dict[str, Any]:
    return versions(request)


def view(image: Image) -> dict[str, Any]:
    return {**image.properties, "os_distro": image.os_distro,
            "id": image.id, "name": image.name, "status": "active", "visibility": "public",
            "protected": True, "os_hidden": False, "owner": None, "tags": [],
            "checksum": None, "os_hash_algo": None, "os_hash_value": None, "size": None,
            "virtual_size": None, "disk_format": None, "container_format": None,
            "min_ram": 0, "min_disk": 0, "created_at": EPOCH, "updated_at": EPOCH,
            "self": f"/v2/images/{image.id}", "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image"}


def _matches(row: dict[str, Any], filters: dict[str, str]) -> bool:
    return all(key in row and _text(row[key]) == value for key, value in filters.items())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def _sorted(rows: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    key = query.get("sort_key", "created_at")
    direction = query.get("sort_dir", "desc")
    if key not in SORT_KEYS:
        raise Invalid(f"Invalid sort_key {key}: one of {', '.join(sorted(SORT_KEYS))}.")
    if direction not in ("asc", "desc"):
        raise Invalid(f"Invalid sort_dir {direction}: asc or desc.")
    # NOTE: ties (every created_at is EPOCH) keep a stable order by id, so markers work.
    rows = sorted(rows, key=lambda r: r["id"])
    return sorted(rows, key=lambda r: _text(r[key]), reverse=direction == "desc")


def _sort_param(query: dict[str, str]) -> dict[str, str]:
    """Glance's newer ``sort=key:dir,…`` as ``sort_key``/``sort_dir`` (its first key)."""
    if "sort" not in query:
        return query
    key, _, direction = query["sort"].split(",")[0].partition(":")
    return {**query, "sort_key": key, "sort_dir": direction or "desc"}


def _page(rows: list[dict[str, Any]], query: dict[str, str]
          ) -> tuple[list[dict[str, Any]], bool]:
    marker = query.get("marker")
    if marker is not None:
        ids = [r["id"] for r in rows]
        if marker not in ids:
            raise Invalid(f"Invalid marker. Image {marker} could not be found.")
        rows = rows[ids.index(marker) + 1:]
    limit = query.get("limit")
    if limit is None:
        return rows, False
    if not limit.isdigit():
        raise Invalid(f"limit param must be an integer, not {limit}")
    return rows[:int(limit)], len(rows) > int(limit)


@router.get("/v2/images")
def list_images(request: Request) -> dict[str, Any]:
    query = _sort_param(dict(request.query_params))
    filters = {k: v for k, v in query.items() if k not in PAGING}
    if filters.get("visibility") == "all":  # Glance's "every image I may see"
        del filters["visibility"]
    rows = [view(i) for i in catalog_reads.images(deps.services(request))]
    page, more = _page(_sorted([r for r in rows if _matches(r, filters)], query), query)
    body: dict[str, Any] = {"images": page, "schema": "/v2/schemas/images",
                            "first": "/v2/images"}
    if more:
        body["next"] = "/v2/images?" + urlencode({**query, "marker": page[-1]["id"]})
    return body


@router.get("/v2/images/{image_id}")
def show_image(request: Request, image_id: str) -> dict[str, Any]:
    return view(catalog_reads.image(deps.services(request), image_id))


@router.api_route("/v2/images", methods=WRITES)
@router.api_route("/v2/images/{image_id:path}", methods=WRITES)
def refuse_writes(request: Request) -> None:
    raise NotImplementedHere(
        f"{request.method} is not implemented: Magna's images are its drivers' catalogs, "
        "which are read-only (no upload, update or delete).")
