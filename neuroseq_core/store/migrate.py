"""Schema migrations with Alembic, run from code (no alembic.ini): `await upgrade(url)`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from neuroseq_core.store.connect import begin, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Several bot processes may start at once against one PostgreSQL: only one migrates at a time.
_PG_ADVISORY_LOCK = 0x6E657572  # "neur"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config built in code, pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return config


def _run_upgrade(connection: sa.Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection  # env.py runs on this connection, inside our transaction
    command.upgrade(config, revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind an engine up to `revision`, in one transaction."""
    async with begin(engine) as conn:  # on SQLite: BEGIN IMMEDIATE, which also serialises migrators
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_LOCK})
        await conn.run_sync(_run_upgrade, revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """`alembic upgrade head` for a database URL (SQLite file folders are created as needed)."""
    engine = make_engine(url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()
