"""Logs that never hold a child's data: library loggers that would print SQL parameters (the session
JSON, with answers and a nickname), state changes or request bodies are kept at WARNING, whatever
level the bot itself logs at. NEUROSEQ_LOG_LIBRARIES=1 lets them through, for debugging a machine
that holds no real data."""

from __future__ import annotations

import logging
import os
import sqlite3

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


# What every LogRecord has; anything else on a record came from `extra=` and is ours to print.
_STANDARD = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {"message", "asctime"}
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class FieldsFormatter(logging.Formatter):
    """The usual line plus the record's `extra` fields as key=value (ids, error classes, causes,
    counts: the code never passes text a person wrote), so "update failed" says why."""

    def format(self, record: logging.LogRecord) -> str:
        """The line, then its fields."""
        line = super().format(record)
        fields = [f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
        return f"{line} {' '.join(fields)}" if fields else line


def cause_of(exc: BaseException) -> str:
    """A short, data-free cause for a log line: the class, and for a database error what the driver
    says without quoting any value: SQLite's own fixed message ("database or disk is full",
    "database is locked"), PostgreSQL's SQLSTATE (its messages can quote the value that failed).
    Never the statement or its parameters (SQLAlchemy's message quotes both)."""
    name = type(exc).__name__
    orig = getattr(exc, "orig", None)
    if orig is None:
        return name
    if isinstance(orig, sqlite3.Error):
        text = str(orig).strip()
        first = text.splitlines()[0][:120] if text else ""
        return f"{name}({type(orig).__name__}: {first})" if first else f"{name}({type(orig).__name__})"
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return f"{name}({type(orig).__name__} {code})" if code else f"{name}({type(orig).__name__})"
