"""Composition: what ``magna serve``, ``magna-api`` and ``magna-conductor`` build at start-up.

Every process reads its configuration once, opens the database (migrating it when
``[database] auto_upgrade`` says so), loads the CA key store, the enabled drivers and the policy,
and wires nudges; this module does that, for all three, in one place.

Why here, in ``magna.cmd``, and not in ``magna.api`` or a package of its own: composing is the
entry points' job, and ``magna.cmd`` is the one layer allowed to import every other. Living
beside the entry points, nothing below can import it without an import contract noticing, and
it imports nothing of the HTTP side (``magna.api``, FastAPI, uvicorn): ``magna-conductor``
starts without them (``tests/functional/test_composition.py`` checks that in a fresh process,
and an import contract in ``pyproject.toml`` keeps it so).

Nudges (``magna.messaging``) are wired by ``_wire_nudges`` alone: over AMQP when
``[conductor] transport_url`` is set (the API publishes, every conductor listens), else as a
direct call to the conductor of the same process (``magna serve``), else not at all (the
conductors' sweep finds the work either way).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from oslo_config import cfg

from magna import conf as magna_conf
from magna import messaging
from magna.conductor.service import Conductor
from magna.crypto.keystore import KeyStore, load_or_create_key
from magna.db import engine as db_engine
from magna.db import migrate
from magna.drivers.base import Preparing
from magna.drivers.registry import DriverRegistry
from magna.policy.enforcer import Authorizer
from magna.services import Services

#: Where ``magna-api`` leaves its configuration files for the worker processes it spawns.
CONFIG_ENV = "MAGNA_CONFIG_FILES"


LOG = logging.getLogger(__name__)

def load_config(config_files: Sequence[str]) -> cfg.ConfigOpts:
    """The files given, else those named in ``CONFIG_ENV``, else oslo.config's defaults."""
    files = list(config_files) or [f for f in os.environ.get(CONFIG_ENV, "").split(os.pathsep)
                                   if f]
    return magna_conf.load([], files or None)


def database_url(conf: cfg.ConfigOpts) -> str:
    return str(conf.database.connection or db_engine.default_url(conf.state_dir))


def prepare_database(conf: cfg.ConfigOpts) -> str:
    """The database's URL, after making the state directory (SQLite lives there by default)
    and checking that its driver loads (else a message naming the setting, not a traceback).

    NOTE: the state directory holds the database, the key that seals every CA's private key and
    the clusters' client certificates: only Magna's own user may enter it, whatever mode an
    older version (or a hand-made directory) left it with."""
    os.makedirs(conf.state_dir, mode=0o700, exist_ok=True)
    os.chmod(conf.state_dir, 0o700)
    url = database_url(conf)
    problem = db_engine.missing_driver(url)
    if problem:
        raise SystemExit(f"[database] connection: cannot load its driver: {problem}")
    return url


def build_services(conf: cfg.ConfigOpts) -> Services:
    """Services for a process without a conductor of its own: ``magna-api`` and its workers,
    ``magna-conductor`` (whose conductor is built on them), tests."""
    services = _connect(conf)
    _wire_nudges(services, None)
    return services


def build_conductor(conf: cfg.ConfigOpts) -> Conductor:
    """``magna-conductor``: a conductor on its own services, listening for AMQP nudges."""
    services = _connect(conf)
    conductor = Conductor(services)
    _wire_nudges(services, conductor, local=False)
    _prepare_drivers(services)
    return conductor


def build_serve(conf: cfg.ConfigOpts) -> tuple[Services, Conductor]:
    """``magna serve``: the API's services and the conductor running beside it, which the
    API nudges directly unless a transport is configured."""
    services = _connect(conf)
    conductor = Conductor(services)
    _wire_nudges(services, conductor)
    _prepare_drivers(services)
    return services, conductor


def _prepare_drivers(services: Services) -> None:
    """A host that runs a conductor starts its drivers' background work (``Preparing``)."""
    for driver in services.drivers.drivers:
        if isinstance(driver, Preparing):
            try:
                driver.prepare()
            except Exception:  # NOTE: never a reason for the conductor not to start
                LOG.exception("Driver %s could not start its preparation", driver.name)


def _connect(conf: cfg.ConfigOpts) -> Services:
    """Database (migrated if configured), key store, drivers and policy; nudges not wired."""
    url = prepare_database(conf)
    if conf.database.auto_upgrade:
        migrate.upgrade(url)
    engine = db_engine.make_engine(url)
    key_file = conf.certificates.encryption_key_file or os.path.join(conf.state_dir,
                                                                     "ca-encryption.key")
    return Services(conf=conf, sessions=db_engine.make_session_factory(engine),
                    authz=Authorizer(conf), drivers=DriverRegistry.from_config(conf),
                    keystore=KeyStore(load_or_create_key(key_file)))


def _wire_nudges(services: Services, conductor: Conductor | None, *, local: bool = True
                 ) -> None:
    """Where the services' nudges go, and where ``conductor`` (if any) hears them from.

    ``local``: whether nudges may be a direct call to ``conductor`` when no transport is
    configured (``magna serve``). A lone conductor's own writes need no nudge to itself.
    """
    url = services.conf.conductor.transport_url
    direct = conductor.nudged if conductor is not None and local else None
    services.nudge = messaging.make_nudger(url, direct).nudge
    if conductor is not None and url:
        conductor.listen(messaging.NudgeListener(url, conductor.host, conductor.nudged))
