"""Turning command line words into request bodies; pure functions, unit tested.

``bay-update swarmbay replace node_count=2`` (and every ``*-update``) takes an operation and
``key=value`` words, as the original ``magnum`` client did; ``patch`` turns them into an RFC 6902
list. Values that read as integers or booleans are sent as such; ``labels=a=1,b=2`` becomes a
dict. ``--labels`` accepts ``a=1,b=2`` once or ``a=1`` several times.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

OPS = ("add", "replace", "remove")
_INT = re.compile(r"^-?\d+$")


def value_of(text: str) -> Any:
    """``"2"`` → 2, ``"true"`` → True, anything else unchanged."""
    if _INT.match(text):
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def labels(words: Sequence[str]) -> dict[str, str]:
    """``["a=1,b=2"]`` or ``["a=1", "b=2"]`` → ``{"a": "1", "b": "2"}``."""
    result: dict[str, str] = {}
    for word in words:
        for item in word.split(",") if len(words) == 1 else [word]:
            key, sep, val = item.partition("=")
            if not sep or not key:
                raise argparse.ArgumentTypeError(f"Labels must be KEY=VALUE, got '{item}'.")
            result[key.strip()] = val.strip()
    return result


def patch(op: str, words: Sequence[str]) -> list[dict[str, Any]]:
    """``("replace", ["node_count=2"])`` → ``[{"op": "replace", "path": "/node_count",
    "value": 2}]``; ``remove`` takes bare keys."""
    if op not in OPS:
        raise argparse.ArgumentTypeError(f"Operation must be one of {', '.join(OPS)}, "
                                         f"got '{op}'.")
    if not words:
        raise argparse.ArgumentTypeError("Give at least one attribute to change.")
    return [_one(op, word) for word in words]


def _one(op: str, word: str) -> dict[str, Any]:
    key, sep, text = word.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"Attribute name missing in '{word}'.")
    path = "/" + key.strip("/")
    if op == "remove":
        return {"op": op, "path": path}
    if not sep:
        raise argparse.ArgumentTypeError(f"'{op}' needs KEY=VALUE, got '{word}'.")
    value: Any = labels([text]) if key == "labels" else value_of(text)
    return {"op": op, "path": path, "value": value}
