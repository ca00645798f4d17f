"""List rows are read models whose fields are the query's columns, in order (one owner)."""

from __future__ import annotations

from sqlalchemy import select

from magna.services import clusters, clustertemplates
from magna.services.readmodels import ClusterSummary, TemplateRow


def test_summary_fields_are_the_summary_columns_in_order() -> None:
    query = select(*clusters.SUMMARY_COLUMNS)
    assert tuple(column.name for column in query.selected_columns) == ClusterSummary._fields


def test_template_fields_are_the_template_columns_in_order() -> None:
    query = select(*clustertemplates.VIEW_COLUMNS)
    assert tuple(column.name for column in query.selected_columns) == TemplateRow._fields


def test_template_timestamps_come_after_the_fields_views_show() -> None:
    assert TemplateRow._fields == (*clustertemplates.FIELDS, "created_at", "updated_at")
