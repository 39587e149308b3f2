"""DNSSEC for key answers: follow the chain of trust from a trust anchor down to the record.

dnspython does the cryptography (``dns.dnssec.validate``, ``make_ds``, ``nsec3_hash``);
this module only decides which RRsets must be checked against which keys, asking the
same resolver for DS and DNSKEY records (with the CD bit, so that a validating
resolver hands over bogus data for us to name instead of a bare SERVFAIL).

Each answer ends in one of four states (RFC 4033 section 5):

* ``secure``: every RRset of the answer is signed, and the signing key is tied by
  DS records to a trust anchor;
* ``insecure``: a signed NSEC/NSEC3 record proves a delegation on the way down has
  no DS, so the zone is deliberately unsigned;
* ``bogus``: a signature or a link of the chain does not validate, or a signed zone
  served the answer unsigned: the answer may have been tampered with;
* ``unknown``: no trust anchor covers the name, a DS/DNSKEY query failed, or the
  answer is negative (denial of existence is not validated here).

``secure`` and ``insecure`` are only ever reached through validated signatures;
anything unproven falls to ``bogus`` or ``unknown``, never the other way round.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from verify.errors import UsageError

#: The IANA root zone KSKs (KSK-2017, tag 20326, and KSK-2024, tag 38696) as DS records,
#: from https://data.iana.org/root-anchors/root-anchors.xml.
ROOT_ANCHOR = """\
. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. 172800 IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
"""

SECURE, INSECURE, BOGUS, UNKNOWN = "secure", "insecure", "bogus", "unknown"
_RANK = {BOGUS: 0, UNKNOWN: 1, INSECURE: 2, SECURE: 3}
_IN = dns.rdataclass.IN
_T = dns.rdatatype

Anchors = Mapping[dns.name.Name, dns.rrset.RRset]
Query = Callable[[dns.name.Name, dns.rdatatype.RdataType], dns.message.Message]


def parse_anchors(text: str, where: str) -> dict[dns.name.Name, dns.rrset.RRset]:
    """DNSKEY and/or DS records (master-file text, e.g. ``root.key``) by owner name."""
    from verify.keys.zonefile import _read_rrsets

    try:
        rrsets = _read_rrsets(text)
    except dns.exception.DNSException as exc:
        raise UsageError(f"{where}: not a DNS master file ({exc})") from None
    anchors: dict[dns.name.Name, dns.rrset.RRset] = {}
    for rrset in rrsets:
        if rrset.rdtype not in (_T.DNSKEY, _T.DS):
            continue
        if rrset.name in anchors and anchors[rrset.name].rdtype != rrset.rdtype:
            raise UsageError(f"{where}: give either DNSKEY or DS records for {rrset.name}, not both")
        anchors.setdefault(rrset.name, dns.rrset.RRset(rrset.name, _IN, rrset.rdtype)).update(rrset)  # type: ignore[no-untyped-call]
    if not anchors:
        raise UsageError(f"{where}: no DNSKEY or DS record to use as a trust anchor")
    return anchors


def root_anchors() -> dict[dns.name.Name, dns.rrset.RRset]:
    return parse_anchors(ROOT_ANCHOR, "built-in root trust anchor")


def load_anchor_file(path: str | os.PathLike[str]) -> dict[dns.name.Name, dns.rrset.RRset]:
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", errors="replace") as fh:
            return parse_anchors(fh.read(), name)
    except OSError as exc:
        raise UsageError(f"{name}: cannot read trust anchor ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class Status:
    state: str
    detail: str


@dataclass(frozen=True)
class _Zone:
    """Where the walk down the tree stands: a zone and its validated DNSKEY RRset."""

    state: str
    name: dns.name.Name
    keys: dns.rrset.RRset | None
    detail: str


def _types(windows: object) -> set[int]:
    """The RR types an NSEC/NSEC3 type bitmap lists."""
    out: set[int] = set()
    for window, bitmap in windows:  # type: ignore[attr-defined]
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(window * 256 + i * 8 + bit)
    return out


def _b32(data: bytes) -> str:
    return base64.b32hexencode(data).decode().rstrip("=").upper()


class Validator:
    """Validates answers against ``anchors``, asking ``query`` for DS and DNSKEY RRsets.

    ``query(name, rdtype)`` returns the full response (with DNSSEC records) or raises
    ``dns.exception.DNSException``/``OSError``. Validated zone keys are cached.
    """

    def __init__(self, anchors: Anchors, query: Query, now: float | None = None) -> None:
        self._anchors = dict(anchors)
        self._query = query
        self._now = now
        self._zones: dict[dns.name.Name, _Zone] = {}

    # -- public -----------------------------------------------------------

    def answer_status(self, qname: dns.name.Name, response: dns.message.Message) -> Status:
        """The DNSSEC state of a positive answer: the weakest of its RRsets (CNAME chain, TXT)."""
        rrsets = [r for r in response.answer if r.rdtype != _T.RRSIG]
        if not rrsets:
            return Status(UNKNOWN, "negative answer: denial of existence is not validated")
        worst: Status | None = None
        for rrset in rrsets:
            sig = response.get_rrset(response.answer, rrset.name, _IN, _T.RRSIG, rrset.rdtype)
            st = self._rrset_status(rrset, sig)
            if worst is None or _RANK[st.state] < _RANK[worst.state]:
                worst = st
        assert worst is not None
        return worst

    # -- the walk -----------------------------------------------------------

    def _anchor_for(self, name: dns.name.Name) -> dns.name.Name | None:
        best = None
        for a in self._anchors:
            if name.is_subdomain(a) and (best is None or len(a) > len(best)):
                best = a
        return best

    def _rrset_status(self, rrset: dns.rrset.RRset, sig: dns.rrset.RRset | None) -> Status:
        what = f"{rrset.name.to_text()} {_T.to_text(rrset.rdtype)}"
        anchor = self._anchor_for(rrset.name)
        if anchor is None:
            return Status(UNKNOWN, f"no trust anchor covers {rrset.name.to_text()}")
        if sig:
            signer = sig[0].signer
            if not rrset.name.is_subdomain(signer) or not signer.is_subdomain(anchor):
                return Status(BOGUS, f"{what} is signed by {signer.to_text()}, which is not a zone above it under the trust anchor")
            zone = self._walk(anchor, signer)
            if zone.state != SECURE:
                return Status(zone.state, zone.detail)
            if zone.name != signer:
                return Status(
                    BOGUS, f"{what} is signed by {signer.to_text()}, but no signed delegation (DS) leads there from {zone.name.to_text()}"
                )
            try:
                dns.dnssec.validate(rrset, sig, {signer: zone.keys}, now=self._now)  # type: ignore[dict-item]
            except dns.exception.ValidationFailure as exc:
                return Status(BOGUS, f"the RRSIG over {what} does not validate with the DNSKEY of {signer.to_text()} ({exc})")
            tags = ", ".join(str(s.key_tag) for s in sig)
            return Status(
                SECURE, f"{what} signed by {signer.to_text()} (key tag {tags}); chain of trust from the anchor {anchor.to_text()}"
            )
        zone = self._walk(anchor, rrset.name)
        if zone.state == SECURE:
            return Status(BOGUS, f"{what} lies in the signed zone {zone.name.to_text()} but came without an RRSIG")
        return Status(zone.state, zone.detail)

    def _walk(self, anchor: dns.name.Name, target: dns.name.Name) -> _Zone:
        """From the anchor down to ``target``: follow signed DS records, stop at a proven unsigned delegation."""
        zone = self._anchor_zone(anchor)
        for name in _below(anchor, target):
            if zone.state != SECURE:
                return zone
            zone = self._step(zone, name)
        return zone

    def _step(self, zone: _Zone, name: dns.name.Name) -> _Zone:
        assert zone.keys is not None
        try:
            resp = self._query(name, _T.DS)
        except (dns.exception.DNSException, OSError) as exc:
            return _Zone(UNKNOWN, name, None, f"could not ask for the DS of {name.to_text()} ({type(exc).__name__})")
        ds = resp.get_rrset(resp.answer, name, _IN, _T.DS)
        if ds:
            sig = resp.get_rrset(resp.answer, name, _IN, _T.RRSIG, _T.DS)
            if not sig:
                return _Zone(BOGUS, name, None, f"the DS of {name.to_text()} came without an RRSIG from {zone.name.to_text()}")
            try:
                dns.dnssec.validate(ds, sig, {zone.name: zone.keys}, now=self._now)
            except dns.exception.ValidationFailure as exc:
                return _Zone(
                    BOGUS, name, None, f"the DS of {name.to_text()} does not validate with the keys of {zone.name.to_text()} ({exc})"
                )
            return self._zone_keys(name, ds, f"DS in {zone.name.to_text()}")
        if self._proves_unsigned_delegation(resp, zone, name):
            return _Zone(
                INSECURE,
                name,
                None,
                f"{zone.name.to_text()} proves (signed NSEC/NSEC3) that the delegation to {name.to_text()} has no DS: the zone is unsigned",
            )
        return zone  # not a zone cut: the name stays in the current zone

    def _anchor_zone(self, anchor: dns.name.Name) -> _Zone:
        ta = self._anchors[anchor]
        if ta.rdtype == _T.DS:
            return self._zone_keys(anchor, ta, "the trust anchor")
        if anchor in self._zones:
            return self._zones[anchor]
        fetched = self._dnskey(anchor, f"the trust anchor {anchor.to_text()}")
        if isinstance(fetched, _Zone):
            return fetched
        keys, sig = fetched
        if not keys or not sig:
            zone = _Zone(BOGUS, anchor, None, f"the trust anchor zone {anchor.to_text()} served no signed DNSKEY RRset")
        else:
            try:
                dns.dnssec.validate(keys, sig, {anchor: ta}, now=self._now)
                zone = _Zone(SECURE, anchor, keys, f"DNSKEY of {anchor.to_text()} matches the trust anchor")
            except dns.exception.ValidationFailure as exc:
                zone = _Zone(BOGUS, anchor, None, f"the DNSKEY RRset of {anchor.to_text()} is not signed by the trust anchor key ({exc})")
        self._zones[anchor] = zone
        return zone

    def _dnskey(self, name: dns.name.Name, what: str) -> tuple[dns.rrset.RRset | None, dns.rrset.RRset | None] | _Zone:
        """The DNSKEY RRset at ``name`` and its RRSIG (None where absent), or an ``unknown``
        zone when the query failed (``what`` names the zone in that message). Both ways of
        trusting a zone's keys (a DNSKEY trust anchor, a DS) start here."""
        try:
            resp = self._query(name, _T.DNSKEY)
        except (dns.exception.DNSException, OSError) as exc:
            return _Zone(UNKNOWN, name, None, f"could not fetch the DNSKEY of {what} ({type(exc).__name__})")
        return resp.get_rrset(resp.answer, name, _IN, _T.DNSKEY), resp.get_rrset(resp.answer, name, _IN, _T.RRSIG, _T.DNSKEY)

    def _zone_keys(self, name: dns.name.Name, ds: dns.rrset.RRset, via: str) -> _Zone:
        """The zone's DNSKEY RRset, accepted when a key matching ``ds`` signs it."""
        if name in self._zones:
            return self._zones[name]
        fetched = self._dnskey(name, name.to_text())
        if isinstance(fetched, _Zone):
            return fetched
        keys, sig = fetched
        zone = _Zone(BOGUS, name, None, f"no DNSKEY of {name.to_text()} matches its {via}")
        if keys and sig:
            matching = [k for k in keys for d in ds if _ds_matches(name, k, d)]
            if matching:
                sep = dns.rrset.from_rdata_list(name, keys.ttl, matching)
                try:
                    dns.dnssec.validate(keys, sig, {name: sep}, now=self._now)
                    zone = _Zone(SECURE, name, keys, f"DNSKEY of {name.to_text()} matches its {via}")
                except dns.exception.ValidationFailure as exc:
                    zone = _Zone(
                        BOGUS, name, None, f"the DNSKEY RRset of {name.to_text()} is not signed by the key its {via} names ({exc})"
                    )
        self._zones[name] = zone
        return zone

    def _proves_unsigned_delegation(self, resp: dns.message.Message, zone: _Zone, name: dns.name.Name) -> bool:
        """A validated NSEC/NSEC3 says: ``name`` is a delegation (NS) without DS, or is covered by opt-out."""
        keys = {zone.name: zone.keys}
        valid: list[dns.rrset.RRset] = []
        for rrset in resp.authority:
            if rrset.rdtype not in (_T.NSEC, _T.NSEC3):
                continue
            sig = resp.get_rrset(resp.authority, rrset.name, _IN, _T.RRSIG, rrset.rdtype)
            if not sig:
                continue
            try:
                dns.dnssec.validate(rrset, sig, keys, now=self._now)  # type: ignore[arg-type]
            except dns.exception.ValidationFailure:
                continue
            valid.append(rrset)
        for rrset in valid:
            if rrset.rdtype == _T.NSEC and rrset.name == name:
                types = _types(rrset[0].windows)
                return _T.NS in types and _T.DS not in types and _T.SOA not in types
        nsec3 = [r for r in valid if r.rdtype == _T.NSEC3]
        if not nsec3:
            return False
        p = nsec3[0][0]

        def hashed(n: dns.name.Name) -> str:
            return dns.dnssec.nsec3_hash(n, p.salt, p.iterations, p.algorithm).upper()

        def matching(n: dns.name.Name) -> dns.rrset.RRset | None:
            h = hashed(n)
            return next((r for r in nsec3 if r.name.labels[0].decode().upper() == h), None)

        exact = matching(name)
        if exact is not None:
            types = _types(exact[0].windows)
            return _T.NS in types and _T.DS not in types and _T.SOA not in types
        # Opt-out (RFC 5155 6): the closest encloser exists, and the NSEC3 covering the
        # next closer name has the opt-out flag: an unsigned delegation may sit there.
        encloser = name.parent()
        while encloser.is_subdomain(zone.name):
            if matching(encloser) is not None:
                next_closer = dns.name.Name(name.labels[-(len(encloser.labels) + 1) :])
                h = hashed(next_closer)
                for r in nsec3:
                    rd = r[0]
                    owner, nxt = r.name.labels[0].decode().upper(), _b32(rd.next)
                    covers = owner < h < nxt if owner < nxt else (h > owner or h < nxt)
                    if covers and rd.flags & 1:
                        return True
                return False
            if encloser == zone.name:
                break
            encloser = encloser.parent()
        return False


def _ds_matches(name: dns.name.Name, key: object, ds: object) -> bool:
    try:
        return bool(dns.dnssec.make_ds(name, key, ds.digest_type) == ds)  # type: ignore[arg-type, attr-defined]
    except (dns.exception.UnsupportedAlgorithm, ValueError):
        return False


def _below(top: dns.name.Name, target: dns.name.Name) -> Iterator[dns.name.Name]:
    """Names strictly below ``top`` down to ``target`` inclusive, top-down."""
    extra = len(target.labels) - len(top.labels)
    for i in range(extra - 1, -1, -1):
        yield dns.name.Name(target.labels[i:])


def resolver_query(resolver: dns.resolver.Resolver) -> Query:
    """``query`` for :class:`Validator` over a dnspython resolver set up for DNSSEC (DO, CD)."""

    def query(name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        try:
            ans = resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            responses: dict[dns.name.Name, dns.message.Message] = exc.responses()  # type: ignore[no-untyped-call]
            if name not in responses:
                raise
            return responses[name]
        assert ans.response is not None
        return ans.response

    return query
