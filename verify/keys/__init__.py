"""Key sources behind one small interface; every answer records where it came from.

A :class:`KeySource` answers for one key name (``selector._domainkey.domain``) with a
:class:`~verify.model.KeyLookup`, or ``None`` when it has nothing to say (a key file
that does not hold the name). A source that can hold several answers for one name
(an archive that saw several keys, a recorded-evidence file) also offers
``lookup_all``. :class:`KeyStore` asks the sources, caches by name, and is the only
thing the engine talks to: checks never touch the network.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from verify.model import KeyLookup


def utcnow_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def normalize_name(name: str) -> str:
    """Key names compare case-insensitively and without the root dot."""
    return name.rstrip(".").lower()


class KeySource(Protocol):
    """Anything that can answer for a key name."""

    def lookup(self, name: str) -> KeyLookup | None: ...


def answers_from(source: KeySource, name: str) -> list[KeyLookup]:
    """Every answer ``source`` has for ``name``: ``lookup_all`` where offered, else ``lookup``."""
    many = getattr(source, "lookup_all", None)
    if many is not None:
        return list(many(name))
    one = source.lookup(name)
    return [] if one is None else [one]


class KeyStore:
    """Ask every key file, then live DNS (unless offline); remember every answer.

    Files and DNS are both asked, so that a key the reporter brought (an archive, a
    recorded answer) can be compared with what DNS says today: that comparison is
    how a rotated key is recognised. ``--offline`` (no ``dns``) asks nothing of the
    network; a name in no file is then answered ``not-found``. ``revealed`` holds
    fingerprints of keys whose private half is public: signatures under them prove
    nothing (the verdict reads it).
    """

    def __init__(self, files: Sequence[KeySource] = (), dns: KeySource | None = None, revealed: Iterable[str] = ()) -> None:
        self._files = list(files)
        self._dns = dns
        self._cache: dict[str, tuple[KeyLookup, ...]] = {}
        self.revealed: frozenset[str] = frozenset(f.lower() for f in revealed)

    @property
    def offline(self) -> bool:
        return self._dns is None

    def lookup(self, name: str) -> tuple[KeyLookup, ...]:
        key = normalize_name(name)
        if key not in self._cache:
            self._cache[key] = self._ask(key)
        return self._cache[key]

    def prime(self, answers: Iterable[tuple[str, Sequence[KeyLookup]]]) -> None:
        """Take answers another store already fetched, so nothing is asked twice.

        A scan looks each key up once in the parent process and hands the answers to
        its workers (verify/scan.py); a name already known is left as it is.
        """
        for name, group in answers:
            self._cache.setdefault(normalize_name(name), tuple(group))

    def _ask(self, name: str) -> tuple[KeyLookup, ...]:
        answers = [a for src in self._files for a in answers_from(src, name)]
        if self._dns is not None:
            answers.extend(answers_from(self._dns, name))
        elif not answers:
            answers.append(
                KeyLookup(
                    name=name,
                    source="file",
                    origin="offline",
                    retrieved_at=utcnow_iso(),
                    status="not-found",
                    detail="not in any key file, and --offline forbids asking DNS",
                )
            )
        return tuple(answers)

    def answers(self) -> Iterable[KeyLookup]:
        for group in self._cache.values():
            yield from group
