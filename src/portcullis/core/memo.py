"""What was made from some values, kept while those values stay the same.

The token checks make the same things again and again from values that seldom change:
a token's row read at every check, the Session of a personal token, the encoded
answer of an account. Each is kept by a key (the token, the account) with the values
it was made from, and used again only while every value is the very same object or
equal to it; anything that differs makes it anew, so nothing stale is ever handed out.
"""

from __future__ import annotations

from typing import Generic, TypeVar

Key = TypeVar("Key")
Made = TypeVar("Made")

SIZE = 1024  # entries at most: the tokens a portal's services ask about at one time


class Memo(Generic[Key, Made]):
    """At most ``size`` entries; the oldest goes first (a bound, not an LRU)."""

    def __init__(self, size: int = SIZE):
        self._size = size
        self._kept: dict[Key, tuple[tuple[object, ...], Made]] = {}

    def get(self, key: Key, *sources: object) -> Made | None:
        """What was kept for ``key``, if it was made from these very values."""
        kept = self._kept.get(key)
        # A tuple compares item by item, each by identity first: cheap for the same objects.
        if kept is not None and kept[0] == sources:
            return kept[1]
        return None

    def __contains__(self, key: Key) -> bool:
        return key in self._kept

    def keep(self, key: Key, made: Made, *sources: object) -> Made:
        if key not in self._kept and len(self._kept) >= self._size:
            del self._kept[next(iter(self._kept))]
        self._kept[key] = (sources, made)
        return made
