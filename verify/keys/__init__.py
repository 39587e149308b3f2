"""Key sources behind one small interface; every answer records where it came from.

A :class:`KeySource` answers for one key name (``selector._domainkey.domain``) with a
:class:`~verify.model.KeyLookup`, or ``None`` when it has nothing to say (a key file
that does not hold the name). :class:`KeyStore` asks the sources in order, caches by
name, and is the only thing the engine talks to: checks never touch the network.
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


class KeyStore:
    """Ask file sources first, then live DNS (unless offline); remember every answer.

    A name found in a key file is not asked of DNS: the reporter's evidence wins and
    the run stays reproducible. Offline, a name in no file is answered ``not-found``.
    """

    def __init__(self, files: Sequence[KeySource] = (), dns: KeySource | None = None) -> None:
        self._files = list(files)
        self._dns = dns
        self._cache: dict[str, tuple[KeyLookup, ...]] = {}

    @property
    def offline(self) -> bool:
        return self._dns is None

    def lookup(self, name: str) -> tuple[KeyLookup, ...]:
        key = normalize_name(name)
        if key not in self._cache:
            self._cache[key] = self._ask(key)
        return self._cache[key]

    def _ask(self, name: str) -> tuple[KeyLookup, ...]:
        answers = [a for a in (src.lookup(name) for src in self._files) if a is not None]
        if any(a.found for a in answers):
            return tuple(answers)
        if self._dns is not None:
            live = self._dns.lookup(name)
            if live is not None:
                answers.append(live)
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
