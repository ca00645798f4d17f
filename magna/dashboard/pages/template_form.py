"""The cluster template form: every field the API accepts, and how form text becomes JSON.

A browser sends strings. ``FIELDS`` says what each field of ``/v1/clustertemplates`` is (text,
whole number, checkbox, choice from a catalog, labels), and the functions here turn the
submitted strings into the API's body (create) or into a JSON patch of only what changed
(update). Nothing is validated here beyond what a string cannot say (a label line without
``=``): the API judges every value, and its message is what the user reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from magna.dashboard.forms import format_pairs, locate, number, parse_pairs

TEXT, NUMBER, FLAG, CHOICE, LABELS = "text", "number", "flag", "choice", "labels"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = TEXT
    help: str = ""
    choices: str = ""  # the catalog a CHOICE field's options come from
    required: bool = False
    suggest: tuple[str, ...] = ()  # values offered while typing (a datalist), not a limit


# The form's sections, in order; every attribute of TemplateCreate a user may set.
SECTIONS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Template", (
        Field("name", "Name"),
        Field("coe", "Container orchestration engine", CHOICE, choices="coe", required=True),
        Field("image_id", "Image", CHOICE, "The node image; with the COE it picks the driver.",
              choices="images", required=True),
        Field("server_type", "Server type", CHOICE, choices="server_types"),
        Field("tags", "Tags", help="Free text, stored with the template."),
    )),
    ("Nodes", (
        Field("flavor_id", "Worker flavor", CHOICE, choices="flavors"),
        Field("master_flavor_id", "Control-plane flavor", CHOICE, choices="flavors"),
        Field("keypair_id", "Keypair", CHOICE, "The key that logs in to every node.",
              choices="keypairs"),
        Field("docker_volume_size", "Docker volume size (GiB)", NUMBER,
              "Each node's data disk; empty: the host's filesystem."),
        Field("docker_storage_driver", "Docker storage driver",
              suggest=("overlay2", "vfs", "devicemapper")),
        Field("volume_driver", "Volume driver", suggest=("cinder", "rexray")),
    )),
    ("Network", (
        Field("external_network_id", "External network", suggest=("public",)),
        Field("fixed_network", "Fixed network"),
        Field("fixed_subnet", "Fixed subnet"),
        Field("network_driver", "Network driver", suggest=("docker", "flannel", "calico")),
        Field("dns_nameserver", "DNS nameservers", help="IPv4 addresses, comma-separated."),
        Field("apiserver_port", "API server port", NUMBER),
        Field("master_lb_enabled", "Load balancer in front of the control plane", FLAG),
        Field("floating_ip_enabled", "Floating IPs (node addresses reachable from the host)",
              FLAG),
        Field("http_proxy", "HTTP proxy"),
        Field("https_proxy", "HTTPS proxy"),
        Field("no_proxy", "No proxy"),
    )),
    ("Registry and TLS", (
        Field("registry_enabled", "Registry in the cluster", FLAG),
        Field("insecure_registry", "Insecure registry"),
        Field("tls_disabled", "TLS disabled", FLAG),
    )),
    ("Visibility", (
        Field("public", "Public (every project sees it)", FLAG),
        Field("hidden", "Hidden (left out of lists)", FLAG),
    )),
    ("Labels", (
        Field("labels", "Labels", LABELS, "One key=value a line."),
    )),
)
FIELDS: tuple[Field, ...] = tuple(f for _, section in SECTIONS for f in section)
NAMES = [f.name for f in FIELDS]
# A new template's form starts with the API's own defaults for these.
DEFAULTS = {"server_type": "vm", "floating_ip_enabled": "true", "coe": "swarm-mode",
            "external_network_id": "public"}


def form_values(template: dict[str, Any]) -> dict[str, str]:
    """A template as the strings its edit form shows."""
    values: dict[str, str] = {}
    for f in FIELDS:
        value = template.get(f.name)
        if f.kind == LABELS:
            values[f.name] = format_pairs(value)
        elif f.kind == FLAG:
            values[f.name] = "true" if value else ""
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def api_value(f: Field, text: str) -> Any:
    """One submitted string as the API's value (None: not set)."""
    if f.kind == FLAG:
        return text == "true"
    if f.kind == LABELS:
        return parse_pairs(text, "labels")
    if text == "":
        return None
    if f.kind == NUMBER:
        return number(text)
    return text


def api_values(values: dict[str, str]) -> dict[str, Any]:
    return {f.name: api_value(f, values.get(f.name, "")) for f in FIELDS}


def create_body(values: dict[str, str]) -> dict[str, Any]:
    """The POST body: every field set (unset ones left to the API's defaults)."""
    return {name: value for name, value in api_values(values).items() if value is not None}


def patch_ops(template: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
    """A JSON patch of only the fields whose value the form changed."""
    ops: list[dict[str, Any]] = []
    for name, new in api_values(values).items():
        old = template.get(name)
        if new == old or (name == "labels" and new == (old or {})):
            continue
        if new is None:
            ops.append({"op": "remove", "path": f"/{name}"})
        else:
            ops.append({"op": "replace", "path": f"/{name}", "value": new})
    return ops


# Words the API's messages use for a field instead of its attribute name; where one word
# stands for several fields, the one whose submitted value the message quotes is meant.
ALIASES: dict[str, tuple[str, ...]] = {
    "label": ("labels",), "image": ("image_id",), "keypair": ("keypair_id",),
    "flavor": ("flavor_id", "master_flavor_id"), "cluster type": ("server_type",),
    "dns": ("dns_nameserver",)}


def errors_for(message: str, values: dict[str, str]) -> dict[str, str]:
    """Where the API's message goes: beside the field it names ("volume_driver", "Volume
    driver type cinder ...", "Unable to find flavor m1.huge"), else above the form."""
    return locate(message, NAMES, values, ALIASES)
