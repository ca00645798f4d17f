"""Magnum's flavour of RFC 6902 JSON patch, applied to a resource's document.

Magnum adds rules on top of the RFC: paths are ``/field[/subkey]`` made of word characters and
dashes; some attributes are internal (never patchable) or mandatory (never removable); ``add`` on a
top-level attribute only fills a null one. The actual application is done by the ``jsonpatch``
library once those rules pass.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

import jsonpatch

from magna.common.exceptions import Invalid

PATH_RE = re.compile(r"^(/[\w-]+)+$")
OPS = ("add", "replace", "remove")
# NOTE: openstacksdk's update_cluster and update_cluster_template send this operation before
# the real ones (its resource calls the uuid ``id``, and it diffs the renamed documents).
# Upstream answers 400, so no SDK user can update anything there; here it is a no-op, and any
# other ``move`` is still refused as an unknown operation.
SDK_RENAME = {"op": "move", "from": "/uuid", "path": "/id"}
COMMON_INTERNAL = frozenset({"/uuid", "/id", "/links", "/created_at", "/updated_at",
                             "/project_id", "/user_id"})


def validate_ops(patch: Any) -> list[dict[str, Any]]:
    """Check the shape of a patch document and return it as a list of operations."""
    if not isinstance(patch, list):
        raise Invalid(f"Invalid input for field/attribute patch. Value: '{patch}'. "
                      "Value not a valid list")
    ops: list[dict[str, Any]] = []
    for item in patch:
        if item == SDK_RENAME:
            continue
        if not isinstance(item, dict):
            raise Invalid(f"Invalid input for field/attribute patch. Value: '{item}'. "
                          "Each operation must be an object.")
        unknown = set(item) - {"op", "path", "value"}
        if unknown:
            raise Invalid(f"Unknown attribute for argument patch: {', '.join(sorted(unknown))}")
        op, path = item.get("op"), item.get("path")
        if op not in OPS:
            raise Invalid(f"Invalid input for field/attribute op. Value: '{op}'. "
                          f"Value should be one of: {', '.join(OPS)}")
        if not isinstance(path, str) or not PATH_RE.match(path):
            raise Invalid(f"Invalid input for field/attribute path. Value: '{path}'. "
                          "Invalid patch path")
        if op in ("add", "replace") and "value" not in item:
            raise Invalid(f"Invalid input for field/attribute value. Value: 'None'. "
                          f"'add' and 'replace' operations need a value ({path})")
        ops.append(item)
    return ops


def apply(doc: dict[str, Any], patch: Any, *, internal: Iterable[str] = (),
          mandatory: Iterable[str] = ()) -> dict[str, Any]:
    """Return a patched copy of ``doc``; removed top-level attributes become None."""
    ops = validate_ops(patch)
    internal_set = COMMON_INTERNAL | set(internal)
    mandatory_set = set(mandatory)
    for item in ops:
        _check_op(doc, item, internal_set, mandatory_set)
    try:
        result: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(doc), ops)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise Invalid(f"Couldn't apply patch '{ops}'. Reason: {exc}") from None
    for key in doc:
        result.setdefault(key, None)
    return result


def _check_op(doc: dict[str, Any], item: dict[str, Any], internal: frozenset[str] | set[str],
              mandatory: set[str]) -> None:
    path: str = item["path"]
    top = "/" + path.split("/")[1]
    if top in internal or path in internal:
        raise Invalid(f"'{path}' is an internal attribute and can not be updated")
    if item["op"] == "remove" and path in mandatory:
        raise Invalid(f"'{path}' is a mandatory attribute and can not be removed")
    if item["op"] == "add" and path == top:
        name = top[1:]
        if name not in doc:
            raise Invalid(f"Adding a new attribute {path} to the root of the resource is not "
                          "allowed.")
        if doc[name] is not None:
            raise Invalid(f"The attribute {path} has existed, please use 'replace' operation "
                          "instead.")
    if path != top and top[1:] not in doc:
        raise Invalid(f"Couldn't apply patch: unknown attribute {top}")


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in after if before.get(k) != after.get(k)}
