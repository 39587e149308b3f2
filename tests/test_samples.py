"""Every sample gets the verdict samples/README.md documents, through the public API."""

from __future__ import annotations

import pytest

import verify
from tests.helpers import SAMPLES, zone_store

EXPECTED = {
    "verified_rsa_sha256.eml": ("verified", set(), None),
    "verified_ed25519.eml": ("verified", set(), None),
    "legacy_rsa_sha1.eml": ("verified", {"sha1-signature"}, None),
    "body_tampered.eml": ("failed", set(), "body-hash-mismatch"),
    "header_tampered.eml": ("failed", set(), "signature-mismatch"),
    "missing_key.eml": ("unverifiable", set(), "key-not-found"),
    "revoked_key.eml": ("unverifiable", set(), "key-revoked"),
    "weak_512bit_key.eml": ("weak", {"weak-key"}, None),
    "body_length_appended.eml": ("weak", {"body-length-limit"}, None),
    "unaligned_signer.eml": ("weak", {"signer-not-aligned"}, None),
    "second_from_prepended.eml": ("weak", {"duplicate-header"}, None),
    "unsigned.eml": ("unsigned", set(), None),
    "lf_line_endings.eml": ("verified", {"line-endings-converted"}, None),
    "expired_after_delivery.eml": ("verified", {"expired-after-delivery"}, None),
    "arc_list_modified.eml": ("failed", {"modified-in-transit"}, "signature-mismatch"),
    "unsigned_internal.eml": ("unsigned", set(), None),
    "forged_route.eml": ("unsigned", set(), None),
}


def test_every_sample_is_listed() -> None:
    assert {p.name for p in SAMPLES.glob("*.eml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_verdict(name: str) -> None:
    verdict, caveats, reason = EXPECTED[name]
    report = verify.check_file(SAMPLES / name, keys=zone_store())
    assert report.verdict.value == verdict, report.summary
    codes = {c.code for c in report.caveats}
    assert caveats <= codes, codes
    if verdict == "verified":
        assert not codes & {"weak-key", "body-length-limit", "signer-not-aligned", "duplicate-header", "signature-expired"}
    if reason is not None:
        assert [s.reason.value for s in report.signatures if s.reason] == [reason]
    assert bool(report) is (verdict == "verified")


def test_header_tamper_keeps_body_hash() -> None:
    r = verify.check_file(SAMPLES / "header_tampered.eml", keys=zone_store())
    (s,) = r.signatures
    assert (s.body_hash_ok, s.signature_ok) == (True, False)


def test_body_tamper_keeps_header_signature() -> None:
    r = verify.check_file(SAMPLES / "body_tampered.eml", keys=zone_store())
    (s,) = r.signatures
    assert (s.body_hash_ok, s.signature_ok) == (False, True)
    assert "body" in r.summary


def test_second_from_names_the_unsigned_one() -> None:
    r = verify.check_file(SAMPLES / "second_from_prepended.eml", keys=zone_store())
    (s,) = r.signatures
    froms = r.header("from")
    assert len(froms) == 2
    # RFC 6376 5.4.2: h=from selects the bottom-most instance, the original one.
    assert froms[1].index in s.covered_header_indexes and froms[0].index not in s.covered_header_indexes
    unsigned = [c for c in r.caveats if c.code == "unsigned-header"]
    assert any(c.header == "From" for c in unsigned)


def test_expired_after_delivery_is_judged_at_receipt() -> None:
    r = verify.check_file(SAMPLES / "expired_after_delivery.eml", keys=zone_store())
    (s,) = r.signatures
    assert s.expiration is not None and r.reference_time is not None
    assert s.timestamp is not None and s.timestamp <= r.reference_time <= s.expiration
    assert "signature-expired" not in {c.code for c in r.caveats}
    # The same message judged as if received after x= is no longer plain verified.
    late = verify.check_bytes(
        b"Received: from a by b; " + b"Tue, 1 Dec 2009 00:00:00 +0000\r\n" + (SAMPLES / "expired_after_delivery.eml").read_bytes(),
        keys=zone_store(),
    )
    assert late.verdict.value == "weak"
    assert "signature-expired" in {c.code for c in late.caveats}


# --- header-chain samples: what samples/README.md says each report must show ------------


def test_arc_list_modified_explains_the_failure() -> None:
    r = verify.check_file(SAMPLES / "arc_list_modified.eml", keys=zone_store())
    assert r.arc is not None and r.arc.cv == "pass"
    (inst,) = r.arc.instances
    assert (inst.ams_domain, inst.ams_valid, inst.seal_valid) == ("lists.example", True, True)
    assert "dkim=pass" in (inst.aar or "")
    assert "modified in transit by lists.example after it was signed" in r.summary
    # What the final receiver recorded agrees with us; the list's own pass is explained by its seal.
    final = [(x.method, x.result) for x in r.recorded_results if x.final_receiver]
    assert final == [("dkim", "fail"), ("arc", "pass")]
    assert all(f.severity == "info" for f in r.header_findings)
    assert [h.by_host for h in r.received] == ["mail.avlab.example", "mail.lists.example", "mx.newsdesk.example"]
    assert {f.code for f in r.timeline_findings} == {"reserved-ip"}  # documentation addresses: fictional


def test_unsigned_internal_has_a_plausible_route() -> None:
    r = verify.check_file(SAMPLES / "unsigned_internal.eml", keys=zone_store())
    assert "nothing in it is cryptographically verified" in r.summary
    assert [(h.from_host, h.ip, h.by_host, h.protocol) for h in r.received] == [
        ("EXCH-MBX01.corp.avlab.example", "10.20.1.21", "EXCH-HUB01.corp.avlab.example", "mapi"),
        ("EXCH-HUB01.corp.avlab.example", "10.20.1.11", "EXCH-MBX02.corp.avlab.example", "Microsoft SMTP Server"),
    ]
    assert [h.delay_seconds for h in r.received] == [None, 2]
    # Private addresses inside one organisation, clocks in order: nothing to report.
    assert r.timeline_findings == () and r.header_findings == () and r.recorded_results == ()


def test_forged_route_is_flagged() -> None:
    r = verify.check_file(SAMPLES / "forged_route.eml", keys=zone_store())
    codes = [f.code for f in r.timeline_findings]
    assert codes == ["hop-out-of-order", "date-after-first-hop", "private-ip"]
    back = r.timeline_findings[0]
    assert back.hop == 1 and "2 h 25 min before hop 1" in back.message
    assert r.received[1].delay_seconds == -(2 * 3600 + 25 * 60 + 38)

