"""The Alembic migrations build exactly the models' schema, and undo it."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import POW_SECRET, FreshDatabase
from pydantic import SecretStr

from app.migrate import check, downgrade, upgrade
from app.models import Base
from app.settings import Settings


def test_migrations_upgrade_match_the_models_and_downgrade_to_nothing(
    fresh_databases: FreshDatabase,
) -> None:
    settings = Settings(
        database_url=fresh_databases.new(), environment="test", pow_secret=SecretStr(POW_SECRET)
    )
    engine = sa.create_engine(settings.database_url)
    try:
        upgrade(settings)
        tables = set(sa.inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        check(settings)  # raises if autogenerate finds any difference

        downgrade(settings, "base")
        engine.dispose()
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}

        upgrade(settings)  # and back up again
        engine.dispose()
        assert set(Base.metadata.tables) <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
