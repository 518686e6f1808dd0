"""A bounded memory of recently seen ids (handled updates, delivered outbox rows, apologies)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RecentSet:
    """The last `size` ids added; the oldest are forgotten first, so memory stays bounded."""

    def __init__(self, size: int) -> None:
        """Remember at most `size` ids."""
        self._size = size
        self._ids: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, item: Hashable) -> None:
        """Remember an id (again: it becomes the newest)."""
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        """Whether the id is among the remembered ones."""
        return item in self._ids

    def __len__(self) -> int:
        """How many ids are remembered."""
        return len(self._ids)
