"""Keypairs (Magna's extension ``/v1/keypairs``): the public keys clusters name in ``keypair``.

Upstream, keypairs live in Nova and ``nova keypair-add`` uploads them. Magna has no Nova: the
enabled drivers' catalogs list keypairs, and catalogs with the ``KeypairStore`` ability (the
local Swarm and fake drivers') store new ones. Listing merges every catalog; creating writes to
every store, so a template of any driver can name the key; deleting removes it from each.
Keys are checked here, so a driver only ever receives a well-formed OpenSSH public key with a
safe name.

Ownership, as Nova's: a key belongs to the user who uploaded it (through ``/v1/keypairs`` or
the Nova subset, ``api/resources/compute.py``). A user sees, names in clusters and deletes their
own keys, plus the keys the operator or a driver provides (no owner), which every user may
name and only an administrator deletes; another user's key is a 404, as in Nova. An
administrator may look at another user's keys by asking for that user (Nova's ``user_id``).
Unlike Nova, names are one namespace for the whole deployment: a node authorizes the key its
cluster names, by name, in the driver's store, so a name taken by anyone is a 409.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid, NotAuthorized, NotFound
from magna.drivers.catalog import Keypair, KeypairStore
from magna.services import Services

# NOTE: stricter than Nova (no spaces): the name becomes a file name in the local driver.
NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$")


def fingerprint(public_key: str) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
    blob = base64.b64decode(public_key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def md5_fingerprint(public_key: str) -> str:
    """``aa:bb:…``, the form Nova gives (``ssh-keygen -l -E md5`` without its prefix)."""
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def list_(svc: Services, ctx: RequestContext, *, user_id: str | None = None) -> list[Keypair]:
    """The keys ``user_id`` (default: the caller) may name, the operator's included."""
    owner = _owner(svc, ctx, "keypair:get_all", user_id)
    return [k for k in _all(svc) if visible(k, owner)]


def get(svc: Services, ctx: RequestContext, name: str, *,
        user_id: str | None = None) -> Keypair:
    owner = _owner(svc, ctx, "keypair:get", user_id)
    for keypair in _all(svc):
        if keypair.name == name and visible(keypair, owner):
            return keypair
    raise NotFound(f"Keypair {name} could not be found.")


def visible(keypair: Keypair, user_id: str | None) -> bool:
    """Whether ``user_id`` may see and name the key: theirs, or the operator's."""
    return keypair.user_id is None or keypair.user_id == user_id


def create(svc: Services, ctx: RequestContext, name: str, public_key: str, *,
           user_id: str | None = None) -> Keypair:
    """Store the key as the caller's, or (administrators) as ``user_id``'s."""
    owner = _owner(svc, ctx, "keypair:create", user_id)
    keypair = Keypair(name=_checked_name(name), public_key=_checked_key(public_key),
                      user_id=owner)
    stores = _stores(svc)
    if not stores:
        raise Invalid("No enabled driver stores keypairs.")
    if any(k.name == keypair.name for k in _all(svc)):
        raise Conflict(f"Key pair '{keypair.name}' already exists.")
    for store in stores:
        store.add_keypair(keypair)
    return get(svc, ctx, keypair.name, user_id=owner)


def generate(svc: Services, ctx: RequestContext, name: str, *,
             user_id: str | None = None) -> tuple[Keypair, str]:
    """A new RSA key (Nova's before microversion 2.92): the keypair and its private key in PEM,
    which is handed to the caller once and never stored."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    pem = private.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return create(svc, ctx, name, f"{public} Generated-by-Magna", user_id=user_id), pem


def delete(svc: Services, ctx: RequestContext, name: str, *, user_id: str | None = None) -> None:
    svc.authz.authorize(ctx, "keypair:delete", _target(ctx))
    keypair = get(svc, ctx, name, user_id=user_id)
    if keypair.user_id is None and not ctx.is_admin:
        raise NotAuthorized(f"Keypair {name} is the operator's: only an administrator can "
                            "delete it.")
    if not any([store.delete_keypair(name) for store in _stores(svc)]):
        # NOTE: the request is sound; what the key is forbids it (409, as for a state).
        raise Conflict(f"Keypair {name} is part of a driver's catalog and cannot be deleted.")


def _owner(svc: Services, ctx: RequestContext, rule: str, user_id: str | None) -> str | None:
    """Authorize and say whose keys the call is about: another user's only for
    administrators."""
    svc.authz.authorize(ctx, rule, _target(ctx))
    if user_id is None or user_id == ctx.user_id:
        return ctx.user_id
    if not ctx.is_admin:
        raise NotAuthorized(f"Policy doesn't allow {rule} for the keypairs of user {user_id}.")
    return user_id


def _all(svc: Services) -> list[Keypair]:
    found: dict[str, Keypair] = {}
    for driver in svc.drivers.drivers:
        for keypair in driver.catalog.keypairs(None):
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
