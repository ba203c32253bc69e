"""Watching runs and data: alerts, OpenLineage, metrics, lineage and SQL queries."""
