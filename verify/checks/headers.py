"""Facts about the header section that the verdict needs: sender domain, reference time.

Pure and cheap: no full MIME parse, only the fields intake already split.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import functools
import re
from collections.abc import Mapping, Sequence

from verify.model import HeaderField

#: Fields RFC 5322 3.6 allows at most once; a second copy is a classic forgery trick.
SINGLETONS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id")
#: Fields a reader sees in a mail client, which a reporter will quote.
VISIBLE = ("from", "sender", "reply-to", "to", "cc", "subject", "date")


#: The usual spelling, "Tue, 10 Feb 2009 10:00:30 +0100", exactly as ``parsedate_to_datetime``
#: splits it (a four-digit year from 1000 on, a numeric zone other than -0000, which it
#: reads as "zone unknown"): such text goes straight to ``datetime`` with the same fields.
_USUAL_DATE = re.compile(r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) ([1-9]\d{3}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", re.ASCII)
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _usual_date(value: str) -> _dt.datetime | None:
    """``parsedate_to_datetime(value)`` for the usual spelling, without its general tokenizer
    (a scan reads two dates a message); None for anything else, which the stdlib reads."""
    m = _USUAL_DATE.fullmatch(value)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon.lower())
    if month is None or (sign == "-" and oh == "00" and om == "00"):
        return None
    offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
    tz = _dt.timezone(_dt.timedelta(seconds=offset))  # ValueError past 24 h, as in the stdlib
    return _dt.datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)


@functools.lru_cache(maxsize=4096)
def parse_date(value: str) -> int | None:
    """An RFC 5322 date as Unix time, or None when it cannot be read."""
    try:
        value = value.strip()
        dt = _usual_date(value) or email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    try:
        return int(dt.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def reference_time(headers: Sequence[HeaderField]) -> tuple[int | None, str | None]:
    """When the message was received: the topmost dated Received field, else Date.

    The topmost Received is the last server's receipt, i.e. when a verifier at the
    recipient would have checked the signature; judging x= against it, not today's
    clock, is what "verified as of its time" means.
    """
    for h in headers:
        if h.name.lower() == "received" and ";" in h.value:
            t = parse_date(h.value.rpartition(";")[2])
            if t is not None:
                return t, "topmost dated Received field (the last server's receipt)"
    for h in headers:
        if h.name.lower() == "date":
            t = parse_date(h.value)
            if t is not None:
                return t, "Date field (no dated Received field)"
    return None, None


def from_addresses(headers: Sequence[HeaderField]) -> list[tuple[str, str]]:
    """Every (display name, address) in every From field, top to bottom."""
    return list(_addresses(tuple(h.value for h in headers if (n := h.name) == "From" or n.lower() == "from")))


@functools.lru_cache(maxsize=8192)
def _addresses(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Cached: the stdlib address parser is slow and a mailbox repeats its senders.
    return tuple((n, a) for n, a in getaddresses(list(values)) if a or n)


def getaddresses(values: Sequence[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses``, except that comments nested past the parser's recursion
    (a From of 1,000 ``(``, found by the fuzzer) read as no address instead of a crash."""
    try:
        return email.utils.getaddresses(list(values))
    except RecursionError:
        return []


def address_domain(addr: str) -> str | None:
    local, at, domain = addr.rpartition("@")
    domain = domain.strip().strip(">").rstrip(".").lower()
    return domain if at and local and domain else None


def duplicates(headers: Sequence[HeaderField], by_name: Mapping[str, Sequence[HeaderField]] | None = None) -> dict[str, list[int]]:
    """Singleton fields (:data:`SINGLETONS`) present more than once: name -> field indexes.
    ``by_name`` (fields by lower-case name), when the caller has it, saves a pass."""
    if by_name is not None:
        get = by_name.get
        return {n: [h.index for h in fs] for n in SINGLETONS if (fs := get(n)) is not None and len(fs) > 1}
    seen: dict[str, list[int]] = {}
    for h in headers:
        name = h.name.lower()
        if name in SINGLETONS:
            seen.setdefault(name, []).append(h.index)
    return {n: seen[n] for n in SINGLETONS if len(seen.get(n, ())) > 1}
