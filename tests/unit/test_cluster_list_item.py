"""A cluster list row is unpacked by position: the view's field order is the query's."""

from __future__ import annotations

from sqlalchemy import select

from magna.api.resources import clusters
from magna.db import repository


def test_summary_fields_are_the_summary_columns_in_order() -> None:
    query = select(*repository.CLUSTER_SUMMARY_COLUMNS)
    assert tuple(column.name for column in query.selected_columns) == clusters.SUMMARY_FIELDS
