"""Labels: Magnum stores every label value as a string and compares clusters to templates."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from magna.common.exceptions import Invalid


def stringify(labels: Mapping[str, Any] | None) -> dict[str, str]:
    """Coerce label values to strings the way Magnum does (``True`` → ``"True"``, 1 → ``"1"``)."""
    return {str(k): str(v) for k, v in (labels or {}).items()}


def literal(value: Any, expected: type, field: str) -> Any:
    """Accept a JSON value or a string holding a Python literal (what clients send in patches)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise Invalid(f"Invalid value for {field}: {exc}") from None
    if not isinstance(value, expected):
        raise Invalid(f"Invalid input for field/attribute {field}. Value: '{value}'. "
                      f"Value should be a {expected.__name__}.")
    return value


def compare(labels: Mapping[str, str], reference: Mapping[str, str]
            ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(overridden, added, skipped) of ``labels`` against ``reference`` (the template's)."""
    overridden = {k: reference[k] for k, v in labels.items() if k in reference and
                  reference[k] != v}
    added = {k: v for k, v in labels.items() if k not in reference}
    skipped = {k: v for k, v in reference.items() if k not in labels}
    return overridden, added, skipped
