"""Turning command line words into request bodies; pure functions, unit tested.

``bay-update swarmbay replace node_count=2`` (and every ``*-update``) takes an operation and
``key=value`` words, as the original ``magnum`` client did; ``patch`` turns them into an RFC 6902
list. Values that read as integers or booleans are sent as such; ``labels=a=1,b=2`` becomes a
dict. ``--labels`` accepts ``a=1,b=2`` once or ``a=1`` several times. ``container-create``'s
``--memory`` takes ``64m``/``1g`` or MiB, ``--environment`` one ``KEY=VALUE`` each.
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


_MEMORY = re.compile(r"^(\d+)([bkmg]?)$", re.IGNORECASE)
_UNIT = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def memory_mib(text: str) -> int:
    """``"64m"`` → 64, ``"1g"`` → 1024, ``"64"`` → 64 (MiB), ``"1024k"`` → 1; the
    original client's ``<number><optional unit>`` with b, k, m or g, in whole MiB."""
    match = _MEMORY.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"Memory must be a number of MiB or a number with a "
                                         f"unit b, k, m or g (64m, 1g), got '{text}'.")
    number, unit = int(match.group(1)), match.group(2).lower()
    if not unit:
        return number
    size = number * _UNIT[unit]
    if size % _UNIT["m"]:
        raise argparse.ArgumentTypeError(f"Memory must be a whole number of MiB, got '{text}'.")
    return size // _UNIT["m"]


def env_var(word: str) -> tuple[str, str]:
    """``"B=x,y"`` → ``("B", "x,y")``: one variable per ``--environment``, commas kept."""
    key, sep, val = word.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"Environment variables must be KEY=VALUE, got "
                                         f"'{word}'.")
    return key, val
