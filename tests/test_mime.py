"""MIME analysis through mail-parser: attachments with digests, defects, limits."""

from __future__ import annotations

import base64
import hashlib

import verify
from tests.helpers import RECEIVED, sign, store
from verify.checks.mime import analyse

PDF = b"%PDF-1.4\n% fictional invoice\n"


def with_attachment() -> bytes:
    return (
        b"From: Alice Example <alice@sender.example>\r\n"
        b"To: Bob <bob@newsdesk.example>\r\n"
        b"Subject: Invoice\r\n"
        b"Date: Tue, 10 Feb 2009 10:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n'
        b"\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b"--XX\r\nContent-Type: application/pdf; name=invoice.pdf\r\n"
        b"Content-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(PDF).replace(b"\n", b"\r\n")
        + b"--XX--\r\n"
    )


def test_attachment_digest_and_coverage_in_report() -> None:
    r = verify.check_bytes(RECEIVED + sign(with_attachment()), keys=store(), mime=True)
    assert r.verdict.value == "verified" and r.mime is not None
    (a,) = r.mime.attachments
    assert (a.filename, a.content_type, a.size, a.sha256) == ("invoice.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest())
    d = r.json()
    assert d["mime"]["attachments"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    from verify.render.html import to_markdown

    assert "inside the body signed by \\#1" in to_markdown([r])


def test_scans_leave_mime_out_and_check_file_puts_it_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = RECEIVED + sign(with_attachment())
    assert verify.check_bytes(data, keys=store()).mime is None
    p = tmp_path / "m.eml"
    p.write_bytes(data)
    assert verify.check_file(p, keys=store()).mime is not None


def test_defects_are_reported() -> None:
    res = analyse(b"From: a@b.example\r\nTo: <<broken\r\nDate: not a date\r\n\r\nx\r\n")
    codes = {f.code for f in res.findings}
    assert codes == {"mime-defect"} and any("date" in f.message.lower() for f in res.findings)


def test_deep_nesting_is_bounded() -> None:
    parts = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(3000))
    res = analyse(b"From: a@b.example\r\nMIME-Version: 1.0\r\n" + parts + b"Content-Type: text/plain\r\n\r\nx\r\n")
    assert res.analysed in (True, False)  # bounded: either parsed or reported unparsable, never raised
    if not res.analysed:
        assert res.findings[0].code == "mime-unparsable"
