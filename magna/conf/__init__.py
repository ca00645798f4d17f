"""Configuration: one INI file (``magna.conf``), typed options grouped per subsystem.

Built on oslo.config because operators of OpenStack services expect its file format, its
``--config-file``/``--config-dir`` handling and a generated sample (``oslo-config-generator
--namespace magna``), and because oslo.policy reads its own options from the same object.

Nothing reads configuration at import time: ``load()`` builds a fresh ``ConfigOpts`` once at
start-up and the caller passes it down.
"""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg
from oslo_policy import opts as policy_opts

from magna.conf import opts


def load(args: Sequence[str] = (), config_files: Sequence[str] | None = None,
         overrides: dict[str, dict[str, object]] | None = None) -> cfg.ConfigOpts:
    """Build the configuration from files and command-line style ``args``.

    ``overrides`` maps group name (``DEFAULT`` for the top level) to option values; tests and the
    ``magna serve`` command use it instead of writing files.
    """
    conf = cfg.ConfigOpts()
    for group, options in opts.list_opts():
        conf.register_opts(options, group=None if group == "DEFAULT" else group)
    policy_opts.set_defaults(conf)
    default_files = list(config_files) if config_files is not None else None
    conf(list(args), project="magna", default_config_files=default_files,
         validate_default_values=True)
    for group, values in (overrides or {}).items():
        for name, value in values.items():
            conf.set_override(name, value, group=None if group == "DEFAULT" else group)
    return conf
