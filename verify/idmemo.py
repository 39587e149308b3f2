"""Results remembered per object identity, for the frozen key answers a scan shares.

Every message of a scan signed with the same key carries the *same* ``KeyLookup``
object, and the JSON report derives the same things from it each time (its dict, its
master-file text). ``functools.lru_cache`` would key them by value, which hashes every
field of the dataclass (~1 us a call, more than some of the work it saves); identity
is enough, since the objects are frozen. Entries hold their keys, so an id is never
reused while its entry lives; the memo is emptied when full, so it stays bounded.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """At most ``maxsize`` values, each for one object (compared with ``is``)."""

    __slots__ = ("_entries", "_maxsize")

    def __init__(self, maxsize: int) -> None:
        self._entries: dict[int, tuple[K, V]] = {}
        self._maxsize = maxsize

    def get(self, obj: K) -> V | None:
        entry = self._entries.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None

    def put(self, obj: K, value: V) -> V:
        if len(self._entries) >= self._maxsize:
            self._entries.clear()
        self._entries[id(obj)] = (obj, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
