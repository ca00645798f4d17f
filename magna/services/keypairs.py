"""Keypairs (Magna's extension ``/v1/keypairs``): the public keys clusters name in ``keypair``.

Upstream, keypairs live in Nova and ``nova keypair-add`` uploads them. Magna has no Nova: the
enabled drivers' catalogs list keypairs, and catalogs with the ``KeypairStore`` ability (the
local Swarm and fake drivers') store new ones. Listing merges every catalog; creating writes to
every store, so a template of any driver can name the key; deleting removes it from each.
Keys are checked here, so a driver only ever receives a well-formed OpenSSH public key with a
safe name.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid, NotFound
from magna.drivers.catalog import Keypair, KeypairStore
from magna.services import Services

# NOTE: stricter than Nova (no spaces): the name becomes a file name in the local driver.
NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")


def fingerprint(public_key: str) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
    blob = base64.b64decode(public_key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def list_(svc: Services, ctx: RequestContext) -> list[Keypair]:
    svc.authz.authorize(ctx, "keypair:get_all", _target(ctx))
    return _all(svc, ctx)


def get(svc: Services, ctx: RequestContext, name: str) -> Keypair:
    svc.authz.authorize(ctx, "keypair:get", _target(ctx))
    for keypair in _all(svc, ctx):
        if keypair.name == name:
            return keypair
    raise NotFound(f"Keypair {name} could not be found.")


def create(svc: Services, ctx: RequestContext, name: str, public_key: str) -> Keypair:
    svc.authz.authorize(ctx, "keypair:create", _target(ctx))
    keypair = Keypair(name=_checked_name(name), public_key=_checked_key(public_key))
    stores = _stores(svc)
    if not stores:
        raise Invalid("No enabled driver stores keypairs.")
    if any(k.name == keypair.name for k in _all(svc, ctx)):
        raise Conflict(f"Key pair '{keypair.name}' already exists.")
    for store in stores:
        store.add_keypair(keypair)
    return keypair


def delete(svc: Services, ctx: RequestContext, name: str) -> None:
    svc.authz.authorize(ctx, "keypair:delete", _target(ctx))
    removed = [store.delete_keypair(name) for store in _stores(svc)]
    if any(removed):
        return
    if any(k.name == name for k in _all(svc, ctx)):
        raise Invalid(f"Keypair {name} is part of a driver's catalog and cannot be deleted.")
    raise NotFound(f"Keypair {name} could not be found.")


def _all(svc: Services, ctx: RequestContext) -> list[Keypair]:
    found: dict[str, Keypair] = {}
    for driver in svc.drivers.drivers:
        for keypair in driver.catalog.keypairs(ctx.project_id):
            found.setdefault(keypair.name, keypair)
    return sorted(found.values(), key=lambda k: k.name)


def _stores(svc: Services) -> list[KeypairStore]:
    """Every distinct store of the enabled drivers' catalogs (both local drivers keep keys in
    one directory)."""
    found: dict[str, KeypairStore] = {}
    for driver in svc.drivers.drivers:
        if isinstance(driver.catalog, KeypairStore):
            found.setdefault(driver.catalog.store_id, driver.catalog)
    return list(found.values())


def _target(ctx: RequestContext) -> dict[str, str | None]:
    return {"project_id": ctx.project_id, "user_id": ctx.user_id}


def _checked_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise Invalid(f"Keypair name '{name}' is invalid: use 1 to 255 letters, digits, '_', "
                      "'-' or '.', not starting with '.'.")
    return name


def _checked_key(public_key: str) -> str:
    text = public_key.strip()
    if "\n" in text:
        raise Invalid("Keypair data is invalid: one OpenSSH public key line is expected.")
    try:
        serialization.load_ssh_public_key(text.encode())
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm) as exc:
        raise Invalid(f"Keypair data is invalid: {exc}") from None
    return text
