"""MIME structure through mail-parser: attachments (name, type, size, SHA-256) and defects.

A reporter quotes attachments ("the invoice PDF"), so the report lists each one with its
digest, and says whether a passing signature covers the whole body they sit in.
mail-parser does a full MIME parse (about half a millisecond for plain mail, more with
attachments), so the engine runs this for ``check`` and leaves it off bulk scans unless
asked. Pure: bytes in, :class:`MimeResult` out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging

from verify import limits
from verify.model import Attachment, Finding, MimeResult


def _payload_bytes(att: dict[str, object]) -> bytes:
    payload = att.get("payload") or ""
    if isinstance(payload, bytes):
        return payload
    text = str(payload)
    if att.get("binary"):
        try:
            return base64.b64decode(text)
        except (binascii.Error, ValueError):
            return text.encode("utf-8", errors="surrogateescape")
    # Text parts come back decoded; their UTF-8 form is what the digest is of.
    return text.encode("utf-8", errors="surrogateescape")


def analyse(wire: bytes) -> MimeResult:
    """Attachments and MIME/header defects of one message (CRLF bytes)."""
    if len(wire) > limits.MAX_MIME_ANALYSIS_BYTES:
        return MimeResult(
            (),
            (Finding("limit-reached", f"MIME structure not analysed: the message is over {limits.MAX_MIME_ANALYSIS_BYTES // 2**20} MiB"),),
            False,
        )
    import mailparser
    from mailparser.exceptions import MailParserError

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    try:
        parsed = mailparser.parse_from_bytes(wire)
    except (MailParserError, RecursionError, MemoryError, ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError) as exc:
        return MimeResult((), (Finding("mime-unparsable", f"the MIME structure could not be parsed ({type(exc).__name__})"),), False)
    atts: list[Attachment] = []
    for a in parsed.attachments[: limits.MAX_ATTACHMENTS]:
        data = _payload_bytes(a)
        atts.append(
            Attachment(
                filename=str(a.get("filename") or ""),
                content_type=str(a.get("mail_content_type") or ""),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    findings: list[Finding] = []
    for group in parsed.defects:
        for where, items in group.items():
            for item in items if isinstance(items, list) else [items]:
                findings.append(Finding("mime-defect", f"{where}: {item}", severity="info"))
    return MimeResult(tuple(atts), tuple(findings[:50]), True)
