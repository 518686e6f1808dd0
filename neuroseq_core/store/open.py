"""Opening the store a URL names: memory:// in memory, otherwise SQL, migrated to the latest schema first."""

from __future__ import annotations

from neuroseq_core.domain.clock import Clock, utcnow
from neuroseq_core.store.base import Store
from neuroseq_core.store.connect import make_engine
from neuroseq_core.store.memory import MemoryStore
from neuroseq_core.store.migrate import upgrade_engine
from neuroseq_core.store.sql import SqlStore


async def open_store(url: str, *, clock: Clock = utcnow) -> Store:
    """The store for a URL: memory:// in memory, otherwise SQL (migrated to the latest schema first)."""
    if url.startswith("memory:"):
        return MemoryStore(clock)
    engine = make_engine(url)
    try:
        await upgrade_engine(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine, clock)
