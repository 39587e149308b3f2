"""DKIM: every signature, every RFC 6376 / RFC 8463 validity rule, no reason lost.

Pure: the message's fields and body plus key answers in, one
:class:`~verify.model.SignatureResult` per DKIM-Signature out. dkimpy defines the
canonicalisation (its ``CanonicalizationPolicy`` and ``RE_BTAG``); the three hot spots of
a scan (relaxed body, relaxed header field, b= blanking) are redone here with fewer
regex substitutions and held byte for byte to dkimpy by tests/test_canonical.py. OpenSSL
through ``cryptography`` does the RSA and Ed25519 arithmetic, because dkimpy's
pure-Python RSA and its bare ``False`` on failure lose both speed and the reason.

The body hash and the header signature are judged independently, so a report can say
"the headers are authentic but the body changed".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import (
    CanonicalizationPolicy,
    InvalidCanonicalizationPolicyError,
    Relaxed,
    correct_empty_body,
    strip_trailing_lines,
)
from dkim.util import DuplicateTag, InvalidTagSpec, InvalidTagValueList

from verify import limits
from verify.intake import Evidence, field_index
from verify.keys.record import KeyRecordError, ParsedKey, parse_key_record
from verify.model import KeyLookup, KeyTrial, KeyUse, Reason, Result, SignatureResult

#: a= value -> (key type, hash name, hashlib constructor, cryptography's prehashed marker).
#: The ``Prehashed`` objects (and :data:`_PKCS1`) are made once: making them per signature
#: cost ~4 us of a ~25 us RSA check.
ALGORITHMS: dict[str, tuple[str, str, Callable[..., Any], Prehashed]] = {
    "rsa-sha256": ("rsa", "sha256", hashlib.sha256, Prehashed(hashes.SHA256())),
    "rsa-sha1": ("rsa", "sha1", hashlib.sha1, Prehashed(hashes.SHA1())),
    "ed25519-sha256": ("ed25519", "sha256", hashlib.sha256, Prehashed(hashes.SHA256())),
}
_PKCS1 = padding.PKCS1v15()
_REQUIRED = (b"v", b"a", b"b", b"bh", b"d", b"h", b"s")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}\Z")
_HSPLIT = re.compile(rb"\s*:\s*")
_QP = re.compile(rb"=([0-9A-Fa-f]{2})")
_DIGITS = re.compile(rb"\d{1,76}\Z")

_SIG_NAME = b"dkim-signature"


class _Invalid(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Prepared:
    """One signature after its tags were read and its syntax judged (no key yet)."""

    index: int
    field_index: int
    raw: bytes
    tags: dict[bytes, bytes] = field(default_factory=dict)
    error: _Invalid | None = None
    algorithm: str | None = None
    domain: str | None = None
    selector: str | None = None
    identity: str | None = None
    canonicalization: str | None = None
    signed_headers: tuple[str, ...] = ()
    body_length: int | None = None
    timestamp: int | None = None
    expiration: int | None = None
    policy: CanonicalizationPolicy | None = None  # from c=, read once
    signature: bytes = b""  # b=, decoded
    body_hash: bytes = b""  # bh=, decoded

    @property
    def key_name(self) -> str | None:
        if self.error is not None or self.domain is None or self.selector is None:
            return None
        return f"{self.selector}._domainkey.{self.domain}".lower()


def prepare(ev: Evidence) -> list[Prepared]:
    """Read every DKIM-Signature, top to bottom, and apply the rules that need no key.

    Only the first ``limits.MAX_SIGNATURES`` are read; the verdict reports the rest
    (``limit-reached``), so 19,000 signatures cost no more than 50.
    """
    out: list[Prepared] = []
    for fi in ev.where.get(_SIG_NAME, ()):
        if len(out) >= limits.MAX_SIGNATURES:
            break
        name, value = ev.fields[fi]
        p = Prepared(index=len(out), field_index=fi, raw=name + b":" + value)
        out.append(p)
        try:
            _read_tags(p, value)
        except _Invalid as exc:
            p.error = exc
    return out


def _s(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def tag_list(value: bytes) -> dict[bytes, bytes]:
    """An RFC 6376 3.2 tag list, exactly as dkimpy's ``parse_tag_value`` reads it (same
    dict, same exceptions with the same arguments), without its ``re.match`` per tag:
    ~5 us a signature instead of ~19. tests/test_canonical.py compares the two."""
    tags: dict[bytes, bytes] = {}
    specs = value.strip().split(b";")
    if not specs[-1]:  # a trailing ';' is allowed
        specs.pop()
    for spec in specs:
        key, eq, val = spec.partition(b"=")
        key = key.strip()
        # dkimpy: re.match(rb"^[a-zA-Z](\w)*", key), i.e. the name starts with an ASCII letter.
        if not eq or not key[:1].isalpha():
            raise InvalidTagSpec(spec)
        if key in tags:
            raise DuplicateTag(key)
        tags[key] = val.strip()
    return tags


def _read_tags(p: Prepared, value: bytes) -> None:
    try:
        tags = tag_list(value)
    except InvalidTagValueList as exc:
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"signature is not a valid tag list ({_s(str(exc).encode())[:120]})") from None
    p.tags = tags
    # Fill in what can be shown before judging, so even a malformed signature is described.
    if b"d" in tags:
        p.domain = _s(tags[b"d"]).lower()
    if b"s" in tags:
        p.selector = _s(tags[b"s"]).lower()
    if b"a" in tags:
        p.algorithm = _s(tags[b"a"]).lower()
    if b"h" in tags:
        p.signed_headers = tuple(_s(h).lower() for h in _HSPLIT.split(tags[b"h"].strip()) if h)
    p.canonicalization = _s(tags.get(b"c", b"simple/simple"))

    missing = [t.decode() for t in _REQUIRED if t not in tags]
    if missing:
        raise _Invalid(Reason.MALFORMED_SIGNATURE, "required tag(s) missing: " + ", ".join(f"{m}=" for m in missing))
    if tags[b"v"] != b"1":
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"version v={_s(tags[b'v'])} is not 1")
    if p.algorithm not in ALGORITHMS:
        raise _Invalid(Reason.UNSUPPORTED_ALGORITHM, f"algorithm a={p.algorithm} is not supported (rsa-sha256, rsa-sha1, ed25519-sha256)")
    try:
        p.policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple").strip().lower())
    except InvalidCanonicalizationPolicyError:
        raise _Invalid(Reason.UNSUPPORTED_ALGORITHM, f"canonicalization c={p.canonicalization} is not supported") from None
    for tag in (b"b", b"bh"):
        compact = b"".join(tags[tag].split())  # what re.sub(rb"\s+", b"", ...) gives, several times faster
        if not _BASE64.match(compact) or len(compact) % 4:
            raise _Invalid(Reason.MALFORMED_SIGNATURE, f"{tag.decode()}= is not valid base64")
        try:
            decoded = base64.b64decode(compact)
        except (binascii.Error, ValueError):
            raise _Invalid(Reason.MALFORMED_SIGNATURE, f"{tag.decode()}= is not valid base64") from None
        if tag == b"b":
            p.signature = decoded
        else:
            p.body_hash = decoded
    if not tags[b"b"].strip():
        raise _Invalid(Reason.MALFORMED_SIGNATURE, "b= is empty")
    d = _s(tags[b"d"])
    if not _DOMAIN.match(d):
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"d={d!r} is not a valid domain name")
    if not _DOMAIN.match(p.selector or ""):
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"s={p.selector!r} is not a valid selector")
    if len(p.signed_headers) > limits.MAX_SIGNED_HEADERS:
        raise _Invalid(Reason.LIMIT_REACHED, f"h= lists {len(p.signed_headers)} names, over the limit of {limits.MAX_SIGNED_HEADERS}")
    if "from" not in p.signed_headers:
        raise _Invalid(Reason.MALFORMED_SIGNATURE, "h= does not include From (RFC 6376 5.4)")
    if b"q" in tags:
        methods = [_s(m).strip().lower() for m in tags[b"q"].split(b":")]
        if "dns/txt" not in methods:
            raise _Invalid(Reason.UNSUPPORTED_ALGORITHM, f"query method q={_s(tags[b'q'])} is not dns/txt")
    if b"i" in tags:
        ident = _QP.sub(lambda m: bytes([int(m.group(1), 16)]), tags[b"i"])
        p.identity = _s(ident)
        _, at, idom = p.identity.rpartition("@")
        idom = idom.lower()
        if not at or not (idom == p.domain or idom.endswith("." + (p.domain or ""))):
            raise _Invalid(Reason.MALFORMED_SIGNATURE, f"identity i={p.identity} is not within d={p.domain}")
    if b"l" in tags:
        if not _DIGITS.match(tags[b"l"]):
            raise _Invalid(Reason.MALFORMED_SIGNATURE, f"body length l={_s(tags[b'l'])} is not a decimal number")
        p.body_length = int(tags[b"l"])
    for tag in (b"t", b"x"):
        if tag in tags:
            if not _DIGITS.match(tags[tag]):
                raise _Invalid(Reason.MALFORMED_SIGNATURE, f"{tag.decode()}={_s(tags[tag])} is not a decimal number")
            setattr(p, "timestamp" if tag == b"t" else "expiration", int(tags[tag]))
    if p.timestamp is not None and p.expiration is not None and p.expiration < p.timestamp:
        raise _Invalid(Reason.MALFORMED_SIGNATURE, "expiration x= is before the signing time t=")


def check(
    ev: Evidence,
    prepared: Sequence[Prepared],
    keys: Mapping[str, Sequence[KeyLookup]],
    bodies: dict[bytes, bytes] | None = None,
) -> tuple[SignatureResult, ...]:
    """Judge every prepared signature with the key answers the caller fetched for it.

    ``bodies`` (canonical bodies by body canonicalisation) may be shared with the ARC check,
    so a 100 MB body is canonicalised once per algorithm for the whole message."""
    bodies = {} if bodies is None else bodies
    canon_fields: dict[str, dict[int, tuple[bytes, bytes]]] = {}
    digests = _BodyDigests(prepared)
    return tuple(_check_one(ev, p, keys.get(p.key_name or "", ()), bodies, canon_fields, digests) for p in prepared)


def _body_algo(p: Prepared) -> bytes:
    return p.tags.get(b"c", b"simple/simple").strip().lower().partition(b"/")[2] or b"simple"


class _BodyDigests:
    """Body digests at every l= the message's signatures ask for, in one incremental pass
    per canonical body and algorithm: 50 signatures with 50 different l= over a 50 MB body
    hash 50 MB, not 2.5 GB (tests/hostile)."""

    def __init__(self, prepared: Sequence[Prepared]) -> None:
        self._lengths: dict[tuple[bytes, str], set[int]] = {}
        for p in prepared:
            if p.error is None and p.body_length is not None and p.algorithm in ALGORITHMS:
                self._lengths.setdefault((_body_algo(p), p.algorithm or ""), set()).add(p.body_length)
        self._done: dict[tuple[bytes, str, int], bytes] = {}

    def digest(self, body_algo: bytes, algorithm: str, full: bytes, signed_len: int) -> bytes:
        key = (body_algo, algorithm, signed_len)
        if key not in self._done:
            view = memoryview(full)
            cuts = sorted({min(n, len(full)) for n in self._lengths.get((body_algo, algorithm), ())} | {signed_len})
            h, pos = ALGORITHMS[algorithm][2](), 0
            for cut in cuts:
                h.update(view[pos:cut])
                pos = cut
                self._done[(body_algo, algorithm, cut)] = h.copy().digest()
        return self._done[key]


def _result(p: Prepared, result: Result, reason: Reason | None, detail: str | None, **kw: object) -> SignatureResult:
    return SignatureResult(
        index=p.index,
        domain=p.domain,
        selector=p.selector,
        algorithm=p.algorithm,
        canonicalization=p.canonicalization,
        signed_headers=p.signed_headers,
        identity=p.identity,
        body_length=p.body_length,
        timestamp=p.timestamp,
        expiration=p.expiration,
        result=result,
        reason=reason,
        detail=detail,
        raw_header=_s(p.raw),
        **kw,  # type: ignore[arg-type]
    )


#: Which passing key a report names when several sources hold it: the strongest provenance first.
_SOURCE_RANK = {"dns": 0, "archive": 1, "file": 2, "reconstructed": 3}
_TEMPFAIL = ("timeout", "servfail", "error")


def _rank(lk: KeyLookup) -> tuple[int, int]:
    return (_SOURCE_RANK.get(lk.source, len(_SOURCE_RANK)), 0 if lk.dnssec == "secure" else 1)


@dataclass
class _Candidate:
    lookup: KeyLookup
    record: str
    key: ParsedKey
    trial: int  # index into the trial list


def _candidates(p: Prepared, lookups: Sequence[KeyLookup]) -> tuple[list[_Candidate], list[KeyTrial], SignatureResult | None]:
    """Every usable key record for this signature, a trial for every answer, or the result
    explaining why there is no usable key. A DNSSEC-bogus answer is never used."""
    trials: list[KeyTrial] = []
    usable: list[_Candidate] = []
    errors: list[KeyRecordError] = []
    ktype, hname, _, _ = ALGORITHMS[p.algorithm or ""]
    for lk in lookups:
        if not lk.found:
            trials.append(KeyTrial(lk, None, lk.status))
            continue
        for txt in lk.txt:
            if lk.dnssec == "bogus":
                trials.append(KeyTrial(lk, txt, "dnssec-bogus"))
                continue
            try:
                key = parse_key_record(txt)
                if key.key_type != ktype:
                    raise KeyRecordError(Reason.UNSUPPORTED_ALGORITHM, f"key is k={key.key_type} but the signature uses a={p.algorithm}")
                if key.hashes is not None and hname not in key.hashes:
                    raise KeyRecordError(Reason.UNSUPPORTED_ALGORITHM, f"key allows only h={':'.join(key.hashes)}, signature uses {hname}")
                if "s" in key.flags and p.identity is not None:
                    idom = p.identity.rpartition("@")[2].lower()
                    if idom != p.domain:
                        raise KeyRecordError(Reason.KEY_MALFORMED, f"key flag t=s requires i= to be exactly d={p.domain}, not a subdomain")
            except KeyRecordError as exc:
                errors.append(exc)
                trials.append(KeyTrial(lk, txt, exc.reason.value))
                continue
            usable.append(_Candidate(lk, txt, key, len(trials)))
            trials.append(KeyTrial(lk, txt, "untried", key.key_type, key.bits, key.fingerprint))
    if usable:
        return usable, trials, None
    tt = tuple(trials)
    found = [lk for lk in lookups if lk.found and lk.dnssec != "bogus"]
    if not found:
        temp = [lk for lk in lookups if lk.status in _TEMPFAIL]
        bogus = [lk for lk in lookups if lk.found and lk.dnssec == "bogus"]
        if temp:
            why = f"key lookup for {p.key_name} failed ({temp[0].status}: {temp[0].detail})"
            return [], trials, _result(p, Result.TEMPERROR, Reason.DNS_ERROR, why, key_trials=tt)
        if bogus:
            why = f"the DNS answer for {p.key_name} from {bogus[0].origin} failed DNSSEC validation (bogus), so it was not used"
            return [], trials, _result(p, Result.TEMPERROR, Reason.DNS_ERROR, why, key_trials=tt)
        why = "; ".join(f"{lk.origin}: {lk.status}" for lk in lookups) or "no key source was asked"
        return [], trials, _result(p, Result.PERMERROR, Reason.KEY_NOT_FOUND, f"no key record at {p.key_name} ({why})", key_trials=tt)
    if not errors:
        return [], trials, _result(p, Result.PERMERROR, Reason.KEY_NOT_FOUND, f"{p.key_name} exists but holds no TXT record", key_trials=tt)
    order = (Reason.KEY_REVOKED, Reason.UNSUPPORTED_ALGORITHM, Reason.KEY_MALFORMED)
    err = min(errors, key=lambda e: order.index(e.reason) if e.reason in order else len(order))
    return [], trials, _result(p, Result.PERMERROR, err.reason, err.detail, key_trials=tt)


def _select(fields: Sequence[tuple[bytes, bytes]], names: Sequence[str], where: dict[bytes, list[int]] | None = None) -> list[int]:
    """RFC 6376 5.4.2: each name takes the next instance from the bottom; absent is null.
    ``where`` is :attr:`Evidence.where` for ``fields``, when the caller has it."""
    if where is None:  # one pass to index the fields by name, rather than a scan of all fields per h= name
        where = field_index(fields)
    picked: list[int] = []
    taken: dict[str, int] = {}
    for name in names:
        found = where.get(name.encode("utf-8", errors="surrogateescape"), [])
        k = taken.get(name, 0)
        if k < len(found):
            picked.append(found[len(found) - 1 - k])
            taken[name] = k + 1
    return picked


def header_hash(ev: Evidence, p: Prepared, canon_fields: dict[str, dict[int, tuple[bytes, bytes]]] | None = None) -> tuple[Any, list[int]]:
    """The hash object over what the signature signs (RFC 6376 3.7) and the field indexes it covers:
    the fields h= selects (bottom-up), then this DKIM-Signature with b= emptied. Key recovery
    (:mod:`verify.keys.recover`) hashes through here too, so both read the same bytes."""
    policy = p.policy or CanonicalizationPolicy.from_c_value(p.tags.get(b"c", b"simple/simple").strip().lower())
    cfields = (canon_fields if canon_fields is not None else {}).setdefault(policy.header_algorithm.__name__, {})
    picked = _select(ev.fields, p.signed_headers, ev.where)
    h = ALGORITHMS[p.algorithm or ""][2]()
    parts: list[bytes] = []
    for i in picked:
        # Only the fields a signature covers are canonicalised (a scan pays for each one).
        if i not in cfields:
            cfields[i] = canonical_field(policy, ev.fields[i])
        parts += cfields[i][0], b":", cfields[i][1]
    name, value = ev.fields[p.field_index]
    sig_name, sig_value = canonical_field(policy, (name, BTAG.sub(b"\\1", value)))
    parts += sig_name, b":", sig_value.rstrip()
    h.update(b"".join(parts))
    return h, picked


def _check_one(
    ev: Evidence,
    p: Prepared,
    lookups: Sequence[KeyLookup],
    bodies: dict[bytes, bytes],
    canon_fields: dict[str, dict[int, tuple[bytes, bytes]]],
    digests: _BodyDigests,
) -> SignatureResult:
    if p.error is not None:
        return _result(p, Result.PERMERROR, p.error.reason, p.error.detail)
    keys, trials, failure = _candidates(p, lookups)
    if failure is not None:
        return failure
    c_value = p.tags.get(b"c", b"simple/simple").strip().lower()
    policy = p.policy or CanonicalizationPolicy.from_c_value(c_value)
    prehashed = ALGORITHMS[p.algorithm or ""][3]

    # Body hash, on the canonical body cut at l= (RFC 6376 3.7).
    body_algo = c_value.partition(b"/")[2] or b"simple"
    if body_algo not in bodies:
        bodies[body_algo] = canonical_body(policy, ev.body)
    full = bodies[body_algo]
    total = len(full)
    signed_len = total if p.body_length is None else min(p.body_length, total)
    if p.body_length is not None and p.body_length > total:
        return _result(
            p,
            Result.PERMERROR,
            Reason.MALFORMED_SIGNATURE,
            f"l={p.body_length} is longer than the canonical body ({total} bytes): the body was cut or l= is false",
            body_bytes_total=total,
        )
    body_ok = digests.digest(body_algo, p.algorithm or "", full, signed_len) == p.body_hash

    h, picked = header_hash(ev, p, canon_fields)
    digest = h.digest()
    signature = p.signature

    # Every candidate is tried, not only until one passes, so that the report can say
    # which source's key verified and whether the other sources agree.
    passing: list[_Candidate] = []
    for cand in keys:
        ok = _verify(cand.key, signature, digest, prehashed)
        t = trials[cand.trial]
        trials[cand.trial] = KeyTrial(t.lookup, t.record, "pass" if ok else "fail", t.key_type, t.key_bits, t.fingerprint)
        if ok:
            passing.append(cand)
    sig_ok = bool(passing)
    chosen = min(passing, key=lambda c: _rank(c.lookup)) if passing else keys[0]
    key = chosen.key
    use = KeyUse(lookup=chosen.lookup, record=chosen.record, key_type=key.key_type, key_bits=key.bits, fingerprint=key.fingerprint)
    common = dict(
        body_hash_ok=body_ok,
        signature_ok=sig_ok,
        key=use,
        key_trials=tuple(trials),
        key_candidates=len(keys),
        body_bytes_total=total,
        body_bytes_signed=signed_len,
        covered_header_indexes=tuple(picked),
    )
    if not sig_ok:
        tried = "any of the key records" if len(keys) > 1 else "the key"
        return _result(
            p,
            Result.FAIL,
            Reason.SIGNATURE_MISMATCH,
            f"the signature over the signed headers does not match {tried}: a signed header was changed, or the key is not the one that signed",
            **common,
        )
    if not body_ok:
        return _result(
            p,
            Result.FAIL,
            Reason.BODY_HASH_MISMATCH,
            "the signed headers are authentic, but the body is not the one that was signed",
            **common,
        )
    return _result(p, Result.PASS, None, None, **common)


#: dkimpy's ``RE_BTAG`` (the b= value, emptied before hashing), with its optional-FWS
#: group per base64 character folded into one character class: same matches, but about
#: 40 us less per signature. tests/test_canonical.py compares the two.
BTAG = re.compile(rb"([;\s]b\s*=)(?:[\sA-Za-z0-9+/=]*[A-Za-z0-9+/=])?(?:\r?\n\Z)?")
_WSP_RUN = re.compile(rb"  [\t ]*|\t[\t ]*| \t[\t ]*")
#: Compiled searches for 2-3 byte needles: ~40% faster than ``needle in body`` on 16 KB.
_SP_CRLF = re.compile(rb" \r\n")
_SP_SP = re.compile(rb"  ")


def canonical_body(policy: CanonicalizationPolicy, body: bytes) -> bytes:
    """The canonical body, byte for byte what dkimpy's ``canonicalize_body`` returns.

    dkimpy's relaxed form runs ``re.sub(b"[\\t ]+", b" ", body)``, which rewrites every
    single space of the body: about 0.3 ms a message, more than the RSA check. Here
    only runs that change (two or more blanks, or any tab) are rewritten, and lines
    are stripped only when some line ends in a blank. tests/test_canonical.py compares both
    on random input.
    """
    if policy.body_algorithm is not Relaxed:
        return bytes(policy.canonicalize_body(body))
    tab = b"\t" in body  # memchr: cheap, and lets a tab-free body skip the tab searches
    if _SP_CRLF.search(body) or (tab and b"\t\r\n" in body):
        lines = body.split(b"\r\n")
        last = lines.pop()
        body = b"\r\n".join([line.rstrip(b" \t") for line in lines] + [last])
        tab = b"\t" in body
    if tab or _SP_SP.search(body):
        body = _WSP_RUN.sub(b" ", body)
    return bytes(correct_empty_body(strip_trailing_lines(body)))


def canonical_field(policy: CanonicalizationPolicy, field: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """One canonical header field, byte for byte what dkimpy's ``canonicalize_headers`` gives.

    Same reason as :func:`canonical_body`: dkimpy runs two module-level ``re.sub`` per
    field; here a field without folded or repeated blanks costs two ``bytes`` scans.
    """
    if policy.header_algorithm is not Relaxed:
        return policy.canonicalize_headers([field])[0]  # type: ignore[no-any-return]
    name, value = field
    value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.lower().rstrip(), value.strip() + b"\r\n"


def _verify(key: ParsedKey, signature: bytes, digest: bytes, prehashed: Prehashed) -> bool:
    pub = key.public_key
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, digest, _PKCS1, prehashed)
        elif isinstance(pub, ed25519.Ed25519PublicKey):
            # RFC 8463 section 3: Ed25519 signs the SHA-256 hash of the header data.
            pub.verify(signature, digest)
        else:  # pragma: no cover - parse_key_record returns only these two
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
