"""ARC through the public path: keys through the KeyStore, old seals, limits, explanations."""

from __future__ import annotations

import dkim
import pytest

import verify
from tests.helpers import BASE_MESSAGE, RECEIVED, SAMPLES, record, rsa_key, sign, zone_store
from verify.checks import arc
from verify.keys import KeyStore
from verify.keys.static import StaticSource

LIST_KEY = "arc._domainkey.lists.example"
SIGN_KEY = "s1._domainkey.sender.example"


class _ARCWithExpiry(dkim.ARC):  # type: ignore[misc]
    """dkimpy has no option for x=; put one in the message signature before it is hashed."""

    expire: int | None = None

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):  # type: ignore[no-untyped-def]
        if self.expire is not None and header_name == b"ARC-Message-Signature":
            fields = list(fields)
            t = int(dict(fields)[b"t"])
            fields.insert([k for k, _ in fields].index(b"t") + 1, (b"x", str(t + self.expire).encode()))
        return super().gen_header(fields, include_headers, canon_policy, header_name, pk, standardize)


def seal(message: bytes, at: int, expire: int | None = None, dkim_result: str = "pass") -> bytes:
    """The message as lists.example relays it: its Authentication-Results, then an ARC set."""
    ar = f"Authentication-Results: lists.example; dkim={dkim_result} header.d=sender.example header.i=@sender.example\r\n".encode()
    msg = ar + message
    a = _ARCWithExpiry(msg)
    a.expire = expire
    headers = a.sign(
        b"arc", b"lists.example", rsa_key(2048)[0], b"lists.example", include_headers=[b"from", b"to", b"subject"], timestamp=at
    )
    assert len(headers) == 3
    return b"".join(headers) + msg


def keys(**extra: str) -> KeyStore:
    answers = {SIGN_KEY: record(), LIST_KEY: record()}
    answers.update(extra)
    return KeyStore(files=[StaticSource(answers)])


def test_key_names_come_from_ams_and_seal() -> None:
    from verify import intake

    ev = intake.from_bytes(seal(RECEIVED + sign(), at=1234260100))
    assert arc.key_names(ev) == [LIST_KEY]


def test_valid_chain_and_its_keys_in_the_report() -> None:
    r = verify.check_bytes(seal(RECEIVED + sign(), at=1234260100), keys=keys())
    assert r.arc is not None and r.arc.cv == "pass" and r.arc.reason == "success"
    (i,) = r.arc.instances
    assert (i.i, i.ams_domain, i.ams_selector, i.ams_valid, i.seal_valid, i.seal_cv, i.timestamp) == (
        1,
        "lists.example",
        "arc",
        True,
        True,
        "none",
        1234260100,
    )
    assert i.aar_authserv_id == "lists.example" and i.aar is not None and "dkim=pass" in i.aar
    assert [k.name for k in r.keys] == [SIGN_KEY, LIST_KEY]
    assert r.verdict.value == "verified"  # the verdict stays DKIM's


def test_seal_with_expiry_long_past_is_judged_as_of_the_message() -> None:
    """dkimpy rejects x= in the past by today's clock; a 2009 seal with a one-day x= must still pass."""
    msg = seal(RECEIVED + sign(), at=1234260100, expire=86400)
    assert b" x=1234346500" in msg
    plain = dkim.ARC(msg).verify(dnsfunc=lambda name, timeout=5: record().encode())
    assert plain[0] == dkim.CV_Fail and "x= value is past" in plain[2]  # what unmodified dkimpy says
    r = verify.check_bytes(msg, keys=keys())
    assert r.arc is not None and r.arc.cv == "pass", r.arc.reason


def test_x_before_t_is_still_refused() -> None:
    msg = seal(RECEIVED + sign(), at=1234260100, expire=-10)
    r = verify.check_bytes(msg, keys=keys())
    assert r.arc is not None and r.arc.cv == "fail" and "x= value is less than t=" in r.arc.reason


def test_tampered_after_sealing_fails() -> None:
    msg = seal(RECEIVED + sign(), at=1234260100).replace(b"Subject: Quarterly numbers", b"Subject: Quarterly numbers (final)")
    r = verify.check_bytes(msg, keys=keys())
    assert r.arc is not None and r.arc.cv == "fail"
    assert r.arc.instances[0].ams_valid is False


@pytest.mark.parametrize(
    "answer, words",
    [
        ("nxdomain", "nxdomain"),
        ("timeout", "a DNS problem: this may be temporary"),
        ("v=DKIM1; k=rsa; p=", "key-revoked"),
    ],
)
def test_a_missing_key_is_named_in_the_reason(answer: str, words: str) -> None:
    r = verify.check_bytes(seal(RECEIVED + sign(), at=1234260100), keys=keys(**{LIST_KEY: answer}))
    assert r.arc is not None and r.arc.cv == "fail"
    assert f"key {LIST_KEY}" in r.arc.reason and words in r.arc.reason


def test_key_type_must_fit_the_algorithm() -> None:
    msg = seal(RECEIVED + sign(), at=1234260100)
    relabelled = msg.replace(b"a=rsa-sha256", b"a=ed25519-sha256")
    r = verify.check_bytes(relabelled, keys=keys())
    assert r.arc is not None and r.arc.cv == "fail"


def test_more_than_fifty_sets_fail_without_being_checked() -> None:
    sets = b"".join(
        b"ARC-Seal: i=%d; a=rsa-sha256; cv=pass; d=x.example; s=s; t=1; b=AAAA\r\n"
        b"ARC-Message-Signature: i=%d; a=rsa-sha256; d=x.example; s=s; t=1; h=from; bh=AAAA; b=AAAA\r\n"
        b"ARC-Authentication-Results: i=%d; x.example; dkim=pass\r\n" % (i, i, i)
        for i in range(51, 0, -1)
    )
    r = verify.check_bytes(sets + sign(), keys=keys())
    assert r.arc is not None and r.arc.cv == "fail" and "at most 50" in r.arc.reason


def test_no_arc_headers_is_none() -> None:
    r = verify.check_bytes(sign(BASE_MESSAGE), keys=keys())
    assert r.arc is not None and (r.arc.cv, r.arc.instances) == ("none", ())


def test_list_that_broke_dkim_is_explained_not_excused() -> None:
    signed = sign()
    modified = signed.replace(b"Subject: Quarterly numbers", b"Subject: [team] Quarterly numbers")
    r = verify.check_bytes(seal(RECEIVED + modified, at=1234260100), keys=keys())
    assert r.arc is not None and r.arc.cv == "pass"
    assert r.verdict.value == "failed"
    codes = {c.code for c in r.caveats}
    assert "modified-in-transit" in codes
    assert "modified in transit by lists.example after it was signed" in r.summary


def test_no_explanation_when_the_sealer_saw_a_failure() -> None:
    modified = sign().replace(b"Subject: Quarterly numbers", b"Subject: [team] Quarterly numbers")
    r = verify.check_bytes(seal(RECEIVED + modified, at=1234260100, dkim_result="fail"), keys=keys())
    assert r.arc is not None and r.arc.cv == "pass"
    assert "modified-in-transit" not in {c.code for c in r.caveats}
    assert "ARC" not in r.summary


def test_no_explanation_when_the_chain_is_broken() -> None:
    modified = sign().replace(b"Subject: Quarterly numbers", b"Subject: [team] Quarterly numbers")
    msg = seal(RECEIVED + modified, at=1234260100).replace(b"Subject: [team]", b"Subject: [team2]")
    r = verify.check_bytes(msg, keys=keys())
    assert r.arc is not None and r.arc.cv == "fail"
    assert "modified-in-transit" not in {c.code for c in r.caveats}


def test_sample_arc_list_modified() -> None:
    r = verify.check_file(SAMPLES / "arc_list_modified.eml", keys=zone_store())
    assert r.verdict.value == "failed"
    assert r.arc is not None and r.arc.cv == "pass"
    assert "arc2019._domainkey.lists.example" in [k.name for k in r.keys]
    (c,) = [c for c in r.caveats if c.code == "modified-in-transit"]
    assert c.signature == 0 and "lists.example" in c.message
