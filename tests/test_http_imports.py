"""The Bot API client's hot path does no import work.

httpcore (under python-telegram-bot's httpx client) runs `import sniffio` inside every lock, event and
semaphore it sets up, and anyio >= 4.11 no longer installs sniffio. Python does not remember a failed
import, so without sniffio every Bot API call searched sys.path a few dozen times: 17 % of the bot's
CPU in bench_e2e's profile (encode/httpcore#1103). pyproject.toml names sniffio for this.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

from httpcore._synchronization import AsyncLock, current_async_library


class _Recorder(importlib.abc.MetaPathFinder):
    """Notes every module name the import system is asked to find (and finds nothing itself)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        self.asked.append(fullname)
        return None


def test_sniffio_is_installed_so_httpcore_finds_it_in_sys_modules() -> None:
    import sniffio

    assert sniffio.__name__ in sys.modules


def test_setting_up_httpcore_locks_searches_for_no_module() -> None:
    async def many_locks() -> str:
        for _ in range(200):
            lock = AsyncLock()
            async with lock:
                pass
        return current_async_library()

    recorder = _Recorder()
    sys.meta_path.insert(0, recorder)
    try:
        library = asyncio.run(many_locks())
    finally:
        sys.meta_path.remove(recorder)
    assert library == "asyncio"
    assert recorder.asked == []
