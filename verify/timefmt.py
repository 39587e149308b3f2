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
    """ISO 8601 with a ``Z``, as the JSON report writes times; None when unknown or out of range."""
    d = utc(t)
    return d.isoformat().replace("+00:00", "Z") if d is not None else None
