"""Keys from a DKIM key archive: the JSON that archive.prove.email's ``/api/key`` returns.

A list of objects with ``domain``, ``selector``, ``value`` (the TXT record) and the
window the archive saw the key in (``firstSeenAt``, ``lastSeenAt``). Every record is
its own answer, window included: an archive may hold several keys for one selector
over the years, and the verdict checks the message's time against the window of
the key that verified it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from typing import Any

from verify.errors import UsageError
from verify.keys import normalize_name, utcnow_iso
from verify.model import KeyLookup


def looks_like_json(text: str) -> bool:
    """Master files never start with ``[`` or ``{``; archive JSON always does."""
    return text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")


def parse_time(value: object, where: str) -> str | None:
    """An archive timestamp as ISO 8601 UTC with a ``Z`` (seconds), or ``None`` when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UsageError(f"{where}: expected an ISO 8601 date-time string, got {type(value).__name__}")
    try:
        t = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{where}: {value[:40]!r} is not an ISO 8601 date-time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ArchiveSource:
    """Every key record of one archive file, by key name; each keeps its seen-window."""

    source = "archive"

    def __init__(self, path: str | os.PathLike[str], text: str | None = None) -> None:
        self.path = os.fspath(path)
        if text is None:
            try:
                with open(self.path, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{self.path}: cannot read key archive ({getattr(exc, 'strerror', None) or exc})") from None
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{self.path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(data, dict):
            data = [data]  # one record on its own, as some API clients save it
        if not isinstance(data, list):
            raise UsageError(f"{self.path}: a key archive must be a JSON list of key records")
        self.loaded_at = utcnow_iso()
        self._keys: dict[str, list[KeyLookup]] = {}
        for i, item in enumerate(data):
            lk = self._record(item, f"{self.path}: record {i + 1}")
            self._keys.setdefault(lk.name, []).append(lk)

    def _record(self, item: object, where: str) -> KeyLookup:
        if not isinstance(item, dict):
            raise UsageError(f"{where}: expected an object with domain, selector and value")
        for f in ("domain", "selector", "value"):
            if not isinstance(item.get(f), str) or (f != "value" and not item[f].strip()):
                raise UsageError(f"{where}: missing or non-text {f!r}")
        first = parse_time(item.get("firstSeenAt"), f"{where}, firstSeenAt")
        last = parse_time(item.get("lastSeenAt"), f"{where}, lastSeenAt")
        if first and last and last < first:
            raise UsageError(f"{where}: lastSeenAt {last} is before firstSeenAt {first}")
        name = normalize_name(f"{item['selector'].strip()}._domainkey.{item['domain'].strip()}")
        return KeyLookup(
            name=name,
            source=self.source,
            origin=self.path,
            retrieved_at=self.loaded_at,
            status="found",
            txt=(item["value"],),
            first_seen=first,
            last_seen=last,
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._keys.values())

    def lookup_all(self, name: str) -> Sequence[KeyLookup]:
        return tuple(self._keys.get(normalize_name(name), ()))

    def lookup(self, name: str) -> KeyLookup | None:
        found = self.lookup_all(name)
        return found[0] if found else None
