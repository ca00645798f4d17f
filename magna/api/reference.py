"""The API reference page: ``/v1/openapi.json`` rendered as one HTML page, on the server.

A pure function of the document (no template engine, no script, no asset from anywhere): the
page a browser gets at ``GET /`` until a dashboard exists. Operations are grouped by collection;
each shows its parameters, request body and answers; schemas are tables whose ``$ref`` types
link to their own section. Every text taken from the document is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from magna.api.openapi import REF

_METHODS = ("get", "post", "patch", "put", "delete")
_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;
color:#1d2330}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ccd;margin-top:2.5rem}
h3{margin:1.6rem 0 .3rem;font:600 1rem ui-monospace,monospace}
.m{display:inline-block;min-width:4.2rem;padding:.05rem .4rem;border-radius:.25rem;
color:#fff;text-transform:uppercase;text-align:center}
.get{background:#2f6f3e}.post{background:#2d5c9e}.patch{background:#8a5a00}
.delete{background:#a33}.put{background:#555}
table{border-collapse:collapse;margin:.3rem 0 .8rem;width:100%}
td,th{border:1px solid #dde;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f8}code{font:.9em ui-monospace,monospace}nav li{margin:.1rem 0}
"""


def render(doc: dict[str, Any], *, document_url: str) -> str:
    """The whole page for ``doc``; ``document_url`` is where the JSON document is served."""
    info = doc.get("info", {})
    groups = _groups(_inlined(doc))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))}</h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        f'<p>The machine-readable document: <a href="{escape(document_url)}">'
        f"<code>{escape(document_url)}</code></a> (OpenAPI {escape(doc.get('openapi', ''))})."
        "</p>",
        _contents(groups),
    ]
    for name, operations in groups.items():
        parts.append(f'<h2 id="{_anchor("group", name)}">{escape(name)}</h2>')
        parts.extend(_operation(method, path, op) for method, path, op in operations)
    parts.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        parts.append(f'<h3 id="{_anchor("schema", name)}">{escape(name)}</h3>')
        parts.append(_schema_table(schema))
    parts.append("</body></html>")
    return "\n".join(parts)


def _inlined(doc: dict[str, Any]) -> dict[str, Any]:
    """The paths with parameters and answers that refer to components taken from them."""
    components = doc.get("components", {})

    def resolve(item: dict[str, Any], kind: str) -> dict[str, Any]:
        name = str(item.get("$ref", "")).rpartition("/")[2]
        found: dict[str, Any] = components.get(kind, {}).get(name, item)
        return found

    paths: dict[str, Any] = {}
    for path, item in doc.get("paths", {}).items():
        paths[path] = {method: {**op, "parameters": [resolve(p, "parameters")
                                                     for p in op.get("parameters", [])],
                                "responses": {status: resolve(r, "responses") for status, r
                                              in op.get("responses", {}).items()}}
                       for method, op in item.items() if method in _METHODS}
    return paths


def _groups(paths: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in paths.items():
        segments = [s for s in path.split("/") if s and s != "v1"]
        name = segments[0] if segments else "versions"
        for method in _METHODS:
            if method in item:
                groups.setdefault(name, []).append((method, path, item[method]))
    return groups


def _contents(groups: dict[str, list[tuple[str, str, dict[str, Any]]]]) -> str:
    items = "".join(f'<li><a href="#{_anchor("group", name)}">{escape(name)}</a> '
                    f"({len(ops)})</li>" for name, ops in groups.items())
    return f'<nav><ul>{items}<li><a href="#schemas">Schemas</a></li></ul></nav>'


def _anchor(kind: str, name: str) -> str:
    return escape(f"{kind}-{name}".replace("/", "-"))


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f'<h3><span class="m {method}">{method}</span> {escape(path)}</h3>']
    if op.get("description") or op.get("summary"):
        parts.append(f"<p>{escape(op.get('description') or op.get('summary', ''))}</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td>{_type(p.get('schema', {}))}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>" for p in params)
        parts.append("<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Type</th>"
                     f"<th>Notes</th></tr>{rows}</table>")
    body = op.get("requestBody")
    if body:
        schema = body.get("content", {}).get("application/json", {}).get("schema", {})
        needed = "required" if body.get("required") else "optional"
        parts.append(f"<p>Request body ({needed}): {_type(schema)}</p>")
    answers = "".join(f"<li><code>{escape(status)}</code> {escape(r.get('description', ''))}"
                      f"{_answer_type(r)}</li>" for status, r in op.get("responses", {}).items())
    parts.append(f"<ul>{answers}</ul>")
    return "\n".join(parts)


def _answer_type(response: dict[str, Any]) -> str:
    content = response.get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema", {})
        return f": {_type(schema)}" if schema.get("$ref") or schema.get("anyOf") else ""
    return "".join(f" ({escape(kind)})" for kind in content)


def _schema_table(schema: dict[str, Any]) -> str:
    props = schema.get("properties")
    if not props:
        return f"<p>{_type(schema)}</p>"
    required = set(schema.get("required", ()))
    rows = "".join(f"<tr><td><code>{escape(name)}</code></td>"
                   f"<td>{'yes' if name in required else 'no'}</td><td>{_type(prop)}</td></tr>"
                   for name, prop in props.items())
    extra = "" if schema.get("additionalProperties") is not False else \
        "<p>No other attribute is accepted.</p>"
    return f"<table><tr><th>Attribute</th><th>Required</th><th>Type</th></tr>{rows}</table>{extra}"


def _type(schema: dict[str, Any]) -> str:
    """A short human reading of a JSON schema, with links for references."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(REF)
        return f'<a href="#{_anchor("schema", name)}">{escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(option) for option in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    text = escape(" or ".join(kind) if isinstance(kind, list) else str(kind))
    if kind == "array":
        text = f"array of {_type(schema.get('items', {}))}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = f"object of {_type(schema['additionalProperties'])}"
    return text + _constraints(schema)


def _constraints(schema: dict[str, Any]) -> str:
    found = [f"{name} {escape(str(schema[key]))}" for key, name in
             (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"),
              ("maximum", "≤"), ("maxItems", "at most items:"))
             if key in schema]
    if "pattern" in schema:
        found.append(f"matching <code>{escape(schema['pattern'])}</code>")
    return f" ({', '.join(found)})" if found else ""
