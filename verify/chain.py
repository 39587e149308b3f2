"""The header chain of one message: route, clocks, what receivers recorded, anomalies.

Pure glue over the pure checks in :mod:`verify.checks` (received, timeline,
authresults, anomalies), run by the engine after DKIM and ARC so that recorded results
can be compared with ours. Nothing here fetches keys or changes the verdict; that stays
with DKIM (:mod:`verify.verdict`).

Cost matters: a scan makes full reports for thousands of messages a second, so every
step reads only the fields intake already split (no MIME parse) and the slow parsers
(``authres``, the address parser) run only where the fast paths give up.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from verify import limits
from verify.checks import anomalies, authresults, received, timeline
from verify.checks.dkim import Prepared
from verify.checks.headers import address_domain, from_addresses
from verify.intake import Evidence
from verify.model import ArcResult, Finding, HeaderField, Hop, RecordedResult, SignatureResult, fast_init
from verify.verdict import org_domain as _org_domain

#: The Public Suffix List lookup, cached: a mailbox names the same hosts over and over.
org_domain = functools.lru_cache(maxsize=8192)(_org_domain)


@fast_init
@dataclass(frozen=True)
class HeaderChain:
    received: tuple[Hop, ...]
    timeline_findings: tuple[Finding, ...]
    recorded_results: tuple[RecordedResult, ...]
    header_findings: tuple[Finding, ...]


def _final_hosts(hops: Sequence[Hop]) -> list[str]:
    """The final receiver's name: the newest hop's ``by`` that is a name, not an address."""
    for h in reversed(hops):
        if h.by_host and any(c.isalpha() for c in h.by_host) and ":" not in h.by_host:
            return [h.by_host]
    return []


def analyse(
    ev: Evidence,
    headers: Sequence[HeaderField],
    prepared: Sequence[Prepared],
    sigs: Sequence[SignatureResult],
    arc: ArcResult | None,
) -> HeaderChain:
    by_name = anomalies.index(headers)
    fields_named = by_name.get
    hops = received.hops(fields_named("received", []))
    extra: list[Finding] = []
    n_received = len(fields_named("received", []))
    if n_received > limits.MAX_HOPS:
        extra.append(
            Finding(
                limits.LIMIT_REACHED,
                f"The message has {n_received:,} Received fields; the topmost {limits.MAX_HOPS} were read as the route. Mail "
                f"servers treat more than {limits.MAX_HOPS} as a mail loop (RFC 5321 6.3), so the rest cannot be a real route.",
            )
        )
    dates = fields_named("date", [])
    when = received.date(" ".join(dates[0].value.split())) if dates else None
    date = when[0] if when is not None else None
    signed = [timeline.SignedAt(p.index, p.domain, p.timestamp, p.field_index) for p in prepared if p.timestamp is not None]
    times = cap((*extra, *timeline.check(hops, date, signed, org_domain)))

    ar, aar = fields_named(authresults.AR, []), fields_named(authresults.AAR, [])
    trace = sorted(ar + aar, key=lambda h: h.index) if ar and aar else ar or aar
    recorded, unreadable = authresults.recorded(trace, arc, _final_hosts(hops), org_domain)
    froms = {address_domain(a) for _, a in from_addresses(fields_named("from", []))} - {None}
    from_domain = next(iter(froms)) if len(froms) == 1 else None
    findings = anomalies.check(ev, headers, [(p.field_index, p.signed_headers) for p in prepared], from_domain, org_domain, by_name)
    findings += unreadable + authresults.contradictions(recorded, sigs, arc)
    return HeaderChain(hops, times, recorded, cap(findings))


def cap(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """At most :data:`~verify.limits.MAX_CAVEATS_PER_FIELD` findings of one code, the
    rest counted in one more: hostile input must not turn into a 40,000-line report."""
    if len(findings) <= limits.MAX_CAVEATS_PER_FIELD:
        return tuple(findings)
    seen: Counter[str] = Counter()
    out: list[Finding] = []
    for f in findings:
        seen[f.code] += 1
        if seen[f.code] <= limits.MAX_CAVEATS_PER_FIELD:
            out.append(f)
    for code, n in seen.items():
        if n > limits.MAX_CAVEATS_PER_FIELD:
            first = next(f for f in out if f.code == code)
            more = n - limits.MAX_CAVEATS_PER_FIELD
            out.append(Finding(code, f"{more:,} more {code} findings like the ones above (not listed one by one).", first.severity))
    return tuple(out)
