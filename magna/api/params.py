"""Typed query-string parameters, read with the rules and wording of Magnum's WSME types.

Collection paging has its own module (``magna.api.pagination``); this one holds the few other
flags resources take (``all_tenants`` on quotas, ``rollback`` on bay updates), so that every
resource spells "true" the same way and rejects nonsense with the same 400.
"""

from __future__ import annotations

from magna.common.exceptions import Invalid

# The spellings oslo's strutils.bool_from_string accepts in strict mode, as WSME's
# ``types.boolean`` did upstream.
TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def boolean(value: str | None, name: str, default: bool = False) -> bool:
    """``value`` as a boolean; absent or empty gives ``default``, nonsense gives 400."""
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise Invalid(f"Invalid input for field/attribute {name}. Value: '{value}'. "
                  "Unrecognized value, acceptable values are: '0', '1', 'f', 'false', 'n', "
                  "'no', 'off', 'on', 't', 'true', 'y', 'yes'")


ID_DIGITS = 18  # every integer of up to 18 digits fits the databases' 64-bit ids


def integer(value: str | None, name: str) -> int | None:
    """``value`` as an integer (e.g. the quota ``marker``); absent gives None, nonsense 400."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"Invalid input for field/attribute {name}. Value: '{value}'. "
                      "Value should be an integer.") from None
    if abs(number) >= 10 ** ID_DIGITS:
        # NOTE: the databases' integer ids are 64-bit; a larger number names nothing, and the
        # drivers refuse to bind it (SQLite raised OverflowError: a 500).
        raise Invalid(f"Invalid input for field/attribute {name}. Value: '{value}'. "
                      f"Value should be an integer of at most {ID_DIGITS} digits.")
    return number
