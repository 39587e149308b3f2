"""Keys from answers already in hand: a mapping of name -> TXT record(s) or a status.

For callers that recorded DNS answers elsewhere (a JSON file, a test's fixture) and
want them treated exactly like any other source, with their origin named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from verify.keys import normalize_name, utcnow_iso
from verify.model import KeyLookup

#: Values that stand for a lookup failure rather than a record.
STATUSES = {"nxdomain", "no-txt", "servfail", "timeout", "error"}


class StaticSource:
    """``{"sel._domainkey.example.com": "v=DKIM1; p=..."}``; a value may also be a list
    of records, or one of :data:`STATUSES` to replay a failed lookup."""

    def __init__(self, answers: Mapping[str, str | Sequence[str]], origin: str = "recorded answers", source: str = "file") -> None:
        self._answers = {normalize_name(k): v for k, v in answers.items()}
        self.origin = origin
        self.source = source
        self._at = utcnow_iso()

    def lookup(self, name: str) -> KeyLookup | None:
        value = self._answers.get(normalize_name(name))
        if value is None:
            return None
        if isinstance(value, str) and value in STATUSES:
            return KeyLookup(normalize_name(name), self.source, self.origin, self._at, value)
        txt = (value,) if isinstance(value, str) else tuple(value)
        return KeyLookup(normalize_name(name), self.source, self.origin, self._at, "found", txt)
