"""Shared fixtures: the shipped content, loaded once."""

from __future__ import annotations

import pytest

from neuroseq_core.content import Content, ContentHolder, load_content


@pytest.fixture(scope="session")
def content() -> Content:
    loaded, errors = load_content()
    assert loaded is not None, "\n".join(str(e) for e in errors)
    return loaded


@pytest.fixture()
def holder(content: Content) -> ContentHolder:
    return ContentHolder(content)


# PostgreSQL: a throwaway server (or NEUROSEQ_TEST_POSTGRES_URL), skipping with a reason if none.
from pg import postgres_url  # noqa: E402, F401
