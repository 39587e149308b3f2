"""Do the clocks agree? Findings about the route's times and hand-offs.

Pure: hops (from :mod:`verify.checks.received`), the Date field and the signatures'
``t=`` times in, :class:`~verify.model.Finding` tuples out, each with a stable code:

==========================  =======  ===============================================
code                        level    what it says
==========================  =======  ===============================================
hop-out-of-order            warning  a hop is stamped earlier than the hop before it
date-after-first-hop        warning  Date is later than the first server's receipt
date-long-before-first-hop  warning  Date is more than a day before the first receipt
dkim-time-after-receipt     warning  t= is later than the first receipt after signing
dkim-time-before-date       warning  t= is well before the Date field
transit-implausible         warning  first to last hop takes longer than servers retry
hop-handoff-mismatch        info     a hop's ``by`` is not the next hop's ``from``
private-ip                  info     a private/loopback address between organisations
reserved-ip                 info     a documentation/reserved address between them
==========================  =======  ===============================================

Servers' clocks drift, so each comparison has a tolerance. Times are only what the
headers say; a finding says the story does not add up, not who changed what.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verify.model import Finding, Hop, fast_init
from verify.timefmt import stamp

#: Slack between two servers' clocks before a backwards step counts.
CLOCK_TOLERANCE = 15 * 60
#: Slack for the Date field, written by the sender's own computer.
DATE_TOLERANCE = 60 * 60
#: A Date this much older than the first receipt is more than a slow outbox.
DATE_EARLY = 24 * 60 * 60
#: Mail servers give up retrying after about five days (Postfix, Sendmail defaults).
MAX_TRANSIT = 5 * 24 * 60 * 60

_DOC_NETS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DOTTED = re.compile(r"[0-9.]+")

#: host name -> organisational domain (the engine passes the Public Suffix List's).
OrgDomain = Callable[[str], str]


@fast_init
@dataclass(frozen=True)
class SignedAt:
    """A DKIM signature's ``t=`` and where its field sits in the header section."""

    index: int
    domain: str | None
    timestamp: int
    field_index: int


def _when(t: int) -> str:
    return stamp(t, "%Y-%m-%d %H:%M:%S UTC", f"Unix time {t}")


def span(seconds: int) -> str:
    """A duration in plain words: '40 s', '12 min', '3 h 5 min', '2 days 4 h'."""
    s = abs(seconds)
    if s < 120:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} days {h} h" if h else f"{d} days"


def _hop_name(h: Hop) -> str:
    return f"hop {h.index + 1} (by {h.by_host or 'an unnamed server'})"


def check(
    hops: Sequence[Hop],
    date: int | None,
    signed: Sequence[SignedAt] = (),
    org_domain: OrgDomain | None = None,
) -> tuple[Finding, ...]:
    """Every timeline finding, in route order. ``org_domain`` maps a host name to its
    organisational domain (the engine passes the Public Suffix List's); without it
    hosts are compared by name only."""
    out: list[Finding] = []
    dated = [h for h in hops if h.timestamp is not None]
    prev: Hop | None = None
    for h in dated:
        assert h.timestamp is not None
        if prev is not None and prev.timestamp is not None and h.timestamp < prev.timestamp - CLOCK_TOLERANCE:
            out.append(
                Finding(
                    "hop-out-of-order",
                    f"{_hop_name(h).capitalize()} is stamped {_when(h.timestamp)}, {span(prev.timestamp - h.timestamp)} before "
                    f"{_hop_name(prev)} handed it on ({_when(prev.timestamp)}): the clock runs backwards along the route. "
                    "A server clock was wrong, or the Received fields were written or edited by hand.",
                    hop=h.index,
                )
            )
        prev = h

    if dated:
        first, last = dated[0], dated[-1]
        assert first.timestamp is not None and last.timestamp is not None
        if date is not None:
            if date > first.timestamp + DATE_TOLERANCE:
                after_last = last is not first and date > last.timestamp
                out.append(
                    Finding(
                        "date-after-first-hop",
                        f"The Date field ({_when(date)}) is {span(date - first.timestamp)} later than the first server's receipt "
                        f"({_when(first.timestamp)}, by {first.by_host or 'an unnamed server'})"
                        + (f", and later than the final delivery ({_when(last.timestamp)})" if after_last else "")
                        + ": a message cannot be written after it was received. The sender's clock was wrong, or Date was changed.",
                        hop=first.index,
                        header="Date",
                    )
                )
            elif date < first.timestamp - DATE_EARLY:
                out.append(
                    Finding(
                        "date-long-before-first-hop",
                        f"The Date field ({_when(date)}) is {span(first.timestamp - date)} before the first server's receipt "
                        f"({_when(first.timestamp)}). A message held in an outbox can explain hours, rarely days; "
                        "otherwise Date was set back or the route was written later.",
                        hop=first.index,
                        header="Date",
                    )
                )
        if last.timestamp - first.timestamp > MAX_TRANSIT:
            out.append(
                Finding(
                    "transit-implausible",
                    f"From the first hop ({_when(first.timestamp)}) to the last ({_when(last.timestamp)}) the message took "
                    f"{span(last.timestamp - first.timestamp)}; mail servers stop retrying after about five days, "
                    "so the route is not one continuous delivery.",
                    hop=last.index,
                )
            )

    for s in signed:
        # The signer prepends its DKIM-Signature, so Received fields above it were added
        # after signing; the lowest of those is the first receipt after the signature.
        first_after = next((h for h in dated if h.field_index < s.field_index), None)
        if first_after is not None:
            assert first_after.timestamp is not None
            if s.timestamp > first_after.timestamp + CLOCK_TOLERANCE:
                out.append(
                    Finding(
                        "dkim-time-after-receipt",
                        f"Signature #{s.index + 1} ({s.domain}) says it was made at {_when(s.timestamp)}, "
                        f"{span(s.timestamp - first_after.timestamp)} after {_hop_name(first_after)} received the signed message "
                        f"({_when(first_after.timestamp)}). The signer's clock was wrong, or the message was signed again later.",
                        signature=s.index,
                        hop=first_after.index,
                    )
                )
        if date is not None and s.timestamp < date - DATE_TOLERANCE:
            out.append(
                Finding(
                    "dkim-time-before-date",
                    f"Signature #{s.index + 1} ({s.domain}) was made at {_when(s.timestamp)}, {span(date - s.timestamp)} before "
                    f"the time in the Date field ({_when(date)}). A message is dated before it is signed: the sender's clock "
                    "was wrong, or Date was changed (and Date is then not covered by this signature, or it would fail).",
                    signature=s.index,
                    header="Date",
                )
            )

    names = [_sender_names(h.from_host, h.from_rdns) for h in hops]
    bys = [_by_name(h.by_host) for h in hops]
    out.extend(_handoffs(hops, names, org_domain, bys))
    out.extend(_addresses(hops, names, org_domain, bys))
    return tuple(out)


@functools.lru_cache(maxsize=8192)
def _norm(host: str | None) -> str | None:
    if not host:
        return None
    return host.strip("[]").rstrip(".").lower() or None


@functools.lru_cache(maxsize=8192)
def _is_ip(text: str) -> bool:
    """An address literal rather than a name: IPv6 has colons, IPv4 only digits and dots.
    (Not ``ipaddress``: its exception for every host name costs more than the check.)"""
    return ":" in text or _DOTTED.fullmatch(text) is not None


def _org(name: str, org_domain: OrgDomain | None) -> str:
    """The organisational domain of a host *name* (callers have set addresses aside)."""
    return org_domain(name) if org_domain is not None and "." in name else name


@functools.lru_cache(maxsize=8192)
def _same_host(a: str, b: str, org_domain: OrgDomain | None) -> bool:
    if a == b:
        return True
    # A short name and its full name ("exch02" / "exch02.corp.example").
    if "." not in a or "." not in b:
        return a.split(".", 1)[0] == b.split(".", 1)[0]
    return _org(a, org_domain) == _org(b, org_domain)


@functools.lru_cache(maxsize=8192)
def _by_name(host: str | None) -> str | None:
    """A hop's ``by`` as a name to compare (normalised), or None when it is empty or an
    address literal: what both :func:`_handoffs` and :func:`_addresses` need, in one
    cached call per hop instead of two each."""
    by = _norm(host)
    return None if by is None or _is_ip(by) else by


@functools.lru_cache(maxsize=8192)
def _known_to(by: str, names: tuple[str, ...], org_domain: OrgDomain | None) -> bool:
    """Whether ``by`` is one of the sender ``names`` (same host or organisation).
    Cached as a whole: ``any()`` over a generator of cached ``_same_host`` calls was the
    largest part of the hand-off checks (``_same_host`` is symmetric, so the order of
    the comparison does not matter)."""
    return any(_same_host(by, n, org_domain) for n in names)


@functools.lru_cache(maxsize=8192)
def _sender_names(from_host: str | None, from_rdns: str | None) -> tuple[str, ...]:
    """The names a hop gives its sender (HELO, reverse DNS), without address literals."""
    # Cached, like _norm, _is_ip and _same_host: a mailbox repeats its servers, a scan reads thousands.
    out: list[str] = []
    for n in (_norm(from_host), _norm(from_rdns)):
        if n and n != "unknown" and not _is_ip(n) and n not in out:
            out.append(n)
    return tuple(out)


def _handoffs(
    hops: Sequence[Hop],
    all_names: Sequence[tuple[str, ...]],
    org_domain: OrgDomain | None,
    bys: Sequence[str | None] | None = None,
) -> list[Finding]:
    """``bys`` is :func:`_by_name` of each hop, when the caller has it."""
    if bys is None:
        bys = [_by_name(h.by_host) for h in hops]
    out: list[Finding] = []
    for n in range(1, len(hops)):
        by = bys[n - 1]
        names = all_names[n]
        if by is None or not names:
            continue  # a server named only by its address: nothing to compare by name
        if not _known_to(by, names, org_domain):
            prev, nxt = hops[n - 1], hops[n]
            out.append(
                Finding(
                    "hop-handoff-mismatch",
                    f"{_hop_name(prev).capitalize()} is not the server hop {nxt.index + 1} says it came from "
                    f"({', '.join(names)}). Common where servers use internal names or load balancers; "
                    "a gap can also mean a hop is missing or was inserted.",
                    severity="info",
                    hop=nxt.index,
                )
            )
    return out


@functools.lru_cache(maxsize=4096)
def _kind(text: str) -> tuple[str, str] | None:
    """What kind of non-public address ``text`` is, or None for a public one (cached:
    ``ipaddress`` is slow and a mailbox repeats its servers)."""
    ip = ipaddress.ip_address(text)
    if ip.is_loopback:
        return "private-ip", "a loopback address (the server talking to itself)"
    if ip.is_link_local:
        return "private-ip", "a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "private-ip", "a carrier-grade NAT address (RFC 6598)"
    if any(ip in net for net in _DOC_NETS):
        return "reserved-ip", "a documentation address (RFC 5737/3849)"
    if ip.is_private:
        return "private-ip", "a private address (RFC 1918/4193)"
    if not ip.is_global:
        return "reserved-ip", "a reserved address, not routable on the internet"
    return None


def _addresses(
    hops: Sequence[Hop],
    all_names: Sequence[tuple[str, ...]],
    org_domain: OrgDomain | None,
    bys: Sequence[str | None] | None = None,
) -> list[Finding]:
    """Non-public sending addresses on hops between organisations (where the internet is
    crossed and a public address is expected). Inside one organisation they are normal.
    ``bys`` is :func:`_by_name` of each hop, when the caller has it."""
    if bys is None:
        bys = [_by_name(h.by_host) for h in hops]
    out: list[Finding] = []
    for h, names, by in zip(hops, all_names, bys, strict=True):
        if h.ip is None or not names or by is None or _known_to(by, names, org_domain):
            continue
        if "." not in by or all("." not in n for n in names):
            continue  # a single-label name is an intranet name: no organisation boundary to see
        sender = names[-1]  # the reverse-DNS name when the receiver wrote one
        kind = _kind(h.ip)
        if kind is None:
            continue
        code, what = kind
        why = (
            "Real mail never comes from such an address: this route is test data, or the field was written by hand."
            if "documentation" in what
            else "Between two organisations a public address is expected; inside one network this is normal, "
            "otherwise the field was written by hand."
        )
        out.append(
            Finding(
                code,
                f"Hop {h.index + 1} says {sender} handed the message to {by} from {h.ip}, {what}. {why}",
                severity="info",
                hop=h.index,
            )
        )
    return out
