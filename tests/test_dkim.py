"""The DKIM engine on messages signed here, one RFC rule per test."""

from __future__ import annotations

import pytest

import verify
from tests.helpers import BASE_MESSAGE, RECEIVED, record, sign, store
from verify.keys import KeyStore
from verify.keys.static import StaticSource

NAME = "s1._domainkey.sender.example"


def check(msg: bytes, keys: KeyStore | None = None) -> verify.Report:
    return verify.check_bytes(RECEIVED + msg, keys=keys or store())


def only(r: verify.Report) -> verify.SignatureResult:
    (s,) = r.signatures
    return s


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "rsa-sha1", "ed25519-sha256"])
def test_each_algorithm_passes(algorithm: str) -> None:
    r = check(sign(algorithm=algorithm), store(algorithm=algorithm))
    s = only(r)
    assert s.result.value == "pass" and s.reason is None
    assert s.key is not None and s.key.key_type == ("ed25519" if algorithm.startswith("ed") else "rsa")
    assert r.verdict.value == "verified"
    assert ("sha1-signature" in {c.code for c in r.caveats}) is (algorithm == "rsa-sha1")


@pytest.mark.parametrize("canon", [(b"simple", b"simple"), (b"relaxed", b"simple"), (b"simple", b"relaxed")])
def test_canonicalizations(canon: tuple[bytes, bytes]) -> None:
    assert only(check(sign(canonicalize=canon))).result.value == "pass"


def test_every_signature_is_checked() -> None:
    once = sign()
    twice = sign(message=once, domain="other.example", selector="k2")
    keys = store({NAME: record(), "k2._domainkey.other.example": "v=DKIM1; k=rsa; p="})
    r = check(twice, keys)
    assert [s.domain for s in r.signatures] == ["other.example", "sender.example"]
    assert [s.reason.value if s.reason else None for s in r.signatures] == ["key-revoked", None]
    assert r.verdict.value == "verified"


def test_wrong_key_is_signature_mismatch() -> None:
    r = check(sign(), store({NAME: record(bits=1024)}))
    s = only(r)
    assert (s.result.value, s.reason.value if s.reason else None) == ("fail", "signature-mismatch")
    assert r.verdict.value == "failed"


def test_body_change_is_body_hash_mismatch() -> None:
    msg = sign().replace(b"attached", b"deleted")
    s = only(check(msg))
    assert s.reason is not None and s.reason.value == "body-hash-mismatch" and s.signature_ok is True


def test_case_insensitive_domains() -> None:
    msg = sign().replace(b"d=sender.example", b"d=Sender.EXAMPLE")
    # d= is inside the signed header, so change the key name's case instead:
    r = check(sign(), store({NAME.upper(): record()}))
    assert only(r).result.value == "pass"
    assert b"Sender.EXAMPLE" in msg


@pytest.mark.parametrize(
    "txt, reason",
    [
        ("v=DKIM1; k=rsa; p=", "key-revoked"),
        ("v=DKIM1; k=rsa", "key-malformed"),
        ("v=DKIM1; k=rsa; p=!!!notbase64", "key-malformed"),
        ("v=DKIM2; k=rsa; p=AAAA", "key-malformed"),
        ("k=rsa; v=DKIM1; p=AAAA", "key-malformed"),
        ("v=DKIM1; k=dsa; p=AAAA", "unsupported-algorithm"),
        ("v=DKIM1; k=ed25519; p=AAAA", "key-malformed"),
        ("ED25519-RECORD", "unsupported-algorithm"),
        ("v=DKIM1; k=rsa; s=tlsrpt; p=AAAA", "key-malformed"),
        ("nxdomain", "key-not-found"),
        ("no-txt", "key-not-found"),
        ("servfail", "dns-error"),
        ("timeout", "dns-error"),
    ],
)
def test_key_problems(txt: str, reason: str) -> None:
    if txt == "ED25519-RECORD":  # a good Ed25519 key where the signature says RSA
        txt = record(algorithm="ed25519-sha256")
    r = check(sign(), store({NAME: txt}))
    s = only(r)
    assert s.reason is not None and s.reason.value == reason, s.detail
    assert s.result.value == ("temperror" if reason == "dns-error" else "permerror")
    assert r.verdict.value == "unverifiable"


def test_key_hash_restriction() -> None:
    s = only(check(sign(algorithm="rsa-sha256"), store({NAME: record(extra="h=sha1; ")})))
    assert s.reason is not None and s.reason.value == "unsupported-algorithm"
    assert only(check(sign(algorithm="rsa-sha1"), store({NAME: record(extra="h=sha1; ")}))).result.value == "pass"


def test_key_strict_flag_rejects_subdomain_identity() -> None:
    msg = sign(identity="alice@mail.sender.example")
    assert only(check(msg)).result.value == "pass"
    s = only(check(msg, store({NAME: record(extra="t=s; ")})))
    assert s.result.value == "permerror" and s.reason is not None and s.reason.value == "key-malformed"


def test_testing_flag_is_a_caveat() -> None:
    r = check(sign(), store({NAME: record(extra="t=y; ")}))
    assert "key-testing-mode" in {c.code for c in r.caveats}


def test_several_txt_records_are_all_tried() -> None:
    keys = KeyStore(files=[StaticSource({NAME: ["v=spf1 -all", record(bits=1024), record()]})])
    r = check(sign(), keys)
    s = only(r)
    assert s.result.value == "pass" and s.key_candidates == 2
    assert len(r.keys[0].txt) == 3
    assert "multiple-key-records" in {c.code for c in r.caveats}


@pytest.mark.parametrize(
    "edit, reason",
    [
        ((b"v=1;", b"v=2;"), "malformed-signature"),
        ((b"a=rsa-sha256", b"a=rsa-md5"), "unsupported-algorithm"),
        ((b"c=relaxed/relaxed", b"c=future"), "unsupported-algorithm"),
        ((b"d=sender.example", b"d=sender.example(.attacker.example"), "malformed-signature"),
        ((b"i=@sender.example", b"i=@elsewhere.example"), "malformed-signature"),
        ((b"h=from", b"h=x-from"), "malformed-signature"),
        ((b"q=dns/txt", b"q=http"), "unsupported-algorithm"),
        ((b"t=1234260001", b"t=12x"), "malformed-signature"),
        ((b" bh=", b" bh=!!"), "malformed-signature"),
    ],
)
def test_signature_rules(edit: tuple[bytes, bytes], reason: str) -> None:
    msg = sign(identity="@sender.example")
    if b"q=dns/txt" not in msg:
        msg = msg.replace(b"v=1;", b"v=1; q=dns/txt;", 1)
    assert edit[0] in msg, edit
    s = only(check(msg.replace(*edit, 1)))
    assert s.result.value == "permerror" and s.reason is not None and s.reason.value == reason, s.detail


def test_expiry_before_timestamp_is_malformed() -> None:
    msg = sign().replace(b"t=1234260001", b"t=1234260001; x=1234260000", 1)
    assert only(check(msg)).reason.value == "malformed-signature"  # type: ignore[union-attr]


def test_missing_required_tag() -> None:
    msg = sign()
    start = msg.index(b"s=s1;")
    s = only(check(msg[:start] + msg[start + 5 :]))
    assert s.reason is not None and s.reason.value == "malformed-signature" and "s=" in (s.detail or "")


def test_body_length_with_and_without_appended_text() -> None:
    msg = sign(length=True)
    r = check(msg)
    assert only(r).body_length is not None and r.verdict.value == "verified"
    r2 = check(msg + b"P.S. wire the money.\r\n")
    s = only(r2)
    assert s.result.value == "pass" and s.body_bytes_signed < s.body_bytes_total  # type: ignore[operator]
    assert r2.verdict.value == "weak" and "body-length-limit" in {c.code for c in r2.caveats}


def test_body_shorter_than_l_is_an_error() -> None:
    msg = sign(length=True)
    cut = msg.replace(b"Regards, Alice\r\n", b"")
    s = only(check(cut))
    assert s.result.value != "pass"


def test_weak_key_passes_crypto_but_not_verdict() -> None:
    r = check(sign(bits=1024), store(bits=1024))
    assert r.verdict.value == "verified"
    # 512-bit keys cannot be made with cryptography; the sample covers them (test_samples).


def test_unaligned_signer() -> None:
    r = check(sign(domain="mailer.example", selector="s1"), store({"s1._domainkey.mailer.example": record()}))
    assert r.verdict.value == "weak" and "signer-not-aligned" in {c.code for c in r.caveats}


def test_subdomain_signer_is_aligned() -> None:
    r = check(sign(domain="mail.sender.example"), store({"s1._domainkey.mail.sender.example": record()}))
    assert r.verdict.value == "verified"


def test_unsigned_visible_header_is_named() -> None:
    r = check(sign(headers=("from", "date", "message-id")))
    assert r.verdict.value == "verified"
    named = {c.header for c in r.caveats if c.code == "unsigned-header"}
    assert named == {"To", "Subject"}


def test_oversigned_from_fails_when_a_from_is_prepended() -> None:
    msg = sign(headers=("from", "from", "to", "subject", "date"))
    r = check(b"From: CEO <ceo@sender.example>\r\n" + msg)
    assert r.verdict.value == "failed"


def test_duplicate_subject_blocks_verified() -> None:
    r = check(b"Subject: Wire the money now\r\n" + sign())
    assert r.verdict.value == "weak"
    assert {"duplicate-header", "unsigned-header"} <= {c.code for c in r.caveats}


def test_unsigned_message() -> None:
    r = check(BASE_MESSAGE)
    assert r.verdict.value == "unsigned" and not r.signatures


def test_no_from_header() -> None:
    msg = sign().replace(b"From: Alice Example <alice@sender.example>\r\n", b"")
    r = check(msg)
    assert r.verdict.value != "verified"
    assert "no-from-header" in {c.code for c in r.caveats}
