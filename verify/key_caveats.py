"""Caveats about where a signature's key came from; :mod:`verify.verdict` adds them.

A signature is only as good as the tie between its key and the signing domain. These
rules read the trials the DKIM check recorded (every key answer, from every source,
and whether it verified) and say what a reporter must know: the key was rotated, the
sources disagree, the archive saw the key at another time, the key was reconstructed
from signatures or its private half is public, a DNS answer was bogus.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from verify.model import Caveat, KeyLookup, KeyTrial, Result, SignatureResult
from verify.timefmt import stamp

#: How far outside an archive's seen-window a message may fall before ``outside-key-window``.
#: An archive sees a key only when it looks: a crawler polls every few days, resolvers
#: cache records for a day or more, and mail sits in queues. A week covers those; beyond
#: it, the archive simply says nothing about the key at that time.
WINDOW_SLACK = 7 * 86400

#: Caveats that keep a passing signature from making the message ``verified``.
BLOCKING = frozenset({"key-revealed", "key-reconstructed"})

_GONE = {"nxdomain": "no longer exists", "no-txt": "holds no TXT record", "key-revoked": "holds a revoked key (empty p=)"}


def _epoch(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(_dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _day(iso: str | None) -> str:
    return (iso or "?")[:10]


def describe(lk: KeyLookup) -> str:
    """A source in words: which file, archive window or resolver, and when."""
    if lk.source == "dns":
        where = f"DNS ({lk.origin}, asked {_day(lk.retrieved_at)})"
    elif lk.source == "archive":
        where = f"the key archive {lk.origin} (seen {_day(lk.first_seen)} to {_day(lk.last_seen)})"
    elif lk.source == "reconstructed":
        where = f"the reconstructed key {lk.origin}"
    else:
        where = f"the key file {lk.origin}"
    return where + (f", as recorded in {lk.recorded_in}" if lk.recorded_in else "")


def sources_agree(s: SignatureResult) -> bool | None:
    """True when every source with a usable key holds the key that was used; None with fewer than two."""
    if len(s.key_trials) < 2:
        # Fewer than two trials cannot name two sources. The usual case (one key answer), and
        # without this the JSON report hashed each trial's KeyLookup (every field) to find it out.
        return None
    return sources_agree_in_full(s)


def sources_agree_in_full(s: SignatureResult) -> bool | None:
    """:func:`sources_agree` without its shortcut (tests hold the two to the same answers)."""
    per_lookup: dict[KeyLookup, set[str]] = {}
    for t in s.key_trials:
        if t.fingerprint is not None:
            per_lookup.setdefault(t.lookup, set()).add(t.fingerprint)
    if len(per_lookup) < 2 or s.key is None:
        return None
    return all(s.key.fingerprint in fps for fps in per_lookup.values())


def key_caveats(s: SignatureResult, ref: int | None, revealed: frozenset[str]) -> list[Caveat]:
    """Every key-provenance caveat for one signature (pass or not)."""
    if _one_key_file(s, revealed):
        return []
    return all_key_caveats(s, ref, revealed)


def all_key_caveats(s: SignatureResult, ref: int | None, revealed: frozenset[str]) -> list[Caveat]:
    """:func:`key_caveats` without its shortcut: every rule asked (the reference for the tests)."""
    out: list[Caveat] = []
    i = s.index
    who = f"Signature #{i + 1} ({s.domain})"
    seen_bogus: set[KeyLookup] = set()
    for t in s.key_trials:
        if t.outcome == "dnssec-bogus" and t.lookup not in seen_bogus:
            seen_bogus.add(t.lookup)
            out.append(
                Caveat(
                    "dnssec-bogus",
                    f"The DNS answer for {t.lookup.name} from {t.lookup.origin} failed DNSSEC validation ({t.lookup.dnssec_detail or 'bogus'}): "
                    "it may have been altered on the way, so it was not used.",
                    i,
                )
            )
    rotated = False
    if s.result is Result.PASS and s.key is not None:
        fp = s.key.fingerprint
        passing = [t for t in s.key_trials if t.outcome == "pass"]
        if fp.lower() in revealed:
            out.append(
                Caveat(
                    "key-revealed",
                    f"The key that verifies {who} (SHA-256 {fp[:16]}…) is on the list of revealed keys: its private half is public, "
                    "so anyone could have made this signature. It proves nothing about who sent the message.",
                    i,
                )
            )
        if any(t.lookup.source == "reconstructed" for t in passing) and not any(t.lookup.source in ("dns", "archive") for t in passing):
            rec = next(t for t in passing if t.lookup.source == "reconstructed")
            out.append(
                Caveat(
                    "key-reconstructed",
                    f"{who} verifies only with a key reconstructed from signatures ({rec.lookup.origin}): the messages are consistent with "
                    f"one key, but nothing yet ties that key to {s.domain}. Find the same key in DNS or a key archive before relying on it.",
                    i,
                )
            )
        rotation = _rotation(s, passing)
        if rotation is not None:
            rotated = True
            out.append(rotation)
        window = _window(s, passing, ref if ref is not None else s.timestamp)
        if window is not None:
            out.append(window)
    disagree = _disagreement(s, exclude_dns=rotated)
    if disagree is not None:
        out.append(disagree)
    return out


def _one_key_file(s: SignatureResult, revealed: frozenset[str]) -> bool:
    """True for the usual signature of a scan with ``--keys``: one answer, from a key file, with
    no seen-window and no DNSSEC verdict, whose key is not revealed. No rule above can fire
    then (bogus needs a bogus trial, rotation a DNS one, the window an archive's dates,
    disagreement two sources), so :func:`key_caveats` skips them: they were ~2 us a signature.
    tests/test_key_provenance.py checks that both paths agree."""
    if len(s.key_trials) != 1:
        return False
    t = s.key_trials[0]
    lk = t.lookup
    if t.outcome == "dnssec-bogus" or lk.source != "file" or lk.first_seen or lk.last_seen:
        return False
    return not (s.result is Result.PASS and s.key is not None and s.key.fingerprint.lower() in revealed)


def _rotation(s: SignatureResult, passing: Sequence[KeyTrial]) -> Caveat | None:
    """DNS holds another key (or none) while a key from elsewhere verifies: the key was rotated."""
    if not passing or any(t.lookup.source == "dns" for t in passing):
        return None
    dns = [t for t in s.key_trials if t.lookup.source == "dns" and (t.outcome == "fail" or t.outcome in _GONE)]
    if not dns:
        return None
    d = dns[0]
    good = min(passing, key=lambda t: 0 if t.lookup.source == "archive" else 1)
    if d.outcome == "fail":
        today = f"holds a different key (SHA-256 {(d.fingerprint or '?')[:16]}…) that does not verify this signature"
    else:
        today = _GONE[d.outcome]
    return Caveat(
        "key-rotated",
        f"{s.key_name} in {describe(d.lookup)} {today}, but the key from {describe(good.lookup)} verifies it: {s.domain} has rotated "
        "its key since the message was signed. That is the normal life of a DKIM key, and why old mail needs archived keys.",
        s.index,
    )


def _window(s: SignatureResult, passing: Sequence[KeyTrial], t: int | None) -> Caveat | None:
    """The message's time against every seen-window of the verifying key; a caveat when it is in none."""
    if t is None or s.key is None:
        return None
    windows = [
        (w.lookup, _epoch(w.lookup.first_seen), _epoch(w.lookup.last_seen))
        for w in passing
        if w.fingerprint == s.key.fingerprint and (w.lookup.first_seen or w.lookup.last_seen)
    ]
    if not windows:
        return None
    for _, first, last in windows:
        if (first is None or t >= first - WINDOW_SLACK) and (last is None or t <= last + WINDOW_SLACK):
            return None
    lk, first, last = windows[0]
    if first is not None and t < first:
        days, side = (first - t) // 86400, "before the archive first saw the key"
    else:
        days, side = (t - (last or t)) // 86400, "after the archive last saw the key"
    when = stamp(t, "%Y-%m-%d", f"Unix time {t}")  # a Received date in year 9999 -2359 is out of range
    return Caveat(
        "outside-key-window",
        f"Signature #{s.index + 1} ({s.domain}) verifies with a key that {lk.origin} saw only from {_day(lk.first_seen)} to "
        f"{_day(lk.last_seen)}; the message dates from {when}, {days} days {side} (a week's slack allowed). The archive does not "
        f"show that {s.domain} used this key then; it may have, before the archive looked or after it stopped.",
        s.index,
    )


def _disagreement(s: SignatureResult, exclude_dns: bool) -> Caveat | None:
    if len(s.key_trials) < 2:
        return None  # as in sources_agree: one trial names one source, and hashing its KeyLookup is not free
    per_lookup: dict[KeyLookup, list[KeyTrial]] = {}
    for t in s.key_trials:
        if t.fingerprint is not None and not (exclude_dns and t.lookup.source == "dns"):
            per_lookup.setdefault(t.lookup, []).append(t)
    if len(per_lookup) < 2:
        return None
    sets = [{t.fingerprint for t in ts} for ts in per_lookup.values()]
    if set.intersection(*sets):
        return None
    parts = []
    for lk, ts in per_lookup.items():
        keys = ", ".join(f"{(t.fingerprint or '?')[:16]}… ({'verifies' if t.outcome == 'pass' else 'does not verify'})" for t in ts)
        parts.append(f"{describe(lk)}: {keys}")
    return Caveat(
        "key-sources-disagree",
        f"The sources give different keys for {s.key_name}: " + "; ".join(parts) + ". Ask which one the domain really published, and when.",
        s.index,
    )
