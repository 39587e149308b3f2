"""The verdict: the one place where check results are combined into a word and caveats.

Rules (README, "Verdicts"): ``verified`` needs one passing signature that meets every
condition below; a pass that misses any is ``weak``; no pass but a cryptographic
failure is ``failed``; no pass and no failure is ``unverifiable``; no signature is
``unsigned``. A false "verified" is the worst mistake this tool can make, so every
condition is an explicit, named caveat.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from verify import arc_caveats, limits
from verify.checks.headers import SINGLETONS, VISIBLE, address_domain, duplicates, from_addresses
from verify.key_caveats import BLOCKING as KEY_BLOCKING
from verify.key_caveats import key_caveats
from verify.model import ArcResult, Caveat, HeaderField, Reason, RecordedResult, Repair, Result, SignatureResult, Verdict
from verify.timefmt import stamp

#: Clock slack between a signer and the receiving server.
CLOCK_SLACK = 15 * 60


@functools.lru_cache(maxsize=1)
def _psl() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=16384)
def org_domain(domain: str) -> str:
    """The organisational domain (RFC 7489 3.2) via the Public Suffix List.

    Cached: the header-chain checks ask it for every host of every hop, and a mailbox
    repeats its hosts (a scan of 3,000 messages asked 50,000 times)."""
    d = domain.rstrip(".").lower()
    found = _psl().privatesuffix(d)  # type: ignore[attr-defined]
    return str(found) if found else d


def when(t: int | None) -> str:
    if t is None:
        return "an unknown time"
    return stamp(t, "%Y-%m-%d %H:%M UTC", f"Unix time {t} (out of calendar range)")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    summary: str
    caveats: tuple[Caveat, ...]
    from_domain: str | None


def decide(
    headers: Sequence[HeaderField],
    sigs: Sequence[SignatureResult],
    reference_time: int | None,
    repairs: Sequence[Repair] = (),
    now: int | None = None,
    revealed: frozenset[str] = frozenset(),
    arc: ArcResult | None = None,
    recorded: Sequence[RecordedResult] = (),
) -> Decision:
    """Combine every signature's result with the header facts into one verdict.

    ``revealed`` holds fingerprints of keys whose private half is public (``--revealed``)."""
    caveats: list[Caveat] = [Caveat(r.code, r.message) for r in repairs]
    # One pass lower-cases every field name; each rule below reads this index. Five passes
    # (a Counter, duplicates(), From fields, DKIM-Signature count, visible fields) were a
    # third of decide()'s time.
    by_name: dict[str, list[HeaderField]] = {}
    visible: list[tuple[str, HeaderField]] = []  # (lower-case name, field) of VISIBLE fields, in order
    for lname, h in zip(map(str.lower, map(_NAME, headers)), headers, strict=True):
        same = by_name.get(lname)
        if same is None:
            by_name[lname] = [h]
        else:
            same.append(h)
        if lname in _VISIBLE:
            visible.append((lname, h))
    from_fields = by_name.get("from", ())
    froms = from_addresses(from_fields)
    from_domains = {d for d in (address_domain(a) for _, a in froms) if d}
    from_domain = next(iter(from_domains)) if len(from_domains) == 1 else None

    if not from_fields:
        caveats.append(
            Caveat("no-from-header", "The message has no From field, so there is no claimed sender to check the signer against.")
        )
    elif len(froms) > 1 or len(from_domains) > 1:
        caveats.append(
            Caveat(
                "multiple-from-addresses",
                "The From field(s) name more than one address, so the claimed sender is ambiguous.",
                header="From",
            )
        )
    dups = duplicates(headers, by_name)
    for name, where in dups.items():
        caveats.append(
            Caveat(
                "duplicate-header",
                f"The message has {len(where)} {_title(name)} fields; RFC 5322 allows one. A mail client may show one "
                "while a signature covers another: a classic way to put words in a signed message.",
                header=_title(name),
            )
        )
    n_dkim = sum(len(fields) for lname, fields in by_name.items() if lname.rstrip() == "dkim-signature")
    if n_dkim > len(sigs):
        caveats.append(
            Caveat(
                limits.LIMIT_REACHED,
                f"The message carries {n_dkim:,} DKIM-Signature fields; only the first {len(sigs)} were checked "
                f"(limit {limits.MAX_SIGNATURES}), the rest were not.",
                header="DKIM-Signature",
            )
        )
    if "domainkey-signature" in by_name:
        caveats.append(
            Caveat(
                "domainkeys-not-checked",
                "The message carries a DomainKeys signature (the pre-2007 predecessor of DKIM, RFC 4870, historic); it is not checked.",
            )
        )

    passing = [s for s in sigs if s.result is Result.PASS]
    qualifying: list[SignatureResult] = []
    for s in sigs:
        sig_caveats = _signature_caveats(s, by_name, dups, from_domain, reference_time, now)
        sig_caveats.extend(key_caveats(s, reference_time, revealed))
        caveats.extend(sig_caveats)
        if s.result is Result.PASS and not any(c.code in _BLOCKING for c in sig_caveats):
            if from_domain is not None and not any(c.code in ("multiple-from-addresses", "no-from-header") for c in caveats):
                qualifying.append(s)

    if passing:
        covered = {i for s in passing for i in s.covered_header_indexes}
        listed: dict[str, int] = {}  # a dict, not a Counter: building a Counter cost ~0.7 us
        for lname, h in visible:
            if h.index in covered:
                continue
            listed[lname] = n = listed.get(lname, 0) + 1
            if n > limits.MAX_CAVEATS_PER_FIELD:
                continue  # 10,000 Subject fields get ten caveats and a count, not 10,000
            title = _title(lname)
            caveats.append(
                Caveat(
                    "unsigned-header",
                    f"The {title} field (field #{h.index + 1}) is covered by no passing signature: it could have been added or changed by anyone.",
                    header=title,
                )
            )
        for lname, n in listed.items():
            if n > limits.MAX_CAVEATS_PER_FIELD:
                caveats.append(
                    Caveat(
                        "unsigned-header",
                        f"{n - limits.MAX_CAVEATS_PER_FIELD:,} more {_title(lname)} fields are covered by no passing signature (not listed one by one).",
                        header=_title(lname),
                    )
                )
    arc_explained, arc_note = arc_caveats.explain(sigs, arc, recorded)
    caveats.extend(arc_explained)
    if reference_time is None and sigs:
        caveats.append(
            Caveat(
                "no-reference-time",
                "Neither a Received nor a Date field gives the time of delivery, so signature times cannot be judged as of then.",
            )
        )

    # A header named by a signature-level duplicate-header caveat needs no message-level twin.
    specific = {c.header for c in caveats if c.code == "duplicate-header" and c.signature is not None}
    if specific:
        caveats = [c for c in caveats if not (c.code == "duplicate-header" and c.signature is None and c.header in specific)]
    verdict, summary = _word(sigs, passing, qualifying, caveats, from_domain)
    if arc_note and verdict is Verdict.FAILED:
        summary += " " + arc_note
    return Decision(verdict, summary, tuple(caveats), from_domain)


_BLOCKING = {
    "weak-key",
    "body-length-limit",
    "signer-not-aligned",
    "signature-expired",
    "from-not-signed",
    "duplicate-header",
    *KEY_BLOCKING,
}


_VISIBLE = frozenset(VISIBLE)
_NAME = operator.attrgetter("name")


def _title(name: str) -> str:
    """A field name as RFC 5322 spells it; the names the caveats use are worked out once."""
    title = _TITLES.get(name)
    return title if title is not None else _spell(name)


def _spell(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-")).replace("Message-Id", "Message-ID")


_TITLES = {name: _spell(name) for name in (*SINGLETONS, *VISIBLE)}


def _signature_caveats(
    s: SignatureResult,
    by_name: dict[str, list[HeaderField]],
    dups: dict[str, list[int]],
    from_domain: str | None,
    ref: int | None,
    now: int | None,
) -> list[Caveat]:
    out: list[Caveat] = []
    i = s.index
    who = f"Signature #{i + 1} ({s.domain})"
    if s.key is not None and s.result is Result.PASS:
        if s.key.key_type == "rsa" and s.key.key_bits < limits.MIN_STRONG_RSA_BITS:
            out.append(
                Caveat(
                    "weak-key",
                    f"{who} uses a {s.key.key_bits}-bit RSA key. Keys under 1024 bits can be factored with public tools, so anyone may have made this signature.",
                    i,
                )
            )
    if s.reason is Reason.LIMIT_REACHED:
        out.append(Caveat(limits.LIMIT_REACHED, f"{who} was not checked: {s.detail}.", i))
    if s.result is not Result.PASS:
        if s.key is not None and s.key.key_type == "rsa" and s.key.key_bits < limits.MIN_STRONG_RSA_BITS:
            out.append(Caveat("weak-key", f"{who} uses a {s.key.key_bits}-bit RSA key, too short to be trusted even if it verified.", i))
        return out
    if s.algorithm == "rsa-sha1":
        out.append(
            Caveat(
                "sha1-signature",
                f"{who} uses rsa-sha1, which RFC 8301 retired in 2018; it was normal before then, and no practical forgery of a DKIM rsa-sha1 signature is public.",
                i,
            )
        )
    if s.body_length is not None and s.body_bytes_total is not None and s.body_bytes_signed is not None:
        extra = s.body_bytes_total - s.body_bytes_signed
        if extra > 0:
            out.append(
                Caveat(
                    "body-length-limit",
                    f"{who} covers only the first {s.body_bytes_signed} bytes of the body (l= tag); {extra} bytes after them are not signed and could have been appended by anyone.",
                    i,
                )
            )
    if s.domain and from_domain and org_domain(s.domain) != org_domain(from_domain):
        out.append(
            Caveat(
                "signer-not-aligned",
                f"{who} was made by {s.domain}, not by the sender's domain {from_domain}: it shows that {s.domain} handled the message, not that {from_domain} sent it.",
                i,
            )
        )
    covered = set(s.covered_header_indexes)  # a set: h= may name thousands of fields
    if not any(h.index in covered for h in by_name.get("from", ())):
        out.append(Caveat("from-not-signed", f"{who} does not cover any From field of this message.", i, "From"))
    for name, idx in dups.items():  # the singleton fields present more than once, in SINGLETONS order
        loose = [x for x in idx if x not in covered]
        if loose and any(x in covered for x in idx):
            out.append(
                Caveat(
                    "duplicate-header",
                    f"{who} covers one {_title(name)} field, but another one (field #{loose[0] + 1}) is not signed; a reader may see the unsigned one.",
                    i,
                    _title(name),
                )
            )
    if s.expiration is not None:
        if ref is not None and s.expiration < ref:
            out.append(
                Caveat(
                    "signature-expired", f"{who} had expired (x= {when(s.expiration)}) before the message was received ({when(ref)}).", i
                )
            )
        elif ref is not None and now is not None and s.expiration < now:
            out.append(
                Caveat(
                    "expired-after-delivery",
                    f"{who} carries an expiry (x= {when(s.expiration)}) that has passed today but had not when the message was received ({when(ref)}); it is judged as of delivery, as a verifier at the time would have.",
                    i,
                )
            )
    if s.timestamp is not None and ref is not None and s.timestamp > ref + CLOCK_SLACK:
        out.append(
            Caveat(
                "signed-after-receipt", f"{who} says it was made at {when(s.timestamp)}, after the message was received ({when(ref)}).", i
            )
        )
    if s.key is not None:
        if _testing(s.key.record):
            out.append(
                Caveat(
                    "key-testing-mode",
                    f"The key for {who} is marked as in testing (t=y): the domain said its signatures were not yet to be relied on.",
                    i,
                )
            )
        if len(s.key.lookup.txt) > 1:
            out.append(
                Caveat(
                    "multiple-key-records",
                    f"{s.key_name} has {len(s.key.lookup.txt)} TXT records; each was tried, and the one that matched is reported.",
                    i,
                )
            )
    return out


@functools.lru_cache(maxsize=256)  # bounded: a hostile 64 KB record x 256 = 16 MB at most
def _testing(record: str) -> bool:
    """The key record's t= flags hold ``y``. Cached: every message signed with a key reads
    the same record (the same str, whose hash is kept), and splitting it cost ~1 us."""
    return "y" in _key_flags(record)


def _key_flags(record: str) -> set[str]:
    for part in record.split(";"):
        k, _, v = part.partition("=")
        if k.strip() == "t":
            return {f.strip().lower() for f in v.split(":")}
    return set()


def _word(
    sigs: Sequence[SignatureResult],
    passing: Sequence[SignatureResult],
    qualifying: Sequence[SignatureResult],
    caveats: Sequence[Caveat],
    from_domain: str | None,
) -> tuple[Verdict, str]:
    if not sigs:
        return Verdict.UNSIGNED, (
            "Unsigned: the message has no DKIM signature, so nothing in it is cryptographically verified. The route, clocks "
            "and recorded results below are only what its headers claim, and anyone could have written them."
        )
    if qualifying:
        s = qualifying[0]
        return Verdict.VERIFIED, (
            f"Verified: {s.domain}, the sender's domain, signed this message with a {s.key.key_bits if s.key else '?'}-bit "
            f"{(s.key.key_type if s.key else '').upper()} key, and the signed headers and body are unchanged since."
        )
    if passing:
        s = passing[0]
        blocking = sorted({c.code for c in caveats if c.code in _BLOCKING or c.code in ("no-from-header", "multiple-from-addresses")})
        return Verdict.WEAK, (
            f"A signature by {s.domain} checks out, but it does not prove what it seems to ({', '.join(blocking) or 'see caveats'}): "
            "read the caveats before relying on it."
        )
    failed = [s for s in sigs if s.result is Result.FAIL]
    if failed:
        parts = []
        for s in failed:
            if s.reason is Reason.BODY_HASH_MISMATCH:
                parts.append(f"the headers signed by {s.domain} are authentic but the body was changed after signing")
            else:
                parts.append(f"the signature by {s.domain} does not match the signed headers (a signed header was changed)")
        return Verdict.FAILED, "Failed: " + "; ".join(parts) + "."
    reasons = sorted({f"{s.reason.value if s.reason else s.result.value}" for s in sigs})
    return Verdict.UNVERIFIABLE, (
        f"Unverifiable: the signature(s) could not be checked ({', '.join(reasons)}). This is neither proof of forgery nor of authenticity."
    )
