"""Retention: forget users inactive for the retention period, and old processed update ids."""

from __future__ import annotations

import datetime as dt

from neuroseq_core.store.base import Store

PROCESSED_IDS_KEPT = dt.timedelta(days=3)  # Telegram redelivers within hours, never days later


async def purge(store: Store, retention_days: int, now: dt.datetime) -> int:
    """Delete the data of users inactive for `retention_days`; returns how many users."""
    removed = await store.purge_inactive(now - dt.timedelta(days=retention_days))
    await store.prune_processed(now - PROCESSED_IDS_KEPT)
    return removed
