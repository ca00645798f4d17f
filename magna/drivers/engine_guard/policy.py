"""What a sealed node's engine lets a cluster's users do: the decision of Magna's Docker
authorization plugin, as a pure function of one request (no I/O).

A sealed node's dockerd asks the plugin about every API call (``AuthZPlugin.AuthZReq``) with the
method, the raw request URI, the request body (base64, only when dockerd shows it) and the TLS
user. The tenant holds the cluster's client certificate, so whatever the engine accepts the
tenant can do; the engine runs as root on the host. This module keeps the tenant inside the node:

    request -> normalise the path as dockerd routes it -> find the route in an ALLOW-LIST
            -> (routes that carry a spec) parse the body as Go would -> refuse what breaks out

NOTE: an allow-list, not a deny-list: a naive plugin was bypassed three ways during the probe
(``/work/proto-seal/FINDINGS.md`` section 3), and each bypass is a request the plugin did not
recognise while dockerd did. Everything not listed here is refused:

- The path is percent-decoded, ``//`` collapsed and the ``/vX.Y`` prefix stripped before
  matching (dockerd routes on the decoded path: ``/v1.41/%63ontainers/create`` *is* create);
  paths with ``.``/``..`` segments are refused (dockerd redirects them, nothing needs them).
- JSON object keys are case-folded (Go's decoder matches field names ignoring case, with Unicode
  folding: ``Bind`` + U+017F long s is ``Binds``), the last duplicate wins, and a repeated
  object merges into the earlier one as Go decodes into an existing struct.
- A route whose body is inspected is refused when dockerd did not show the body (it shows only
  ``application/json`` bodies under 1 MiB with a known length; ``services/create`` with
  ``text/plain`` is accepted by dockerd 20.10 and would pass unseen).

Swarm tasks are created by the engine without an API call, so a service's spec at the manager is
the only place to check them. Refusals are one sentence naming what the cluster does not allow.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    """The plugin's answer: ``message`` is what the user reads when ``allow`` is False."""

    allow: bool
    message: str = ""


ALLOW = Decision(allow=True)

# NOTE: Docker's default capability set (moby oci/caps/defaults.go, 20.10): adding one of these
# back after a --cap-drop is harmless, anything else is not.
DEFAULT_CAPS = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"})
HOST_MODES = ("PidMode", "IpcMode", "UTSMode", "NetworkMode", "UsernsMode", "CgroupnsMode")
VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
HEX_REFERENCE = re.compile(r"[0-9a-fA-F]+")
VERSION_PREFIX = re.compile(r"^/v([0-9.]+)(?=/)")
# NOTE: the oldest API version whose behaviour this policy was written against (docker 19.03);
# older ones keep legacy behaviour (a HostConfig in a start body before 1.24) and no current
# client asks for them (the CLI and docker-py negotiate the engine's 1.41).
MIN_API_VERSION = (1, 40)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Call:
    """One API call as dockerd routes it: decoded path, query, headers (lower-case names) and
    the body parsed with case-folded keys (None when dockerd did not show it)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: Any


Check = Callable[[Call], str | None]


@dataclass(frozen=True)
class Route:
    """An allowed (method, path) pair; ``needs_body`` routes are refused without a visible
    body, and ``check`` returns the refusal sentence or None."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    check: Check | None = None
    needs_body: bool = False


# --- reading a body as dockerd's Go decoder does ------------------------------------------------

def _fold_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with case-folded keys; a repeated key replaces the earlier value, except
    that two objects merge (Go decodes the second into the struct the first filled)."""
    folded: dict[str, Any] = {}
    for key, value in pairs:
        name = key.casefold()
        earlier = folded.get(name)
        if isinstance(earlier, dict) and isinstance(value, dict):
            value = _merge(earlier, value)
        folded[name] = value
    return folded


def _merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    merged = dict(earlier)
    for name, value in later.items():
        before = merged.get(name)
        merged[name] = (_merge(before, value) if isinstance(before, dict)
                        and isinstance(value, dict) else value)
    return merged


def field(value: Any, *names: str) -> Any:
    """``value[names[0]][names[1]]...`` over case-folded objects; None where a step is missing
    or not an object."""
    for name in names:
        if not isinstance(value, dict):
            return None
        value = value.get(name.casefold())
    return value


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _body(request: Mapping[str, Any]) -> tuple[bool, Any]:
    """(visible, parsed body); a body that is not base64 JSON counts as not visible."""
    raw = request.get("RequestBody")
    if not isinstance(raw, str) or not raw:
        return False, None
    try:
        return True, json.loads(base64.b64decode(raw, validate=True),
                                object_pairs_hook=_fold_pairs)
    except (binascii.Error, ValueError, RecursionError):
        return False, None


# --- rules over specs ---------------------------------------------------------------------------

def _capability(name: Any) -> str:
    upper = str(name).upper()
    return upper.removeprefix("CAP_")


def _added_capabilities(names: Any) -> str | None:
    extra = sorted({_capability(name) for name in _items(names)} - DEFAULT_CAPS)
    if extra:
        return f"This cluster does not allow adding the capabilities {', '.join(extra)}."
    return None


def _bind(entry: Any) -> str | None:
    """``Binds`` entries: ``<dest>`` (anonymous volume) or ``<volume name>:<dest>[:mode]``."""
    parts = str(entry).split(":")
    if len(parts) == 1 or VOLUME_NAME.fullmatch(parts[0]):
        return None
    return (f"This cluster does not allow bind mounts of host paths ({parts[0]}); "
            f"use a named volume.")


def _mount(mount: Any) -> str | None:
    """``Mounts`` entries: named volumes (local, no driver options) and tmpfs only."""
    kind = str(field(mount, "Type") or "volume").lower()
    if kind not in ("volume", "tmpfs"):
        return (f"This cluster does not allow mounts of type {kind} "
                f"({field(mount, 'Source') or ''}); use a named volume or tmpfs.")
    driver = field(mount, "VolumeOptions", "DriverConfig")
    if str(field(driver, "Name") or "local") != "local" or field(driver, "Options"):
        return "This cluster does not allow volume driver options."
    return None


def _mounts(binds: Any, mounts: Any) -> str | None:
    for entry in _items(binds):
        if reason := _bind(entry):
            return reason
    for mount in _items(mounts):
        if reason := _mount(mount):
            return reason
    return None


def _host_modes(host_config: Any) -> str | None:
    for key in HOST_MODES:
        if str(field(host_config, key) or "").lower() == "host":
            return f"This cluster does not allow {key}=host."
    network = str(field(host_config, "NetworkMode") or "")
    # NOTE: dockerd resolves a network ID to the predefined network's name ("host") after the
    # string check above, so an all-hex reference could be the host network's ID.
    if HEX_REFERENCE.fullmatch(network):
        return ("This cluster does not allow a NetworkMode that names a network by its ID; "
                "use the network's name.")
    return None


def _devices(resources: Any) -> str | None:
    for key in ("Devices", "DeviceCgroupRules", "DeviceRequests"):
        if field(resources, key):
            return f"This cluster does not allow access to host devices ({key})."
    if field(resources, "CgroupParent"):
        return "This cluster does not allow setting CgroupParent."
    return None


def _security(host_config: Any) -> str | None:
    for option in _items(field(host_config, "SecurityOpt")):
        if re.split(r"[:=]", str(option), maxsplit=1)[0] != "no-new-privileges":
            return f"This cluster does not allow the security option {option}."
    if str(field(host_config, "Runtime") or "runc") != "runc":
        return f"This cluster does not allow the runtime {field(host_config, 'Runtime')}."
    if field(host_config, "MaskedPaths") is not None \
            or field(host_config, "ReadonlyPaths") is not None:
        return "This cluster does not allow changing MaskedPaths or ReadonlyPaths."
    if str(field(host_config, "VolumeDriver") or "local") != "local":
        return "This cluster does not allow volume drivers other than local."
    return None


def host_config_refusal(host_config: Any) -> str | None:
    """Why a container's HostConfig breaks the seal, or None."""
    if field(host_config, "Privileged"):
        return "This cluster does not allow privileged containers."
    return (_host_modes(host_config) or _added_capabilities(field(host_config, "CapAdd"))
            or _devices(host_config) or _security(host_config)
            or _mounts(field(host_config, "Binds"), field(host_config, "Mounts")))


def _container_create(call: Call) -> str | None:
    # NOTE: dockerd 20.10's create wrapper embeds a second HostConfig at the top level and uses
    # it when "HostConfig" is absent: {"Image": .., "Binds": ["/:/h"], "Privileged": true}
    # creates exactly that container. Config has no field of these names, so check both.
    return (host_config_refusal(field(call.body, "HostConfig"))
            or host_config_refusal(call.body))


def _container_start(call: Call) -> str | None:
    # NOTE: before API 1.24 a start could carry a HostConfig that dockerd still applies;
    # old versions are refused in decide(), and no client sends a body to start.
    if call.body is not None:
        return "This cluster does not allow host settings when a container starts."
    return None


def _container_update(call: Call) -> str | None:
    return _devices(call.body)


def _exec_create(call: Call) -> str | None:
    if field(call.body, "Privileged"):
        return "This cluster does not allow privileged exec."
    return None


def _privileges(privileges: Any) -> str | None:
    for key in ("CredentialSpec", "SELinuxContext"):
        if field(privileges, key):
            return f"This cluster does not allow the service privilege {key}."
    for key in ("Seccomp", "AppArmor"):
        if str(field(privileges, key, "Mode") or "default").lower() != "default":
            return f"This cluster does not allow changing the service's {key} profile."
    return None


def _service_networks(spec: Any) -> str | None:
    attached = _items(field(spec, "TaskTemplate", "Networks")) + _items(field(spec, "Networks"))
    if any(str(field(network, "Target") or "").lower() == "host" for network in attached):
        return "This cluster does not allow services on the host network."
    return None


def service_refusal(spec: Any) -> str | None:
    """Why a ServiceSpec (create or update) would start tasks that break the seal, or None."""
    task = field(spec, "TaskTemplate")
    if field(task, "PluginSpec") or field(task, "NetworkAttachmentSpec") \
            or str(field(task, "Runtime") or "container").lower() != "container":
        return "This cluster does not allow plugin or attachment services."
    container = field(task, "ContainerSpec")
    return (_added_capabilities(field(container, "CapabilityAdd"))
            or _privileges(field(container, "Privileges"))
            or _mounts(None, field(container, "Mounts")) or _service_networks(spec))


def _service(call: Call) -> str | None:
    return service_refusal(call.body)


def _volume_create(call: Call) -> str | None:
    if str(field(call.body, "Driver") or "local") != "local" or field(call.body, "DriverOpts"):
        return "This cluster does not allow volume drivers or volume driver options."
    return None


def _network_create(call: Call) -> str | None:
    driver = str(field(call.body, "Driver") or "bridge")
    if driver not in ("bridge", "overlay"):
        return f"This cluster does not allow the network driver {driver}."
    return None


def _build(call: Call) -> str | None:
    # NOTE: dockerd reads build options with Go's FormValue, where a form-encoded body wins
    # over the query string; such a body is never shown to the plugin, so refuse it.
    content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return "This cluster does not allow build options in a form-encoded body."
    if any(value != "1" for value in call.query.get("version", [])):
        # NOTE: BuildKit (version=2) has its own entitlements and a session channel (/session
        # is refused); the docker CLI without buildx uses the legacy builder (version=1).
        return "This cluster does not allow BuildKit builds; use the legacy builder."
    if any(value.lower() == "host" for value in call.query.get("networkmode", [])):
        return "This cluster does not allow builds on the host network."
    if any(call.query.get("cgroupparent", [])):
        return "This cluster does not allow setting the build's cgroupparent."
    return None


def _network_reference(call: Call) -> str | None:
    name = call.path.split("/")[2]
    if name.lower() == "host" or HEX_REFERENCE.fullmatch(name):
        return ("This cluster does not allow connecting containers to a network named by "
                "its ID or to the host network; use the network's name.")
    return None


# --- the allow-list -------------------------------------------------------------------------------

def _route(methods: str, pattern: str, check: Check | None = None, *,
           needs_body: bool = False) -> Route:
    return Route(methods=frozenset(methods.split()), pattern=re.compile(pattern),
                 check=check, needs_body=needs_body)


ID = r"[^/]+"
NAME = r".+"  # NOTE: image names contain "/" (dockerd's {name:.*})

ROUTES: tuple[Route, ...] = (
    # system
    _route("GET HEAD", r"/_ping"),
    _route("GET", r"/(version|info|events|system/df)"),
    _route("POST", r"/auth"),
    # containers
    _route("GET", r"/containers/json"),
    _route("POST", r"/containers/create", _container_create, needs_body=True),
    _route("POST", r"/containers/prune"),
    _route("GET", rf"/containers/{ID}/(json|top|logs|changes|export|stats|attach/ws)"),
    _route("POST", rf"/containers/{ID}/start", _container_start),
    _route("POST", rf"/containers/{ID}/(stop|restart|kill|pause|unpause|rename|resize|attach"
                   r"|wait)"),
    _route("POST", rf"/containers/{ID}/update", _container_update, needs_body=True),
    _route("POST", rf"/containers/{ID}/exec", _exec_create, needs_body=True),
    _route("DELETE", rf"/containers/{ID}"),
    # NOTE: docker cp reads and writes inside the container's own filesystem
    _route("GET HEAD PUT", rf"/containers/{ID}/archive"),
    _route("GET", rf"/exec/{ID}/json"),
    _route("POST", rf"/exec/{ID}/(start|resize)"),
    # images and (legacy) build
    _route("GET", r"/images/(json|search|get)"),
    _route("POST", r"/images/(create|load|prune)"),
    _route("GET", rf"/images/{NAME}/(json|history|get)"),
    _route("POST", rf"/images/{NAME}/(push|tag)"),
    _route("DELETE", rf"/images/{NAME}"),
    _route("GET", rf"/distribution/{NAME}/json"),
    _route("POST", r"/commit"),
    _route("POST", r"/build", _build),
    _route("POST", r"/build/(prune|cancel)"),
    # volumes and networks
    _route("GET", r"/(volumes|networks)"),
    _route("POST", r"/(volumes|networks)/prune"),
    _route("GET DELETE", rf"/(volumes|networks)/{ID}"),
    _route("POST", r"/volumes/create", _volume_create, needs_body=True),
    _route("POST", r"/networks/create", _network_create, needs_body=True),
    _route("POST", rf"/networks/{ID}/connect", _network_reference),
    _route("POST", rf"/networks/{ID}/disconnect"),
    # swarm mode
    _route("GET", r"/swarm(/unlockkey)?"),
    _route("POST", r"/swarm/(init|join|leave|update|unlock)"),
    _route("GET", r"/(nodes|services|tasks|secrets|configs)"),
    _route("GET DELETE", rf"/(nodes|services|secrets|configs)/{ID}"),
    _route("POST", rf"/(nodes|secrets|configs)/{ID}/update"),
    _route("POST", r"/(secrets|configs)/create"),
    _route("POST", r"/services/create", _service, needs_body=True),
    _route("POST", rf"/services/{ID}/update", _service, needs_body=True),
    _route("GET", rf"/(services|tasks)/{ID}/logs"),
    _route("GET", rf"/tasks/{ID}"),
    # engine plugins: looking only (installing one grants host mounts and devices)
    _route("GET", r"/plugins(/privileges)?"),
    _route("GET", rf"/plugins/{NAME}/json"),
)


# --- the decision ---------------------------------------------------------------------------------

def routed_path(raw_path: str) -> tuple[str | None, str]:
    """(the path dockerd routes on: decoded, ``//`` collapsed, version stripped, or None for a
    path with dot segments; the API version asked for, "" when none)."""
    path = re.sub(r"/+", "/", urllib.parse.unquote(raw_path))
    if any(segment in (".", "..") for segment in path.split("/")):
        return None, ""
    found = VERSION_PREFIX.match(path)
    if found is None:
        return path, ""
    return path[found.end():], found.group(1)


def _too_old(version: str) -> bool:
    """An API version below MIN_API_VERSION, or one that is not numbers and dots."""
    try:
        numbers = tuple(int(part) for part in version.split("."))
    except ValueError:
        return True
    return numbers < MIN_API_VERSION


def _call(request: Mapping[str, Any], path: str, body: Any) -> Call:
    uri = str(request.get("RequestUri") or "")
    headers = request.get("RequestHeaders")
    return Call(method=str(request.get("RequestMethod") or "").upper(), path=path,
                query=urllib.parse.parse_qs(uri.partition("?")[2], keep_blank_values=True),
                headers={str(k).lower(): str(v) for k, v in (headers or {}).items()}
                if isinstance(headers, dict) else {},
                body=body)


def _find(method: str, path: str) -> Route | None:
    for route in ROUTES:
        if method in route.methods and route.pattern.fullmatch(path):
            return route
    return None


def decide(request: Mapping[str, Any]) -> Decision:
    """Allow or refuse one ``AuthZPlugin.AuthZReq`` request of a sealed node's engine."""
    method = str(request.get("RequestMethod") or "").upper()
    uri = str(request.get("RequestUri") or "")
    path, version = routed_path(uri.partition("?")[0])
    if version and _too_old(version):
        return Decision(False, f"This cluster does not allow Docker API versions older than "
                               f"{'.'.join(map(str, MIN_API_VERSION))} (asked for {version}); "
                               f"use a newer docker client.")
    route = _find(method, path) if path is not None else None
    if route is None or path is None:
        return Decision(False, f"This cluster does not allow the API call {method} "
                               f"{uri.partition('?')[0]}.")
    visible, body = _body(request)
    if route.needs_body and not visible:
        return Decision(False, f"This cluster does not allow {method} {path} without a JSON "
                               f"body the seal can read (send Content-Type: application/json).")
    reason = route.check(_call(request, path, body)) if route.check else None
    return ALLOW if reason is None else Decision(False, reason)
