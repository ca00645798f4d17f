"""Whether a driver can honour the labels a template, cluster or nodegroup would have.

Labels are free-form strings, and some name things a driver may not have (a Kubernetes version
it cannot run). That must be a 400 when the user asks, not a ``CREATE_FAILED`` later: the
services pass the labels the resource ends up with (a cluster's after merging its template's,
as ``clusters._inherit`` does) to ``Driver.check_labels``, and its refusal becomes ``Invalid``
with the driver's own words.
"""

from __future__ import annotations

from collections.abc import Mapping

from magna.common.exceptions import Invalid, PermanentError
from magna.drivers.base import Driver


def check(driver: Driver, labels: Mapping[str, str]) -> None:
    try:
        driver.check_labels(labels)
    except PermanentError as exc:
        raise Invalid(exc.message) from None
