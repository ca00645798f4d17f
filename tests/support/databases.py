"""Which databases a test runs on.

Tests that take the ``db_url`` fixture run on SQLite and on PostgreSQL. Real-engine tests whose
subject is the driver (engines, namespaces, swarm) gain nothing from the second database: the
driver never touches it, and the conductor's database behaviour is covered on both by the
workflow and multi-process tests. ``SQLITE_ONLY`` narrows such a test to the embedded default,
which keeps the suite inside its time budget.
"""

from __future__ import annotations

import pytest

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
