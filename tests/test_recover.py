"""``provenance keys recover``: the true modulus from two messages, for RSA-1024 and RSA-2048.

These are the slow tests of the suite (a gcd of two ~134-million-bit numbers for
RSA-2048); the times are printed with ``pytest -s``.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import verify
from tests.helpers import BASE_MESSAGE, RECEIVED, record, rsa_key, sign
from verify.cli import main
from verify.keys import KeyStore
from verify.keys.archive import ArchiveSource
from verify.keys.files import open_key_file
from verify.keys.recover import RecoveryError, collect, recover

NAME = "s1._domainkey.sender.example"


def two_messages(tmp_path: Path, bits: int, tamper_third: bool = False) -> list[str]:
    """Two different messages signed with the same throw-away key (and optionally a third,
    altered in a signed header after signing)."""
    paths = []
    for i, subject in enumerate([b"Quarterly numbers", b"Board minutes, March"]):
        p = tmp_path / f"m{bits}_{i}.eml"
        p.write_bytes(RECEIVED + sign(BASE_MESSAGE.replace(b"Quarterly numbers", subject), bits=bits))
        paths.append(str(p))
    if tamper_third:
        p = tmp_path / f"m{bits}_altered.eml"
        p.write_bytes(RECEIVED + sign(bits=bits).replace(b"Subject: Quarterly numbers", b"Subject: Quarterly numbers (final)"))
        paths.append(str(p))
    return paths


def true_modulus(bits: int) -> int:
    key = serialization.load_pem_private_key(rsa_key(bits)[0], password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers().n


def test_rsa_2048_from_two_messages(tmp_path: Path) -> None:
    paths = two_messages(tmp_path, 2048)
    (sigs,) = collect(paths).values()
    steps: list[str] = []
    start = time.monotonic()
    rec = recover(sigs, progress=lambda what, i, n: steps.append(what))
    took = time.monotonic() - start
    print(f"\nRSA-2048 recovered from 2 messages in {took:.1f} s (e={rec.e}, cofactor {rec.cofactor})")
    assert rec.n == true_modulus(2048) and rec.bits == 2048 and rec.e == 65537
    assert rec.record == record(bits=2048)
    assert any("gcd" in s for s in steps) and any("s^e - m" in s for s in steps)


def test_rsa_1024_through_the_command(tmp_path: Path) -> None:
    """Two good messages and one altered after signing: the key comes from the two, the third is left out."""
    paths = two_messages(tmp_path, 1024, tamper_third=True)
    out_file = tmp_path / "recovered.zone"
    err = io.StringIO()
    start = time.monotonic()
    code = main(["keys", "recover", *paths, "-o", str(out_file)], stdout=io.StringIO(), stderr=err)
    print(f"\nRSA-1024 recovered by `keys recover` in {time.monotonic() - start:.1f} s")
    assert code == 0, err.getvalue()
    text = out_file.read_text()
    assert text.startswith("; RECONSTRUCTED KEY for s1._domainkey.sender.example: RSA-1024, e=65537")
    assert "2 of 2 signatures verify with it" in err.getvalue() and "m1024_altered.eml: signature #1 does not fit" in err.getvalue()
    # the record is the true key, marked reconstructed, and usable with check --keys
    (lk,) = open_key_file(out_file).lookup_all(NAME)  # type: ignore[attr-defined]
    assert lk.source == "reconstructed" and lk.txt == (record(bits=1024),)
    der = base64.b64decode(lk.txt[0].partition("p=")[2])
    pub = serialization.load_der_public_key(der)
    assert isinstance(pub, rsa.RSAPublicKey) and pub.public_numbers().n == true_modulus(1024)

    # A signature verified with it alone is at best weak; the same key from an archive makes it verified.
    alone = verify.check_file(paths[0], keys=KeyStore(files=[open_key_file(out_file)]))
    assert alone.verdict.value == "weak" and "key-reconstructed" in {c.code for c in alone.caveats}
    archive = tmp_path / "archive.json"
    archive.write_text(json.dumps([{"domain": "sender.example", "selector": "s1", "value": record(bits=1024)}]))
    both = verify.check_file(paths[0], keys=KeyStore(files=[open_key_file(out_file), ArchiveSource(archive)]))
    assert both.verdict.value == "verified" and "key-reconstructed" not in {c.code for c in both.caveats}


def test_exponent_3(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=3, key_size=1024)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    import dkim

    paths = []
    for i in range(2):
        msg = BASE_MESSAGE.replace(b"Quarterly numbers", f"Note {i}".encode())
        p = tmp_path / f"e3_{i}.eml"
        p.write_bytes(RECEIVED + dkim.sign(msg, b"s1", b"sender.example", pem, include_headers=[b"from", b"subject"]) + msg)
        paths.append(str(p))
    (sigs,) = collect(paths).values()
    rec = recover(sigs, exponents=(3,))
    assert rec.e == 3 and rec.n == key.public_key().public_numbers().n


def test_one_signature_or_different_keys_cannot_recover(tmp_path: Path) -> None:
    one = tmp_path / "one.eml"
    one.write_bytes(RECEIVED + sign(bits=1024))
    err = io.StringIO()
    assert main(["keys", "recover", str(one)], stdout=io.StringIO(), stderr=err) == 2
    assert "only one RSA signature" in err.getvalue()
    (sigs,) = collect([str(one)]).values()
    with pytest.raises(RecoveryError, match="at least two"):
        recover(sigs)
    other = tmp_path / "other.eml"
    other.write_bytes(RECEIVED + sign(bits=2048))
    with pytest.raises(RecoveryError, match="different lengths"):
        recover([*sigs, *collect([str(other)]).values().__iter__().__next__()])


def test_keys_without_an_action_is_a_usage_error() -> None:
    err = io.StringIO()
    assert main(["keys"], stdout=io.StringIO(), stderr=err) == 2 and "recover" in err.getvalue()
