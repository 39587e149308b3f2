"""The route: every Received field read as a hop, oldest first (RFC 5321 4.4, RFC 5322 3.6.7).

Pure: header fields in, :class:`~verify.model.Hop` tuples out. Each server that handled
the message prepended one Received field, so the bottom one is the oldest hop. A hop
keeps its raw text, and says in ``note`` what could not be read, so an odd field is
never silently dropped.

Why not mail-parser: its ``parse_received`` is a careful character-by-character scanner
in pure Python, about 37 µs per field here, and ``receiveds_parsing`` (which also parses
the dates and delays) about 265 µs for a four-hop message, while a whole report, DKIM
included, is meant to cost a few hundred microseconds in a scan. Here the common shape
is read by one regex on a copy with the comments blanked out (length preserved, so
positions still index the raw text), dates by one more regex with ``parsedate_tz`` as the
fallback: about 12 µs per field and 53 µs for the same four hops, measured side by side
(``tests/test_received.py`` checks that both read the same clauses). What a clause holds
is taken as written; nothing here decides whether it is true (see
:mod:`verify.checks.timeline`).
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import functools
import ipaddress
import re
from collections.abc import Sequence

from verify import limits
from verify.model import HeaderField, Hop

_COMMENT = re.compile(r"\([^()]*\)")
_KEYWORDS = ("from", "by", "via", "with", "id", "for")
#: RFC 5321 4.4 order (from, by, via, with, id, for), matched on the comment-blanked text
#: in one go: the common case. Anything else is read keyword by keyword.
_STAMP = re.compile(
    r"\s*(?:from\s+(?P<from>\S+)(?P<fromtail>\s+))?"
    r"(?:by\s+(?P<by>\S+)\s*)?"
    r"(?:via\s+\S+\s*)?"
    r"(?:with\s+(?P<with>\S+(?:\s+(?!id\s|for\s)\S+)*)\s*)?"
    r"(?:id\s+(?P<id>\S+)\s*)?"
    r"(?:for\s+(?P<for>\S+)\s*)?",
    re.IGNORECASE,
)
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\Z")
#: An address literal in the from clause, with the name the receiver looked up for it
#: when written just before it in the same comment: (mail.example.com [192.0.2.1]),
#: [IPv6:2001:db8::1].
_LITERAL = re.compile(r"(?:\(\s*([A-Za-z0-9][A-Za-z0-9.-]*)\s+)?\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]", re.IGNORECASE)
#: An address alone in a comment, as Exchange writes it: (10.1.2.3), (2603:10a6::34).
_PAREN_IP = re.compile(r"\(\s*([0-9A-Fa-f:.]{2,45})\s*\)")
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DATE = re.compile(r"(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-])(\d\d)(\d\d)(?!\d)")
_ADDR_STRIP = "<>;,\"'"


def _blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def _blank_comments(text: str) -> tuple[str, bool]:
    """``text`` with every comment replaced by spaces (nested ones too), and whether the
    parentheses balanced. An unclosed comment runs to the end, as RFC 5322 would read it;
    so does one nested deeper than :data:`~verify.limits.MAX_COMMENT_DEPTH` (each level
    costs a pass over the text).

    Flat comments, the usual shape ("(mail.example [192.0.2.1])", "(Postfix)"), are
    blanked by :func:`_blank_flat`; anything else by :func:`_blank_nested`."""
    blanked = _blank_flat(text)
    return (blanked, True) if blanked is not None else _blank_nested(text)


def _blank_flat(text: str) -> str | None:
    """:func:`_blank_nested` for balanced, unnested comments, else None. Found with
    ``str.find`` and joined once: ``re.sub`` with a callback paid a Python call per
    comment and a second pass to see that nothing was left, about 2.5 µs of a 7 µs field
    (``tests/test_received.py`` checks that both give the same text)."""
    find = text.find
    parts: list[str] = []
    pos = 0
    while (start := find("(", pos)) != -1:
        end = find(")", start)
        if end == -1 or find("(", start + 1, end) != -1 or find(")", pos, start) != -1:
            return None
        parts.append(text[pos:start])
        parts.append(" " * (end + 1 - start))
        pos = end + 1
    if find(")", pos) != -1:
        return None
    parts.append(text[pos:])
    return "".join(parts)


def _blank_nested(text: str) -> tuple[str, bool]:
    """The general case of :func:`_blank_comments`: innermost comments first, one level
    per pass."""
    balanced = True
    depth = 0
    while "(" in text:
        depth += 1
        blanked = _COMMENT.sub(_blank, text) if depth <= limits.MAX_COMMENT_DEPTH else text
        if blanked == text:
            start = text.index("(")
            text = text[:start] + " " * (len(text) - start)
            balanced = False
            break
        text = blanked
    if ")" in text:
        balanced = False
        text = text.replace(")", " ")
    return text, balanced


@functools.lru_cache(maxsize=4096)
def _address(text: str) -> str | None:
    """``text`` as an IP address in canonical form, or None. IPv4 by regex (``ipaddress``
    costs ~2 µs a call and IPv4 has one spelling); IPv6 through ``ipaddress``. Cached:
    a mailbox repeats its servers."""
    if _IPV4.match(text):
        return text
    if ":" in text:
        try:
            return str(ipaddress.IPv6Address(text))
        except ValueError:
            return None
    return None


def _sender(from_raw: str) -> tuple[str | None, str | None]:
    """(address, reverse-DNS name) from the raw from clause: the first valid address
    literal, with the name written just before it in the same comment
    ("(mail.example.com [192.0.2.1])"); else an address alone in a comment (Exchange)."""
    bracket = from_raw.find("[")
    if bracket == -1:
        return _paren_ip(from_raw), None
    # A match holds a "[" and starts there or at the last "(" before it (the name and the
    # white space before "[" hold no "("), so the regex need not be tried at every
    # position before that: the same first match, found in a third of the time.
    start = from_raw.rfind("(", 0, bracket)
    m = _LITERAL.search(from_raw, bracket if start == -1 else start)
    while m is not None:
        ip = _address(m.group(2))
        if ip is not None:
            rdns = m.group(1)
            if rdns is not None and rdns.lower() != "unknown":
                return ip, rdns.rstrip(".")
            return ip, None
        m = _LITERAL.search(from_raw, m.end())
    return _paren_ip(from_raw), None


def _paren_ip(from_raw: str) -> str | None:
    for m in _PAREN_IP.finditer(from_raw):
        ip = _address(m.group(1))
        if ip is not None:
            return ip
    return None


def _token(text: str | None) -> str | None:
    """The first white-space-separated token, without stray separators."""
    if not text:
        return None
    parts = text.split(None, 1)
    if not parts:
        return None
    return parts[0].strip(";,") or None


def _parse_date(text: str) -> tuple[int, int] | None:
    """An RFC 5322 date-time as (Unix time, UTC offset in seconds), or None:
    :func:`_stamp_date` (table look-ups, no ``datetime``) where it applies, else
    :func:`_parse_date_general`, which ``tests/test_received.py`` compares it with.
    (Leading white space is left to the general path, whose regex does not skip it.)"""
    stamped = _stamp_date(text, 0)
    if stamped is not None and not text[:1].isspace():
        return stamped[0], stamped[1]
    return _parse_date_general(text)


def _parse_date_general(text: str) -> tuple[int, int] | None:
    """:func:`_parse_date` for any text.

    The usual spelling ("Tue, 10 Feb 2009 10:00:30 +0000") is read by one regex and
    ``calendar.timegm``; anything else (obsolete zones, two-digit years) by the stdlib's
    ``parsedate_tz``, which costs several times more. The year 0000, which ``timegm``
    refuses, is no date."""
    m = _DATE.match(text)
    if m is not None:
        day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
        d, h, mi, sec = int(day), int(hh), int(mm), int(ss or 0)
        if mon.lower() in _MONTHS and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61 and int(om) < 60:
            if int(year) == 0:
                return None
            offset = (int(oh) * 3600 + int(om) * 60) * (-1 if sign == "-" else 1)
            return calendar.timegm((int(year), _MONTHS[mon.lower()], d, h, mi, sec)) - offset, offset
    parsed = email.utils.parsedate_tz(text)
    if parsed is None:
        return None
    try:
        return int(email.utils.mktime_tz(parsed)), int(parsed[9] or 0)
    except (OverflowError, ValueError, OSError):
        return None


#: :func:`_parse_date`, cached for the Date field, which a report reads more than once
#: (the chain, the anomalies). Received dates never repeat (they carry seconds), so
#: :func:`parse` reads them with :func:`_stamp_date` and the uncached fallback.
date = functools.lru_cache(maxsize=1024)(_parse_date)

#: The date part of a Received field after its ';', in the usual spelling, read in place
#: (white space as :data:`_DATE` allows it, so no " ".join(split()) copy is needed):
#: groups day-month-year, hour, minute, second, zone.
_STAMP_DATE = re.compile(r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2}\s+[A-Za-z]{3}\s+\d{4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-]\d\d\d\d)(?!\d)")
# The whole field in one regex, on the raw text: :data:`_STAMP` with every white space
# position also taking comments (``_SP``: at least one white space or comment, ``_OSP``:
# any), tokens without parentheses or ';', then ';' and the date as :data:`_STAMP_DATE`
# reads it (case-sensitive, no comments inside), then only white space and comments.
# When it matches, the comments are flat and balanced, its ';' is the last one outside
# them, and each group is what :data:`_STAMP` and :data:`_STAMP_DATE` find on the
# comment-blanked text, so :func:`parse` skips the blanking and the two other regexes.
_OSP = r"\s*(?:\([^()]*\)\s*)*"
_SP = r"(?=[\s(])" + _OSP
_TOK = r"[^\s();]+"
_USUAL = re.compile(
    rf"{_OSP}(?:from{_SP}(?P<from>{_TOK})(?P<fromtail>{_SP}))?"
    rf"(?:by{_SP}(?P<by>{_TOK}){_OSP})?"
    rf"(?:via{_SP}{_TOK}{_OSP})?"
    rf"(?:with{_SP}(?P<with>{_TOK}(?:{_SP}(?!id[\s(]|for[\s(]){_TOK})*){_OSP})?"
    rf"(?:id{_SP}(?P<id>{_TOK}){_OSP})?"
    rf"(?:for{_SP}(?P<for>{_TOK}){_OSP})?"
    r";(?-i:\s*(?:[A-Za-z]{3},\s*)?(\d{1,2}\s+[A-Za-z]{3}\s+\d{4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-]\d\d\d\d)(?!\d))"
    rf"{_OSP}",
    re.IGNORECASE,
)
_EPOCH = datetime.date(1970, 1, 1).toordinal()
#: "15 Mar 2017" -> days since 1970-01-01, None when the fast path must not read it;
#: "+0100" -> (offset seconds, offset as written in Hop.utc_offset), None likewise.
#: Both fill as met; the first is cleared when full (hostile input can vary it freely).
_DAYS: dict[str, int | None] = {}
_ZONES: dict[str, tuple[int, str] | None] = {}
_MONTH_NUMBERS = {
    "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(name)): n for name, n in _MONTHS.items() for mask in range(8)
}


def _day_number(dmy: str) -> int | None:
    """Days from 1970-01-01 to "15 Mar 2017" as ``calendar.timegm`` counts them (the 1st
    of the month plus day - 1, so 31 Feb is 3 Mar), or None when :func:`_parse_date_general`
    would not take its fast path (unknown month, day outside 1-31) or refuses (year 0)."""
    day, mon, year = dmy.split()
    month, d, y = _MONTH_NUMBERS.get(mon), int(day), int(year)
    if month is None or not 1 <= d <= 31 or y == 0:
        return None
    return datetime.date(y, month, 1).toordinal() - _EPOCH + d - 1


def _zone(text: str) -> tuple[int, str] | None:
    sign, oh, om = text[0], int(text[1:3]), int(text[3:5])
    if om >= 60:
        return None
    offset = (oh * 3600 + om * 60) * (-1 if sign == "-" else 1)
    return offset, _offset(offset)


def _stamp_date(text: str, pos: int) -> tuple[int, int, str] | None:
    """(Unix time, offset, offset text) of the date at ``text[pos:]`` when it is in the
    usual spelling, else None (then :func:`_parse_date_general` reads it, with the same result).

    Why not :func:`date`: its cache never hits for Received dates, its ``calendar.timegm``
    builds a ``datetime.date`` per call, and the caller first copied the text to
    normalise white space; together about 4.5 µs of a 12 µs field. Here the day count of
    a calendar day and each zone are looked up (a mailbox spans few days and zones).
    ``tests/test_received.py`` checks both give the same answer on generated dates."""
    m = _STAMP_DATE.match(text, pos)
    return None if m is None else _stamp_time(*m.groups())


def _stamp_time(dmy: str, hh: str, mm: str, ss: str | None, zone: str) -> tuple[int, int, str] | None:
    """:func:`_stamp_date` from the regex groups (shared with :data:`_USUAL`)."""
    try:
        days = _DAYS[dmy]
    except KeyError:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        days = _DAYS[dmy] = _day_number(dmy)
    try:
        tz = _ZONES[zone]
    except KeyError:
        if len(_ZONES) >= 4096:  # \d is any Unicode digit: bounded like _DAYS
            _ZONES.clear()
        tz = _ZONES[zone] = _zone(zone)
    if days is None or tz is None:
        return None
    h, mi, sec = int(hh), int(mm), int(ss) if ss else 0
    if h >= 24 or mi >= 60 or sec >= 61:
        return None
    return days * 86400 + h * 3600 + mi * 60 + sec - tz[0], tz[0], tz[1]


@functools.lru_cache(maxsize=256)
def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    m = abs(seconds) // 60
    return f"{sign}{m // 60:02d}{m % 60:02d}"


def _keyword_clauses(blank: str, end: int) -> dict[str, tuple[int, int]]:
    """Where each clause's value lies in ``blank[:end]``, for fields not in RFC order.

    Keywords stand alone between white space; str.find on a padded, lower-cased copy is
    several times faster than a case-insensitive regex with look-arounds. The first
    occurrence of each keyword wins (IBM's "for <a> from <b>" repeats "from")."""
    padded = " " + blank[:end].lower().replace("\t", " ") + " "
    starts: list[tuple[int, str]] = []
    for kw in _KEYWORDS:
        at = padded.find(f" {kw} ")
        if at != -1:
            starts.append((at, kw))
    starts.sort()
    clauses: dict[str, tuple[int, int]] = {}
    for n, (at, kw) in enumerate(starts):
        # ``at`` indexes the padded copy, so the keyword itself starts at ``at`` in ``blank``.
        stop = starts[n + 1][0] if n + 1 < len(starts) else end
        clauses[kw] = (at + len(kw), stop)
    return clauses


def parse(value: str, index: int = 0, field_index: int = 0, previous: int | None = None) -> Hop:
    """Read one Received field value (unfolded); never raises. ``previous`` is the time
    of the nearest earlier dated hop, for ``delay_seconds``.

    The usual shape is read by :data:`_USUAL` alone, anything else (and anything it reads
    but cannot finish: a comment inside ``with``, an impossible date) by
    :func:`parse_general`: 5 µs instead of 8 µs a field (``tests/test_received.py`` checks
    that both read the same on generated fields)."""
    if len(value) > limits.MAX_TRACE_FIELD_BYTES:
        note = f"{limits.LIMIT_REACHED}: longer than {limits.MAX_TRACE_FIELD_BYTES:,} characters, not read"
        return Hop(index=index, field_index=field_index, raw=value, note=note)
    m = _USUAL.fullmatch(value)
    if m is None:
        return parse_general(value, index, field_index, previous)
    from_, _, by, protocol, hop_id, for_, dmy, hh, mm, ss, zone = m.groups()
    stamped = _stamp_time(dmy, hh, mm, ss, zone)
    if stamped is None or (protocol is not None and "(" in protocol):
        return parse_general(value, index, field_index, previous)
    # As in parse_general: from, by, id and for are one token each (_token(t) is
    # t.strip(";,") or None there).
    ip = from_rdns = None
    if from_ is not None:
        from_ = from_.strip(";,") or None
        ip, from_rdns = _sender(value[m.start(1) : m.end(2)])
        if ip is None and from_ is not None:
            ip = _address(from_.strip("[]"))
    if by is not None:
        by = by.strip(";,") or None
    if protocol is not None and not protocol.isalnum():
        protocol = " ".join(protocol.split())
    if hop_id is not None:
        hop_id = hop_id.strip(";,") or None
    if for_ is not None:
        for_ = for_.strip(_ADDR_STRIP) or None
    found = m.start(1) != -1 or m.start(3) != -1 or m.start(4) != -1 or m.start(5) != -1 or m.start(6) != -1
    timestamp = stamped[0]
    return Hop(
        index=index,
        field_index=field_index,
        raw=value,
        from_host=from_,
        from_rdns=from_rdns,
        by_host=by,
        ip=ip,
        protocol=protocol,
        id=hop_id,
        for_=for_,
        timestamp=timestamp,
        utc_offset=stamped[2],
        delay_seconds=timestamp - previous if previous is not None else None,
        note=None if found else "no from/by clause",
    )


def parse_general(value: str, index: int = 0, field_index: int = 0, previous: int | None = None) -> Hop:
    """:func:`parse` for any field: comments blanked, then the clauses in RFC order by
    :data:`_STAMP` or keyword by keyword, then the date."""
    if len(value) > limits.MAX_TRACE_FIELD_BYTES:
        note = f"{limits.LIMIT_REACHED}: longer than {limits.MAX_TRACE_FIELD_BYTES:,} characters, not read"
        return Hop(index=index, field_index=field_index, raw=value, note=note)
    blank, balanced = _blank_comments(value) if "(" in value or ")" in value else (value, True)
    notes = [] if balanced else ["unbalanced parentheses"]
    semi = blank.rfind(";")
    head_end = semi if semi != -1 else len(blank)

    from_host = from_raw = by_host = protocol = hop_id = for_text = None
    m = _STAMP.fullmatch(blank, 0, head_end)
    if m is not None:  # the common case: RFC 5321 order, one token per clause
        # Each of from, by and id is one \S+ token: _token(t) is t.strip(";,") or None.
        from_, _, by, protocol, hop_id, for_text = m.groups()
        if from_ is not None:
            from_host = from_.strip(";,") or None
            from_raw = value[m.start(1) : m.end(2)]
        if by is not None:
            by_host = by.strip(";,") or None
        if protocol is not None and not protocol.isalnum():
            protocol = " ".join(protocol.split())
        if hop_id is not None:
            hop_id = hop_id.strip(";,") or None
        found = m.lastindex is not None
    else:
        clauses = _keyword_clauses(blank, head_end)
        found = bool(clauses)
        if "from" in clauses:
            a, b = clauses["from"]
            from_host, from_raw = _token(blank[a:b]), value[a:b]
        if "by" in clauses:
            by_host = _token(blank[slice(*clauses["by"])])
        if "with" in clauses:
            protocol = " ".join(blank[slice(*clauses["with"])].split()) or None
        if "id" in clauses:
            hop_id = _token(blank[slice(*clauses["id"])])
        if "for" in clauses:
            for_text = blank[slice(*clauses["for"])]
    if not found:
        notes.append("no from/by clause")

    ip = from_rdns = None
    if from_raw is not None:
        ip, from_rdns = _sender(from_raw)
        if ip is None and from_host is not None:
            ip = _address(from_host.strip("[]"))
    for_ = None
    if for_text:
        if m is not None:  # one token
            for_ = for_text.strip(_ADDR_STRIP) or None
        else:
            tokens = [t.strip(_ADDR_STRIP) for t in for_text.split()]
            for_ = next((t for t in tokens if "@" in t), None) or (" ".join(t for t in tokens if t) or None)

    timestamp = utc_offset = None
    if semi == -1:
        notes.append("no date (no ';')")
    elif (stamped := _stamp_date(blank, semi + 1)) is not None:
        timestamp, _, utc_offset = stamped
    else:
        date_text = " ".join(blank[semi + 1 :].split())
        when = _parse_date_general(date_text) if date_text else None
        if when is None:
            notes.append("date unreadable" if date_text else "no date after ';'")
        else:
            timestamp, offset = when
            utc_offset = _offset(offset)
    return Hop(
        index=index,
        field_index=field_index,
        raw=value,
        from_host=from_host,
        from_rdns=from_rdns,
        by_host=by_host,
        ip=ip,
        protocol=protocol,
        id=hop_id,
        for_=for_,
        timestamp=timestamp,
        utc_offset=utc_offset,
        delay_seconds=timestamp - previous if timestamp is not None and previous is not None else None,
        note="; ".join(notes) or None,
    )


def hops(headers: Sequence[HeaderField]) -> tuple[Hop, ...]:
    """Every Received field as a hop, oldest (bottom-most) first, with delays filled in.

    ``delay_seconds`` runs from the nearest earlier hop that has a readable time, so one
    undated hop does not hide the delay across it; it is negative when a later hop is
    stamped earlier (see the timeline checks). At most :data:`~verify.limits.MAX_HOPS`
    fields are read (the topmost); :mod:`verify.chain` reports any beyond.
    """
    # The topmost fields were written by the servers nearest the reader: keep those.
    fields = [h for h in headers if (name := h.name) == "Received" or name.lower() == "received"][: limits.MAX_HOPS]
    out: list[Hop] = []
    last: int | None = None
    for n, h in enumerate(reversed(fields)):
        hop = parse(h.value, n, h.index, last)
        if hop.timestamp is not None:
            last = hop.timestamp
        out.append(hop)
    return tuple(out)
