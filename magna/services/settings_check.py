"""Whether a driver can honour what a template, cluster or nodegroup asks of it.

A template is a contract: every field and label Magna accepts must have an effect on the cluster
the driver builds. What a driver cannot give (a storage driver its engines do not have, a label
it does not implement, a fixed network that does not exist) must be a 4xx when the user asks,
not a ``CREATE_FAILED`` later and never silence. The services gather the ``Settings`` the
resource ends up with (a cluster's after inheriting its template's, as ``clusters._inherit``
does; a nodegroup's after its cluster's) and ask ``Driver.check_settings``; a
``PermanentError`` becomes ``Invalid`` with the driver's own words, ``Invalid`` and
``NotFound`` pass as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from magna.common.exceptions import Invalid, PermanentError
from magna.db import models
from magna.drivers.base import Driver, Settings

# The template fields that are settings, under the names ``Settings`` gives them.
TEMPLATE_FIELDS = ("network_driver", "volume_driver", "docker_storage_driver",
                   "docker_volume_size", "fixed_network", "fixed_subnet", "external_network_id",
                   "floating_ip_enabled", "apiserver_port", "master_lb_enabled", "tls_disabled",
                   "http_proxy",
                   "https_proxy", "no_proxy")


def of_template(template: Mapping[str, Any] | models.ClusterTemplate, **overrides: Any
                ) -> Settings:
    """The settings a template's values (or its row) ask for, with what a cluster or nodegroup
    sets on top of them (``None`` overrides nothing)."""
    values = template if isinstance(template, Mapping) else {
        name: getattr(template, name) for name in (*TEMPLATE_FIELDS, "labels")}
    taken: dict[str, Any] = {name: values.get(name) for name in TEMPLATE_FIELDS}
    taken["labels"] = dict(values.get("labels") or {})
    taken.update({name: value for name, value in overrides.items() if value is not None})
    if taken["floating_ip_enabled"] is None:
        taken["floating_ip_enabled"] = True
    taken["master_lb_enabled"] = bool(taken["master_lb_enabled"])
    taken["tls_disabled"] = bool(taken["tls_disabled"])
    return Settings(**taken)


def check(driver: Driver, settings: Settings) -> None:
    try:
        driver.check_settings(settings)
    except PermanentError as exc:
        raise Invalid(exc.message) from None
