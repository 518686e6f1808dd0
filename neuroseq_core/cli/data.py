"""`neuroseq db upgrade` and `neuroseq data purge`: the stored data."""

from __future__ import annotations

import argparse
import asyncio

from neuroseq_core.cli.main import EXIT_OK
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.service.retention import purge
from neuroseq_core.service.settings import Settings
from neuroseq_core.store.migrate import upgrade
from neuroseq_core.store.open import open_store


async def _db_upgrade(settings: Settings) -> int:
    await upgrade(settings.database_url)
    print("database is up to date")
    return EXIT_OK


async def _purge(settings: Settings, days: int | None) -> int:
    keep = days if days is not None else settings.retention_days
    store = await open_store(settings.database_url)
    try:
        n = await purge(store, keep, utcnow())
    finally:
        await store.close()
    print(f"removed the data of {n} user(s) inactive for more than {keep} days")
    return EXIT_OK


def run(args: argparse.Namespace, settings: Settings) -> int:
    """One data action."""
    if args.command == "db":
        return asyncio.run(_db_upgrade(settings))
    return asyncio.run(_purge(settings, args.days))
