"""Header anomalies: facts about the header section that a forger tends to leave behind.

Pure: header fields and the DKIM signatures' ``h=`` lists in, :class:`~verify.model.Finding`
tuples out:

==========================  =======  ===============================================
code                        level    what it says
==========================  =======  ===============================================
duplicate-header            warning  a field RFC 5322 allows once appears twice (the
                                     verdict's caveat of the same code says what it
                                     means for the signatures; this one says where)
added-above-signature       warning  a message field sits above the topmost
                                     DKIM-Signature and no signature covers it
no-date-header              warning  no Date field (RFC 5322 requires one)
malformed-date              warning  the Date field cannot be read as a date
malformed-address           warning  an address field holds no readable address
message-id-domain-mismatch  info     Message-ID's domain is not the From domain's
return-path-mismatch        info     the bounce address is not in the From domain
==========================  =======  ===============================================

mail-parser's defect list is not used: it comes from a full MIME parse of the message,
which costs far more than everything here; these checks need only the fields intake
already split.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence

from verify.checks import dkim as dkim_check
from verify.checks.headers import address_domain, duplicates, getaddresses
from verify.checks.received import date as parse_date
from verify.intake import Evidence
from verify.model import Finding, HeaderField

#: Fields that make up the message a reader sees; above a signature they were added later.
_MESSAGE_FIELDS = {
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
}
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc")
#: A plain address list, the common case, checked without the stdlib's slow parser.
_SIMPLE_ADDR = r"(?:[^\"<>@,;:()\\]*<[^<>@\s,;:\"()\\]+@[^<>@\s,;:\"()\\]+>|[^<>@\s,;:\"()\\]+@[^<>@\s,;:\"()\\]+)"
_SIMPLE_LIST = re.compile(rf"\s*{_SIMPLE_ADDR}\s*(?:,\s*{_SIMPLE_ADDR}\s*)*")
_GROUP = re.compile(r"[^:<>@\"]*:[^;]*;\s*")
_MSGID = re.compile(r"<[^<>@\s]*@([^<>@\s]+)>")
_ANGLE = re.compile(r"\s*<([^<>\s\"(),;:]*)>\s*")


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-")).replace("Message-Id", "Message-ID")


def _readable_addresses(value: str) -> bool:
    """Whether an address field holds a readable address. Cached up to 512 characters:
    a mailbox repeats its senders' and recipients' fields (the bench corpus has 710
    distinct values in 6,911 address fields) and a miss costs 0.1 µs of 1-2 µs."""
    return _readable_cached(value) if len(value) <= 512 else _readable(value)


@functools.lru_cache(maxsize=4096)
def _readable_cached(value: str) -> bool:
    return _readable(value)


def _readable(value: str) -> bool:
    if not value.strip() or _SIMPLE_LIST.fullmatch(value) or _GROUP.fullmatch(value):
        return True
    pairs = getaddresses([value])
    return bool(pairs) and all(address_domain(a) for _, a in pairs if a) and any(a for _, a in pairs)


def index(headers: Sequence[HeaderField]) -> dict[str, list[HeaderField]]:
    """Fields by lower-case name, in order: one pass instead of one per question."""
    out: dict[str, list[HeaderField]] = {}
    for h in headers:
        out.setdefault(h.name.lower(), []).append(h)
    return out


def check(
    ev: Evidence,
    headers: Sequence[HeaderField],
    signed_headers: Sequence[tuple[int, Sequence[str]]],
    from_domain: str | None,
    org_domain: Callable[[str], str] | None = None,
    by_name: Mapping[str, Sequence[HeaderField]] | None = None,
) -> tuple[Finding, ...]:
    """``signed_headers`` is (field index of the DKIM-Signature, its ``h=`` names) per
    signature; ``by_name`` the fields by lower-case name, when the caller has built it."""
    out: list[Finding] = []
    if by_name is None:
        by_name = index(headers)

    for name, where in duplicates(headers, by_name).items():
        fields = ", ".join(f"#{i + 1}" for i in where)
        out.append(
            Finding(
                "duplicate-header",
                f"{_title(name)} appears {len(where)} times (fields {fields}); RFC 5322 allows it once. Mail programs differ in "
                "which one they show.",
                header=_title(name),
            )
        )

    top = min([i for i, _ in signed_headers]) if signed_headers else 0
    above = [h for h in headers[:top] if h.name.lower() in _MESSAGE_FIELDS] if top else []
    if above:
        covered: set[int] = set()
        for _, names in signed_headers:
            covered.update(dkim_check._select(ev.fields, names))
        for h in above:
            if h.index not in covered:
                out.append(
                    Finding(
                        "added-above-signature",
                        f"The {_title(h.name.lower())} field (field #{h.index + 1}) sits above the topmost DKIM-Signature, "
                        "where fields added after signing go, and no signature covers it: it was added or replaced after "
                        "the message was signed.",
                        header=_title(h.name.lower()),
                    )
                )

    dates = by_name.get("date", ())
    if not dates:
        out.append(Finding("no-date-header", "The message has no Date field, which RFC 5322 requires of every message.", header="Date"))
    for h in dates:
        if parse_date(h.value) is None:
            out.append(
                Finding(
                    "malformed-date",
                    f"The Date field (field #{h.index + 1}) cannot be read as a date; mail programs write it by rule (RFC 5322 3.3), "
                    "so a hand-made or damaged header is likely.",
                    header="Date",
                )
            )

    for lname in _ADDRESS_FIELDS:
        for h in by_name.get(lname, ()):
            if not _readable_addresses(h.value):
                out.append(
                    Finding(
                        "malformed-address",
                        f"The {_title(lname)} field (field #{h.index + 1}) holds no readable email address.",
                        header=_title(lname),
                    )
                )

    def org(domain: str) -> str:
        return org_domain(domain) if org_domain is not None else domain

    if from_domain is not None:
        for h in by_name.get("message-id", ())[:1]:
            m = _MSGID.search(h.value)
            if m is None:
                continue
            mid_domain = m.group(1).rstrip(".").lower()
            if "." in mid_domain and org(mid_domain) != org(from_domain):
                out.append(
                    Finding(
                        "message-id-domain-mismatch",
                        f"The Message-ID was made at {mid_domain}, not in the sender's domain {from_domain}. Common for webmail, "
                        "hosted mail and mailing services; for mail said to come from the sender's own server it is worth asking why.",
                        severity="info",
                        header="Message-ID",
                    )
                )
        for h in by_name.get("return-path", ())[:1]:
            m = _ANGLE.fullmatch(h.value)
            addr = m.group(1) if m else next((a for _, a in getaddresses([h.value])), "")
            rp_domain = address_domain(addr)
            if rp_domain is not None and org(rp_domain) != org(from_domain):
                out.append(
                    Finding(
                        "return-path-mismatch",
                        f"Bounces went to {addr} (Return-Path), outside the sender's domain {from_domain}. Normal for mailing lists "
                        "and bulk senders; for personal mail the message was sent through someone else's system.",
                        severity="info",
                        header="Return-Path",
                    )
                )
    return tuple(out)
