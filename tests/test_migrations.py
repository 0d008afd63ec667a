"""The migrations build exactly the models' schema, on both databases, and unwind completely."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import marketplace.models  # noqa: F401 - every table on Base.metadata
from marketplace import migrate
from marketplace.db import Base, create_db_engine
from tests.conftest import create_postgres_database, drop_postgres_database, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """A brand-new, empty database."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    require_postgres()
    url = create_postgres_database()
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
    drop_postgres_database(url)


def _differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_to_head_gives_exactly_the_models_schema(empty_engine: sa.Engine) -> None:
    """Autogenerate finds nothing to add, drop or alter after a full upgrade."""
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _differences(empty_engine) == []


def test_downgrade_to_base_removes_every_table(empty_engine: sa.Engine) -> None:
    """Downgrading to base leaves only Alembic's own bookkeeping table, and upgrading again works."""
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert set(sa.inspect(empty_engine).get_table_names()) == {"alembic_version"}
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert _differences(empty_engine) == []


def test_revision_files_are_date_prefixed_and_import_no_application_code() -> None:
    """Each revision is named YYYY_MM_DD_… and depends on nothing of the app's."""
    files = sorted(migrate.MIGRATIONS_DIR.joinpath("versions").glob("*.py"))
    assert files
    for path in files:
        assert path.name[:11].replace("_", "").isdigit(), path.name
        text = path.read_text()
        assert "import marketplace" not in text and "from marketplace" not in text, path.name
        assert "def downgrade()" in text, path.name
