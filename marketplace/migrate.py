"""Alembic, driven from the app's own engine so that SQLite gets its WAL and immediate transactions."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from marketplace.db import Base

MIGRATIONS_DIR = Path(os.environ.get("MARKETPLACE_MIGRATIONS", Path(__file__).resolve().parent.parent / "migrations"))


def alembic_config() -> Config:
    """An Alembic configuration pointing at ``migrations/``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` empties it)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    if isinstance(bind, Connection):
        return MigrationContext.configure(bind).get_current_revision()
    with bind.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in ``migrations/``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def new_revision(engine: Engine, message: str, *, autogenerate: bool = True) -> None:
    """Write a new revision file, comparing the models with the database when ``autogenerate``."""
    import marketplace.models  # noqa: F401 - registers every table on Base.metadata

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["target_metadata"] = Base.metadata
        command.revision(config, message=message, autogenerate=autogenerate)
