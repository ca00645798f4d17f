"""Persistence: typed SQLAlchemy models, the engine, migrations and the one repository module."""
