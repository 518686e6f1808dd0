"""Shared fixtures: the shipped content, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fakebot import FakeBotAPI
from fakebot.service import FakeService
from neuroseq_core.content import Content, ContentHolder, default_content_dir, load_content
from neuroseq_core.store.memory import MemoryStore


@pytest.fixture(scope="session")
def content() -> Content:
    loaded, errors = load_content()
    assert loaded is not None, "\n".join(str(e) for e in errors)
    return loaded


@pytest.fixture()
def holder(content: Content) -> ContentHolder:
    return ContentHolder(content)


@pytest.fixture()
def copy(tmp_path) -> Path:
    """A copy of the shipped content to break on purpose."""
    dest = tmp_path / "content"
    shutil.copytree(default_content_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dest


@pytest.fixture
async def api():
    """The fake Bot API on 127.0.0.1."""
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
def store():
    """A memory store (end-to-end tests override this with SQL stores)."""
    return MemoryStore()


@pytest.fixture
def service(store):
    """The real Service with a scripted step (end-to-end tests override it with the engine)."""
    return FakeService(store)


# PostgreSQL: a throwaway server (or NEUROSEQ_TEST_POSTGRES_URL), skipping with a reason if none.
from pg import postgres_url  # noqa: E402, F401
