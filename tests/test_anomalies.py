"""Header anomalies: each code on a crafted message, and silence on an ordinary one."""

from __future__ import annotations

import verify
from tests.helpers import BASE_MESSAGE, RECEIVED, sign, store


def findings(data: bytes) -> dict[str, list[str | None]]:
    r = verify.check_bytes(data, keys=store())
    out: dict[str, list[str | None]] = {}
    for f in r.header_findings:
        out.setdefault(f.code, []).append(f.header)
    return out


def test_an_ordinary_signed_message_has_none() -> None:
    assert findings(RECEIVED + sign()) == {}


def test_duplicate_singleton_is_found_and_shown_once() -> None:
    data = b"Subject: Quarterly numbers (corrected)\r\n" + RECEIVED + sign()
    assert findings(data)["duplicate-header"] == ["Subject"]
    r = verify.check_bytes(data, keys=store())
    f = next(f for f in r.header_findings if f.code == "duplicate-header")
    assert "fields #1, #" in f.message
    # The verdict's caveat of the same code already says it: the report shows it once.
    from verify.render.document import Bullets, build

    texts = [code for b in build(r) if isinstance(b, Bullets) for code, _ in b.items]
    assert texts.count("duplicate-header") == 1


def test_field_added_above_the_signature() -> None:
    data = b"Reply-To: attacker@evil.example\r\n" + RECEIVED + sign()
    assert findings(data)["added-above-signature"] == ["Reply-To"]


def test_trace_fields_above_the_signature_are_normal() -> None:
    data = b"X-Spam-Score: 0\r\nReturn-Path: <alice@sender.example>\r\nDelivered-To: bob@newsdesk.example\r\n" + RECEIVED + sign()
    assert findings(data) == {}


def test_field_above_the_signature_but_covered_is_not_flagged() -> None:
    # h= names subject, and the only Subject sits above the signature: it is covered.
    msg = BASE_MESSAGE.replace(b"Subject: Quarterly numbers\r\n", b"")
    signed = sign(msg, headers=("from", "to", "subject", "date", "message-id"))
    data = b"Subject: Added later\r\n" + signed
    r = verify.check_bytes(data, keys=store())
    assert r.signatures[0].result.value == "fail"  # h= covered "no Subject"; adding one breaks it
    assert "added-above-signature" not in {f.code for f in r.header_findings}


def test_dates_missing_and_malformed() -> None:
    no_date = BASE_MESSAGE.replace(b"Date: Tue, 10 Feb 2009 10:00:00 +0000\r\n", b"")
    assert "no-date-header" in findings(no_date)
    bad = BASE_MESSAGE.replace(b"Date: Tue, 10 Feb 2009 10:00:00 +0000", b"Date: yesterday afternoon")
    assert findings(bad)["malformed-date"] == ["Date"]


def test_malformed_addresses() -> None:
    bad = BASE_MESSAGE.replace(b"To: Bob <bob@newsdesk.example>", b"To: Bob at the newsdesk")
    assert findings(bad)["malformed-address"] == ["To"]
    fine = BASE_MESSAGE.replace(
        b"To: Bob <bob@newsdesk.example>", b'To: "Reyes, Dana" <dana@newsdesk.example>, undisclosed-recipients:;, tips@newsdesk.example'
    )
    assert "malformed-address" not in findings(fine)


def test_message_id_and_return_path_domains() -> None:
    other = BASE_MESSAGE.replace(b"<1@sender.example>", b"<CAF00@mail.gmail.com>")
    assert findings(other)["message-id-domain-mismatch"] == ["Message-ID"]
    sub = BASE_MESSAGE.replace(b"<1@sender.example>", b"<1@mail.sender.example>")
    assert "message-id-domain-mismatch" not in findings(sub)
    bounce = b"Return-Path: <bounces+123@esp.example>\r\n" + BASE_MESSAGE
    f = findings(bounce)
    assert f["return-path-mismatch"] == ["Return-Path"]
    null = b"Return-Path: <>\r\n" + BASE_MESSAGE
    assert "return-path-mismatch" not in findings(null)


def test_informational_findings_are_marked() -> None:
    r = verify.check_bytes(BASE_MESSAGE.replace(b"<1@sender.example>", b"<x@other.example>"), keys=store())
    assert [(f.code, f.severity) for f in r.header_findings] == [("message-id-domain-mismatch", "info")]
