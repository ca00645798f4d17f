"""Request bodies: JSON decoding and schema validation with Magnum's error messages.

Handlers read the body through ``json_body`` (malformed JSON is a 400, never a 500) and validate
it with ``parse``: unknown attributes, wrong types and missing mandatory fields all become
``Invalid`` with the wording WSME used, which clients and tempest match on.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from starlette.requests import Request

from magna.common.exceptions import Invalid

M = TypeVar("M", bound=BaseModel)

#: A name or reference of at most 255 characters (Magnum's String(255) columns), not empty.
Str255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]
#: A label's value as clients send it; labels are stored as strings (``domain.labels``).
LabelValue = str | int | bool | float

# The spellings of a flag besides JSON true/false, in any letter case (pydantic's lax bool,
# close to the strutils.bool_from_string that WSME's boolean type used upstream).
FLAG_WORDS = ("0", "1", "f", "false", "n", "no", "off", "on", "t", "true", "y", "yes")


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


FLAG_SCHEMA = {"anyOf": [
    {"type": "boolean"}, {"enum": [0, 1]},
    {"type": "string", "pattern": f"^(?:{'|'.join(_any_case(w) for w in FLAG_WORDS)})$"}]}
#: A boolean attribute: JSON true/false, 0/1 or one of ``FLAG_WORDS`` (the body is strict
#: otherwise; this is what Magnum's boolean type took).
Flag = Annotated[bool, Field(strict=False), WithJsonSchema(FLAG_SCHEMA)]


class Body(BaseModel):
    """Base of request schemas: unknown attributes are rejected, as upstream.

    NOTE: strict types: an integer attribute takes a JSON integer, never "5" or true (WSME
    answered "Wrong type" to those upstream too), so the API document's types are the truth;
    booleans are ``Flag``.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)


class EchoedClusterFields(Body):
    """Read-only cluster attributes clients may send back; accepted and ignored, as upstream."""

    uuid: Any = None
    links: Any = None
    stack_id: Any = None
    status: Any = None
    status_reason: Any = None
    api_address: Any = None
    coe_version: Any = None
    container_version: Any = None
    node_addresses: Any = None
    master_addresses: Any = None
    created_at: Any = None
    updated_at: Any = None


ECHOED_CLUSTER_FIELDS = tuple(EchoedClusterFields.model_fields)


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


async def json_body(request: Request, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise Invalid("The request body is empty; a JSON document is required.")
        return None
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(f"Malformed JSON in the request body: {exc}") from None


def parse(model: type[M], data: Any, argument: str, drop_nulls: bool = True) -> dict[str, Any]:
    """Validate ``data`` against ``model``; return only the attributes the caller provided.

    JSON ``null`` counts as "not provided" for optional fields, as in Magnum.
    """
    if not isinstance(data, dict):
        raise Invalid(f"Invalid input for field/attribute {argument}. Value: '{data}'. "
                      "Value should be a JSON object.")
    if drop_nulls:
        data = {k: v for k, v in data.items() if v is not None}
    # NOTE: 3.0 is an integer to JSON Schema (and the document); the strict models would
    # refuse it, so an attribute's integral float is read as the integer it is.
    data = {k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in data.items()}
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(describe(exc, argument)) from None
    return parsed.model_dump(exclude_unset=True)


def describe(exc: ValidationError, argument: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in error["loc"]) or argument
    if error["type"] == "extra_forbidden":
        return f"Unknown attribute for argument {argument}: {loc}"
    if error["type"] == "missing":
        return f"Invalid input for field/attribute {loc}. Value: 'None'. Mandatory field missing."
    value = error.get("input")
    message = error["msg"].replace("Input should be", "Value should be")
    return f"Invalid input for field/attribute {loc}. Value: '{value}'. {message}"
