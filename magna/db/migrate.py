"""Schema migrations with Alembic, driven programmatically (no alembic.ini to find).

``upgrade(url)`` brings any supported database to the newest revision; servers call it at
start-up when ``[database] auto_upgrade`` is set and ``magna db upgrade`` calls it explicitly.
"""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
