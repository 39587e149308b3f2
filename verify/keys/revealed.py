"""``--revealed FILE``: keys whose private half is public, so their signatures prove nothing.

Some operators publish retired DKIM private keys so that old mail becomes deniable;
keys also leak. The file lists PEM private keys (or PEM public keys), and/or
fingerprints: the SHA-256, in hex, of the public key as DKIM publishes it (RSA
SubjectPublicKeyInfo DER, raw Ed25519), as the report prints it. ``#`` starts a comment.
"""

from __future__ import annotations

import os
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from verify.errors import UsageError
from verify.keys.record import fingerprint

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)
_HEX = re.compile(r"(?:sha256[:=])?([0-9a-fA-F:]{64,95})\Z")


def _pem_fingerprint(block: str, where: str) -> str:
    data = block.encode("ascii", errors="replace")
    try:
        if "PRIVATE KEY" in block[:40]:
            pub = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            pub = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{where}: cannot read PEM key ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(pub, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise UsageError(f"{where}: only RSA and Ed25519 keys sign DKIM")
    return fingerprint(pub)


def load_revealed(path: str | os.PathLike[str]) -> frozenset[str]:
    """Fingerprints (lower-case hex) of every key listed in ``path``."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read revealed-keys file ({exc.strerror or exc})") from None
    found: set[str] = set()
    for m in _PEM.finditer(text):
        at = text.count("\n", 0, m.start()) + 1
        found.add(_pem_fingerprint(m.group(0), f"{name}, line {at}"))
    rest = _PEM.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for i, raw in enumerate(rest.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        hm = _HEX.match(line)
        digits = hm.group(1).replace(":", "") if hm else ""
        if len(digits) != 64:
            raise UsageError(f"{name}, line {i}: neither a PEM key nor a SHA-256 fingerprint (64 hex digits)")
        found.add(digits.lower())
    if not found:
        raise UsageError(f"{name}: no key or fingerprint in the file")
    return frozenset(found)
