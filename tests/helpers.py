"""Test helpers: sign messages with throw-away keys, and build offline key stores."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from unittest import mock

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from verify.keys import KeyStore
from verify.keys.static import StaticSource
from verify.keys.zonefile import ZoneFileSource

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ZONE = SAMPLES / "keys.zone"
CONFORMANCE = ROOT.parent / "shared" / "conformance"

BASE_MESSAGE = (
    b"From: Alice Example <alice@sender.example>\r\n"
    b"To: Bob <bob@newsdesk.example>\r\n"
    b"Subject: Quarterly numbers\r\n"
    b"Date: Tue, 10 Feb 2009 10:00:00 +0000\r\n"
    b"Message-ID: <1@sender.example>\r\n"
    b"\r\n"
    b"The numbers are attached.\r\n"
    b"Regards, Alice\r\n"
)
RECEIVED = b"Received: from mail.sender.example (mail.sender.example [192.0.2.1]) by mx.newsdesk.example; Tue, 10 Feb 2009 10:00:30 +0000\r\n"
SIGN_TIME = 1234260001  # 2009-02-10 10:00:01 UTC


@functools.cache
def rsa_key(bits: int = 2048) -> tuple[bytes, str]:
    """(PEM private key, base64 SPKI public key) for an RSA key of ``bits``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(pub).decode()


@functools.cache
def ed_key() -> tuple[bytes, str]:
    """(base64 seed as dkimpy wants it, base64 raw public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(seed), base64.b64encode(pub).decode()


def sign(
    message: bytes = BASE_MESSAGE,
    domain: str = "sender.example",
    selector: str = "s1",
    algorithm: str = "rsa-sha256",
    bits: int = 2048,
    headers: tuple[str, ...] = ("from", "to", "subject", "date", "message-id"),
    length: bool = False,
    identity: str | None = None,
    canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
    at: int = SIGN_TIME,
) -> bytes:
    """The message with a DKIM-Signature prepended (dkimpy does the signing)."""
    priv = ed_key()[0] if algorithm.startswith("ed25519") else rsa_key(bits)[0]
    with mock.patch("time.time", return_value=at):
        sig = dkim.sign(
            message,
            selector.encode(),
            domain.encode(),
            priv,
            identity=identity.encode() if identity else None,
            canonicalize=canonicalize,
            signature_algorithm=algorithm.encode(),
            include_headers=[h.encode() for h in headers],
            length=length,
        )
    return sig + message


def record(algorithm: str = "rsa-sha256", bits: int = 2048, extra: str = "") -> str:
    if algorithm.startswith("ed25519"):
        return f"v=DKIM1; k=ed25519; {extra}p={ed_key()[1]}"
    return f"v=DKIM1; k=rsa; {extra}p={rsa_key(bits)[1]}"


def store(answers: dict[str, object] | None = None, **kw: object) -> KeyStore:
    """Offline store with ``s1._domainkey.sender.example`` holding the default RSA key."""
    base: dict[str, object] = {"s1._domainkey.sender.example": record(**kw)}  # type: ignore[arg-type]
    if answers is not None:
        base = answers
    return KeyStore(files=[StaticSource(base)])  # type: ignore[arg-type]


def zone_store() -> KeyStore:
    return KeyStore(files=[ZoneFileSource(ZONE)])
