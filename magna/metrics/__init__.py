"""Prometheus series of Magna's processes, and the listener that answers scrapes.

Why a package of its own, below the API and the conductor: both record into it and neither
should know how the other's series are exported. It imports nothing of Magna's, so every
layer that records may import it (an import contract keeps it so).

- ``series.py``: every instrument, in two registries (the API's and the conductor's), so an
  exporter only shows the series of what runs in its process;
- ``collectors.py``: series computed when scraped (clusters by status and health from one
  ``GROUP BY``, the conductor's queue depth);
- ``exporter.py``: the listener (``[metrics] host``/``port``/``conductor_port``/``path``) and
  the multi-process directory through which ``[api] workers`` processes report.

The series, their labels and meaning are listed in ``docs/metrics.md``.
"""
