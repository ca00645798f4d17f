"""Every instrument Magna records into, grouped by the process part that records it.

Two registries, not the library's global one: an exporter shows ``API`` only where the API
serves requests in its own process, and ``CONDUCTOR`` only where a conductor runs, so a
``magna-api`` scrape lists no conductor series that could never move (and the library's
process and platform collectors, which describe one process of several, are left out).

Label values are bounded on purpose: a route is its template (``/v1/clusters/{cluster_ident}``,
never a UUID), a method outside ``METHODS`` is ``other``, an outcome is one of a fixed
vocabulary. Every series is documented in ``docs/metrics.md``.

NOTE: in an ``[api] workers`` process these instruments write to the multi-process directory
(``exporter.MULTIPROCESS_ENV``, set by the parent before it spawns workers, read by the library
when a worker imports it); everywhere else they count in memory.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# NOTE: the ``_created`` series (when each labelled child appeared) would double every family
# in the text format, and Prometheus does not read them from it.
disable_created_metrics()  # type: ignore[no-untyped-call]

API = CollectorRegistry(auto_describe=True)
CONDUCTOR = CollectorRegistry(auto_describe=True)

#: HTTP methods kept as label values; anything else a client sends is counted as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request that matched no route (a 404 for an unknown path).
UNMATCHED = "unmatched"

#: Seconds; API requests are milliseconds, a slow one waits on the database or an engine.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds; a pass or a driver call runs from milliseconds (fake) to minutes (a real build).
WORK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                600.0)

REQUESTS = Counter(
    "magna_api_requests", "API requests answered, by method, route template and status.",
    ("method", "route", "status"), registry=API)
REQUEST_SECONDS = Histogram(
    "magna_api_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route template and "
    "status.", ("method", "route", "status"), buckets=REQUEST_BUCKETS, registry=API)

RECONCILE_SECONDS = Histogram(
    "magna_conductor_reconcile_duration_seconds",
    "Duration of one reconcile pass over one cluster, by outcome.", ("outcome",),
    buckets=WORK_BUCKETS, registry=CONDUCTOR)
DRIVER_SECONDS = Histogram(
    "magna_driver_operation_duration_seconds",
    "Duration of one driver call (apply, delete, observe, heal), by driver, operation and "
    "outcome.", ("driver", "operation", "outcome"), buckets=WORK_BUCKETS, registry=CONDUCTOR)

DRIVER_STEP_SECONDS = Histogram(
    "magna_driver_step_duration_seconds",
    "Duration of one step inside a driver call, by driver and step: where a create's seconds "
    "go.", ("driver", "step"), buckets=WORK_BUCKETS, registry=CONDUCTOR)


def timed_step(driver: str, step: str) -> AbstractContextManager[object]:
    """Record the block's wall time as ``step`` of ``driver`` (also when it raises): the
    library's own timer of the labelled child."""
    return DRIVER_STEP_SECONDS.labels(driver, step).time()


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


# NOTE: the library's ``labels()`` takes ~7 us (a lock, label checks); the children of each
# label set are kept here, which brings recording a request from ~28 to ~6 us in memory (~23
# us in an API worker, which writes memory-mapped files). Keys are label values, which are
# bounded (the method is mapped first), and so is this dict.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def record_request(*, method: str, route: str, status: int, seconds: float) -> None:
    key = (method_label(method), route, status)
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        labels = (key[0], route, str(status))
        children = _REQUEST_CHILDREN.setdefault(
            key, (REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels)))
    children[0].inc()
    children[1].observe(seconds)
