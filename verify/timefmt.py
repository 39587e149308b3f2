"""Unix times from evidence, turned into text without ever raising.

Hostile or broken mail carries times such as ``t=10^30`` or a Received date in year
9999 at -2359: past ``datetime``'s range. Every renderer and check formats times here.
"""

from __future__ import annotations

import datetime as _dt


def utc(t: int | None) -> _dt.datetime | None:
    """The UTC datetime of ``t``, or None when there is none or it is out of range."""
    if t is None:
        return None
    try:
        return _dt.datetime.fromtimestamp(t, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def stamp(t: int, fmt: str, fallback: str) -> str:
    """``t`` formatted with ``fmt``, or ``fallback`` when it is out of calendar range."""
    d = utc(t)
    return d.strftime(fmt) if d is not None else fallback


def iso(t: int | None) -> str | None:
    """ISO 8601 with a ``Z``, as the JSON report writes times; None when unknown or out of range.

    A JSON report formats about seven times a message, and the ``datetime`` path
    (fromtimestamp + isoformat + replace) cost ~1.5 us each; an int from 1970 to 9999 is
    formatted from a cached day and two small tables instead (~0.3 us), with exactly the
    same text (tests/test_render.py compares both paths). Anything else (negative, past
    year 9999, a float, a bool) takes the ``datetime`` path, which decides what is in range.
    """
    if t is None:
        return None
    if type(t) is int and 0 <= t <= _MAX_FAST:
        day, sec = divmod(t, 86400)
        text = _DAYS.get(day)
        if text is None:
            if len(_DAYS) >= 4096:  # a mailbox spans a few thousand days at most; stay bounded
                _DAYS.clear()
            text = _DAYS[day] = _dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat() + "T"
        return text + _HH_MM[sec // 60] + _SS_Z[sec % 60]
    return iso_datetime(t)


def iso_datetime(t: int | None) -> str | None:
    """:func:`iso` through ``datetime``: the general path, and the reference the fast one is tested against."""
    d = utc(t)
    return d.isoformat().replace("+00:00", "Z") if d is not None else None


#: 9999-12-31T23:59:59Z, the last second ``datetime`` can hold.
_MAX_FAST = 253402300799
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_DAYS: dict[int, str] = {}
_HH_MM = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SS_Z = tuple(f"{s:02d}Z" for s in range(60))
