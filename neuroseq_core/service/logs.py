"""Logs that never hold a child's data: library loggers that would print SQL parameters (the session
JSON, with answers and a nickname), state changes or request bodies are kept at WARNING, whatever
level the bot itself logs at. NEUROSEQ_LOG_LIBRARIES=1 lets them through, for debugging a machine
that holds no real data."""

from __future__ import annotations

import logging
import os

# Each of these logs statements with their parameters, every state change, or every request at
# INFO or DEBUG.
CHATTY = ("aiosqlite", "sqlalchemy", "asyncpg", "alembic", "transitions", "httpx", "httpcore", "asyncio")


def quiet_libraries() -> None:
    """Hold the chatty libraries at WARNING (unless NEUROSEQ_LOG_LIBRARIES=1)."""
    if os.environ.get("NEUROSEQ_LOG_LIBRARIES", "").strip() in ("1", "true", "yes"):
        return
    for name in CHATTY:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
