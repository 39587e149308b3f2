"""Parse a DKIM key record (RFC 6376 section 3.6.1) into a usable public key.

Pure: text in, :class:`ParsedKey` or :class:`KeyRecordError` out. OpenSSL (through
``cryptography``) decodes the key, so the same key object serves verification.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import InvalidTagValueList, parse_tag_value

from verify import limits
from verify.model import Reason

_WSP = re.compile(rb"\s+")


class KeyRecordError(Exception):
    """The record cannot serve as a key; ``reason`` is the signature's reason code."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ParsedKey:
    """A decoded key with the record tags that constrain its use."""

    key_type: str  # rsa | ed25519
    bits: int
    public_key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    fingerprint: str
    hashes: tuple[str, ...] | None  # h= of the record, None when absent (all allowed)
    services: tuple[str, ...]  # s=, default ("*",)
    flags: tuple[str, ...]  # t=, e.g. ("y",) for testing, ("s",) for strict i=


def fingerprint(pub: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the key as DKIM publishes it: RSA SubjectPublicKeyInfo DER, raw Ed25519."""
    if isinstance(pub, rsa.RSAPublicKey):
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        der = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(der).hexdigest()


# Cached: a scan meets the same dozen records in every message, and decoding one (DER,
# fingerprint) costs as much as verifying a signature. ParsedKey is frozen; errors are
# not cached, so a bad record is re-judged (and re-explained) each time.
@functools.lru_cache(maxsize=256)  # bounded: a hostile 64 KB record x 256 = 16 MB at most
def parse_key_record(txt: str) -> ParsedKey:
    """Decode one TXT record; raise :class:`KeyRecordError` with the precise rule broken."""
    raw = txt.encode("utf-8", errors="surrogateescape")
    if len(raw) > limits.MAX_KEY_RECORD_BYTES:
        raise KeyRecordError(Reason.LIMIT_REACHED, f"key record is {len(raw)} bytes, over the {limits.MAX_KEY_RECORD_BYTES}-byte limit")
    try:
        tags = parse_tag_value(raw)
    except InvalidTagValueList as exc:
        raise KeyRecordError(Reason.KEY_MALFORMED, f"key record is not a valid tag list ({exc})") from None
    # v= is optional but, when present, must be first and exactly DKIM1 (RFC 6376 3.6.1).
    if b"v" in tags:
        if next(iter(tags)) != b"v" or tags[b"v"] != b"DKIM1":
            raise KeyRecordError(Reason.KEY_MALFORMED, f"key record version v={_s(tags[b'v'])} is not DKIM1 as the first tag")
    if b"p" not in tags:
        raise KeyRecordError(Reason.KEY_MALFORMED, "key record has no p= tag")
    p = _WSP.sub(b"", tags[b"p"])
    if not p:
        raise KeyRecordError(Reason.KEY_REVOKED, "key record has an empty p=: the domain revoked this key")
    k = tags.get(b"k", b"rsa").lower()
    services = tuple(_s(s).strip().lower() for s in tags.get(b"s", b"*").split(b":"))
    if "*" not in services and "email" not in services:
        raise KeyRecordError(Reason.KEY_MALFORMED, f"key is restricted to service s={_s(tags[b's'])}, not email")
    hashes = None
    if b"h" in tags:
        hashes = tuple(_s(h).strip().lower() for h in tags[b"h"].split(b":"))
    flags = tuple(_s(f).strip().lower() for f in tags.get(b"t", b"").split(b":") if f.strip())
    try:
        der = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRecordError(Reason.KEY_MALFORMED, "key p= is not valid base64") from None
    if k == b"rsa":
        try:
            pub = serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyRecordError(Reason.KEY_MALFORMED, "key p= is not a DER RSA public key") from None
        if not isinstance(pub, rsa.RSAPublicKey):
            raise KeyRecordError(Reason.KEY_MALFORMED, "key record says k=rsa but p= holds another key type")
        bits = pub.key_size
        if bits > limits.MAX_RSA_BITS:
            raise KeyRecordError(Reason.LIMIT_REACHED, f"RSA key of {bits} bits is over the {limits.MAX_RSA_BITS}-bit limit")
        e_bits = pub.public_numbers().e.bit_length()
        if e_bits > limits.MAX_RSA_EXPONENT_BITS:
            raise KeyRecordError(
                Reason.LIMIT_REACHED, f"RSA public exponent of {e_bits} bits is over the {limits.MAX_RSA_EXPONENT_BITS}-bit limit"
            )
        return ParsedKey("rsa", bits, pub, fingerprint(pub), hashes, services, flags)
    if k == b"ed25519":
        # RFC 8463 section 4: p= is the bare 32-byte public key, base64-encoded.
        if len(der) != 32:
            raise KeyRecordError(Reason.KEY_MALFORMED, f"ed25519 key must be 32 bytes, p= holds {len(der)}")
        pub_ed = ed25519.Ed25519PublicKey.from_public_bytes(der)
        return ParsedKey("ed25519", 256, pub_ed, fingerprint(pub_ed), hashes, services, flags)
    raise KeyRecordError(Reason.UNSUPPORTED_ALGORITHM, f"key type k={_s(k)} is not supported (rsa, ed25519)")


def _s(b: bytes) -> str:
    return b.decode("ascii", errors="backslashreplace")
