"""DKIM: every signature, every RFC 6376 / RFC 8463 validity rule, no reason lost.

Pure: the message's fields and body plus key answers in, one
:class:`~verify.model.SignatureResult` per DKIM-Signature out. dkimpy does the
canonicalisation (its ``CanonicalizationPolicy`` and ``RE_BTAG``); OpenSSL through
``cryptography`` does the RSA and Ed25519 arithmetic, because dkimpy's pure-Python RSA
and its bare ``False`` on failure lose both speed and the reason.

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
from dkim import RE_BTAG
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.util import InvalidTagValueList, parse_tag_value

from verify import limits
from verify.intake import Evidence
from verify.keys.record import KeyRecordError, ParsedKey, parse_key_record
from verify.model import KeyLookup, KeyUse, Reason, Result, SignatureResult

#: a= value -> (key type, hash name, hashlib constructor, cryptography hash)
ALGORITHMS: dict[str, tuple[str, str, Callable[..., Any], hashes.HashAlgorithm]] = {
    "rsa-sha256": ("rsa", "sha256", hashlib.sha256, hashes.SHA256()),
    "rsa-sha1": ("rsa", "sha1", hashlib.sha1, hashes.SHA1()),
    "ed25519-sha256": ("ed25519", "sha256", hashlib.sha256, hashes.SHA256()),
}
_REQUIRED = (b"v", b"a", b"b", b"bh", b"d", b"h", b"s")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\Z")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}\Z")
_WSP = re.compile(rb"\s+")
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

    @property
    def key_name(self) -> str | None:
        if self.error is not None or self.domain is None or self.selector is None:
            return None
        return f"{self.selector}._domainkey.{self.domain}".lower()


def prepare(ev: Evidence) -> list[Prepared]:
    """Read every DKIM-Signature, top to bottom, and apply the rules that need no key."""
    out: list[Prepared] = []
    for fi, (name, value) in enumerate(ev.fields):
        if name.lower().rstrip() != _SIG_NAME:
            continue
        p = Prepared(index=len(out), field_index=fi, raw=name + b":" + value)
        out.append(p)
        if p.index >= limits.MAX_SIGNATURES:
            p.error = _Invalid(Reason.MALFORMED_SIGNATURE, f"not checked: more than {limits.MAX_SIGNATURES} signatures in one message")
            continue
        try:
            _read_tags(p, value)
        except _Invalid as exc:
            p.error = exc
    return out


def _s(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def _read_tags(p: Prepared, value: bytes) -> None:
    try:
        tags = parse_tag_value(value)
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
        CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple").strip().lower())
    except InvalidCanonicalizationPolicyError:
        raise _Invalid(Reason.UNSUPPORTED_ALGORITHM, f"canonicalization c={p.canonicalization} is not supported") from None
    for tag in (b"b", b"bh"):
        compact = _WSP.sub(b"", tags[tag])
        if not _BASE64.match(compact) or len(compact) % 4:
            raise _Invalid(Reason.MALFORMED_SIGNATURE, f"{tag.decode()}= is not valid base64")
    if not tags[b"b"].strip():
        raise _Invalid(Reason.MALFORMED_SIGNATURE, "b= is empty")
    d = _s(tags[b"d"])
    if not _DOMAIN.match(d):
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"d={d!r} is not a valid domain name")
    if not _DOMAIN.match(p.selector or ""):
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"s={p.selector!r} is not a valid selector")
    if len(p.signed_headers) > limits.MAX_SIGNED_HEADERS:
        raise _Invalid(Reason.MALFORMED_SIGNATURE, f"h= lists {len(p.signed_headers)} names, over the limit of {limits.MAX_SIGNED_HEADERS}")
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


def check(ev: Evidence, prepared: Sequence[Prepared], keys: Mapping[str, Sequence[KeyLookup]]) -> tuple[SignatureResult, ...]:
    """Judge every prepared signature with the key answers the caller fetched for it."""
    bodies: dict[tuple[str, int | None], bytes] = {}
    canon_fields: dict[str, list[tuple[bytes, bytes]]] = {}
    return tuple(_check_one(ev, p, keys.get(p.key_name or "", ()), bodies, canon_fields) for p in prepared)


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


def _candidates(p: Prepared, lookups: Sequence[KeyLookup]) -> tuple[list[tuple[KeyLookup, str, ParsedKey]], SignatureResult | None]:
    """Every usable key record for this signature, or the result explaining why there is none."""
    found = [lk for lk in lookups if lk.found]
    if not found:
        if any(lk.status in ("timeout", "servfail", "error") for lk in lookups):
            worst = next(lk for lk in lookups if lk.status in ("timeout", "servfail", "error"))
            return [], _result(
                p, Result.TEMPERROR, Reason.DNS_ERROR, f"key lookup for {p.key_name} failed ({worst.status}: {worst.detail})"
            )
        why = "; ".join(f"{lk.origin}: {lk.status}" for lk in lookups) or "no key source was asked"
        return [], _result(p, Result.PERMERROR, Reason.KEY_NOT_FOUND, f"no key record at {p.key_name} ({why})")
    usable: list[tuple[KeyLookup, str, ParsedKey]] = []
    errors: list[KeyRecordError] = []
    ktype, hname, _, _ = ALGORITHMS[p.algorithm or ""]
    for lk in found:
        for txt in lk.txt:
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
                usable.append((lk, txt, key))
            except KeyRecordError as exc:
                errors.append(exc)
    if usable:
        return usable, None
    if not errors:
        return [], _result(p, Result.PERMERROR, Reason.KEY_NOT_FOUND, f"{p.key_name} exists but holds no TXT record")
    order = (Reason.KEY_REVOKED, Reason.UNSUPPORTED_ALGORITHM, Reason.KEY_MALFORMED)
    err = min(errors, key=lambda e: order.index(e.reason) if e.reason in order else len(order))
    return [], _result(p, Result.PERMERROR, err.reason, err.detail)


def _select(fields: Sequence[tuple[bytes, bytes]], names: Sequence[str]) -> list[int]:
    """RFC 6376 5.4.2: each name takes the next instance from the bottom; absent is null."""
    picked: list[int] = []
    last: dict[str, int] = {}
    for name in names:
        i = last.get(name, len(fields))
        bname = name.encode("utf-8", errors="surrogateescape")
        while i > 0:
            i -= 1
            if fields[i][0].lower().rstrip() == bname:
                picked.append(i)
                break
        last[name] = i
    return picked


def _check_one(
    ev: Evidence,
    p: Prepared,
    lookups: Sequence[KeyLookup],
    bodies: dict[tuple[str, int | None], bytes],
    canon_fields: dict[str, list[tuple[bytes, bytes]]],
) -> SignatureResult:
    if p.error is not None:
        return _result(p, Result.PERMERROR, p.error.reason, p.error.detail)
    keys, failure = _candidates(p, lookups)
    if failure is not None:
        return failure
    c_value = p.tags.get(b"c", b"simple/simple").strip().lower()
    policy = CanonicalizationPolicy.from_c_value(c_value)
    _, _, new_hash, crypto_hash = ALGORITHMS[p.algorithm or ""]

    # Body hash, on the canonical body cut at l= (RFC 6376 3.7).
    body_algo = c_value.partition(b"/")[2] or b"simple"
    bkey = (body_algo.decode(), None)
    if bkey not in bodies:
        bodies[bkey] = policy.canonicalize_body(ev.body)
    full = bodies[bkey]
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
    bh = base64.b64decode(_WSP.sub(b"", p.tags[b"bh"]))
    body_ok = new_hash(full[:signed_len]).digest() == bh

    # Header hash: the fields h= selects (bottom-up), then this signature with b= emptied.
    hkey = c_value.partition(b"/")[0].decode()
    if hkey not in canon_fields:
        canon_fields[hkey] = policy.canonicalize_headers(list(ev.fields))
    cfields = canon_fields[hkey]
    picked = _select(ev.fields, p.signed_headers)
    h = new_hash()
    for i in picked:
        h.update(cfields[i][0] + b":" + cfields[i][1])
    name, value = ev.fields[p.field_index]
    sig_name, sig_value = policy.canonicalize_headers([(name, RE_BTAG.sub(b"\\1", value))])[0]
    h.update(sig_name + b":" + sig_value.rstrip())
    digest = h.digest()
    try:
        signature = base64.b64decode(_WSP.sub(b"", p.tags[b"b"]))
    except (binascii.Error, ValueError):
        return _result(p, Result.PERMERROR, Reason.MALFORMED_SIGNATURE, "b= is not valid base64")

    chosen = keys[0]
    sig_ok = False
    for cand in keys:
        if _verify(cand[2], signature, digest, crypto_hash):
            chosen, sig_ok = cand, True
            break
    lk, txt, key = chosen
    use = KeyUse(lookup=lk, record=txt, key_type=key.key_type, key_bits=key.bits, fingerprint=key.fingerprint)
    common = dict(
        body_hash_ok=body_ok,
        signature_ok=sig_ok,
        key=use,
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


def _verify(key: ParsedKey, signature: bytes, digest: bytes, crypto_hash: hashes.HashAlgorithm) -> bool:
    pub = key.public_key
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, digest, padding.PKCS1v15(), Prehashed(crypto_hash))
        elif isinstance(pub, ed25519.Ed25519PublicKey):
            # RFC 8463 section 3: Ed25519 signs the SHA-256 hash of the header data.
            pub.verify(signature, digest)
        else:  # pragma: no cover - parse_key_record returns only these two
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
