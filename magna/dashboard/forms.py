"""Form text <-> API values, and where an API message is shown on a form.

A browser sends strings. The pages turn them into the API's types only where the text is
unambiguous (``number``, ``parse_pairs``); anything else is sent as typed, so the API judges it
and its message names the field. The one thing a form refuses itself is text that cannot even
become a request (a ``key=value`` line without ``=``): ``BadText``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Where a message that concerns no single field is shown.
FORM = "_form"


class BadText(ValueError):
    """A form value that cannot be put into a request at all (its field, and why)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def number(text: str) -> int | str:
    """An integer when the text is one; else the text itself, for the API to refuse by name."""
    try:
        return int(text)
    except ValueError:
        return text


def parse_pairs(text: str, field: str) -> dict[str, str]:
    """``key=value`` lines (blank lines skipped) as a dict; a line without ``=`` is refused."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BadText(field, f"'{line.strip()}' is not a key=value line.")
        pairs[key.strip()] = value.strip()
    return pairs


def format_pairs(pairs: Mapping[str, Any] | None) -> str:
    return "\n".join(f"{key}={value}" for key, value in (pairs or {}).items())


def locate(message: str, fields: Iterable[str], values: Mapping[str, str] | None = None,
           aliases: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """The field an API message is about, as ``{field: message}`` (``FORM`` when none).

    In order: the field the message names, as an attribute or in words ("node_count",
    "fixed network"; the longest name wins); the field whose typed value it quotes ("Unable to
    find flavor m1.huge" is about whichever flavor field holds m1.huge); a word the API uses
    for a field instead of its name (``aliases``: "label" -> labels).
    """
    names = list(fields)
    lowered = message.lower()
    for name in sorted(names, key=len, reverse=True):
        if name.lower() in lowered or name.replace("_", " ").lower() in lowered:
            return {name: message}
    for name in names:
        if quotes(message, (values or {}).get(name, "")):
            return {name: message}
    for phrase, candidates in (aliases or {}).items():
        meant = [name for name in candidates if name in names]
        if phrase in lowered and meant:
            return {meant[0]: message}
    return {FORM: message}


def quotes(message: str, value: str) -> bool:
    """Whether a message names a (word-like, not merely numeric) value the user typed."""
    if len(value) < 3 or value.isdigit():
        return False
    return re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w-])", message) is not None
