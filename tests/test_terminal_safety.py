"""Terminal safety: hostile text in any part of a message never reaches an output live.

One message carries the same payload (rich markup, ANSI colour, an OSC 8 hyperlink, an
OSC title change, CSI as one C1 byte, CR, backspace, BEL, DEL, bidi overrides and
isolates, a right-to-left mark, line and paragraph separators, NEL, a tag character)
in every place a report shows: the file name, the key file's name, From/To/Cc/Subject/
Date/Message-ID/Reply-To/Sender, a DKIM-Signature's d= and s=, Received hops,
Authentication-Results, the ARC fields, and the key record. Every output is checked:
the reader-facing document block by block (every section, whoever added it), the
terminal report (plain and with colour forced on), HTML, Markdown, JSON, the scan
summary, ``keys recover`` and error lines. Nothing live may remain; the payload must
be visible as escapes (``\\x1b``, ``\\u202e``), and markup must print literally.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from rich.console import Console

import verify
from tests.helpers import BASE_MESSAGE, record, sign
from verify.cli import main
from verify.keys import KeyStore
from verify.keys.zonefile import ZoneFileSource
from verify.render import document, terminal

PAYLOAD = (
    "[bold red]PAINTED[/] \x1b[31mANSI\x1b[0m \x1b]8;;https://evil.example/\x07LINK\x1b]8;;\x07 \x1b]0;TITLE\x07 "
    "\x9b2J \rCR \x08BS \x07BEL \x7fDEL \u202eRLO\u202c \u2066LRI\u2069 \u200fRLM \u2028LS \u2029PS \u0085NEL \U000e0041TAG"
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")  # the only escapes rich itself writes here
_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def live(text: str) -> list[str]:
    """Every character that would act on a terminal or reorder text, as repr."""
    return sorted({repr(c) for c in text if c != "\n" and unicodedata.category(c) in _UNSAFE})


def _zone_txt(text: str) -> str:
    """Master-file character-strings: printable ASCII as is, every other byte as \\DDD."""
    raw = text.encode("utf-8")
    chunks = [raw[i : i + 200] for i in range(0, len(raw), 200)]
    return " ".join('"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\{b:03d}" for b in c) + '"' for c in chunks)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-text")
    p = PAYLOAD.encode("utf-8")
    t = PAYLOAD.replace(";", ",").encode("utf-8")  # inside tag lists, where ";" ends a value
    msg = BASE_MESSAGE
    for old, new in (
        (b"From: Alice Example <", b'From: "' + p + b'" <'),
        (b"To: Bob <", b"To: " + p + b" <"),
        (b"Subject: Quarterly numbers", b"Subject: " + p),
        (b"Message-ID: <1@", b"Message-ID: <" + p + b"@"),
    ):
        msg = msg.replace(old, new)
    msg = msg.replace(b"\r\n\r\n", b"\r\nCc: " + p + b"\r\nReply-To: " + p + b"\r\nSender: " + p + b"\r\n\r\n", 1)
    signed = sign(msg, headers=("from", "to", "subject", "date", "message-id", "cc"))
    chain = [
        b"Received: from mx.evil ({P} [192.0.2.66]) by mx.newsdesk.example ({P}) with ESMTP id {P}; Tue, 10 Feb 2009 10:00:30 +0000",
        b"Received: from {P} by relay.example; {P}",
        b'Authentication-Results: mx.newsdesk.example; dkim=pass header.d=sender.example header.s={P} reason="{P}"; spf=fail smtp.mailfrom={P}',
        b'Authentication-Results: mx.newsdesk.example; dkim=pass reason="[bold red]PAINTED[/]" header.d=sender.example header.s=s1',
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d={T}; s={T}; t=1234260001; b=AAAA",
        b"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s={T}; t=1234260001; h=from; bh=AAAA; b=AAAA",
        b"ARC-Authentication-Results: i=1; {P}; dkim=pass header.d={P}",
        b"DKIM-Signature: v=1; a=rsa-sha256; d={T}; s={T}; h=from; bh=AAAA; b=AAAA",
        b"Date: {P}",
    ]
    head = b"".join(line.replace(b"{P}", p).replace(b"{T}", t) + b"\r\n" for line in chain)
    eml = folder / ("evil\x1b[2J\u202egnp.eml" + "\r.eml")
    eml.write_bytes(head + signed)
    keys = folder / "keys\x1b[31m\u202e.zone"
    rec = record().replace("v=DKIM1; k=rsa; ", "v=DKIM1; k=rsa; n=" + PAYLOAD.replace(";", ",") + "; ")
    keys.write_text(f"s1._domainkey.sender.example. 300 IN TXT {_zone_txt(rec)}\n", encoding="ascii")
    not_mail = folder / "\x1b]0;pwned\x07\u202e.eml"
    not_mail.write_bytes(b"")
    return {"eml": eml, "keys": keys, "folder": folder, "not_mail": not_mail}


@pytest.fixture(scope="module")
def report(hostile: dict[str, Path]) -> verify.Report:
    return verify.check_file(hostile["eml"], keys=KeyStore(files=[ZoneFileSource(hostile["keys"])]))


def _strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [s for f in dataclasses.fields(obj) for s in _strings(getattr(obj, f.name))]
    if isinstance(obj, tuple | list):
        return [s for x in obj for s in _strings(x)]
    return []


def test_the_payload_reached_the_report(report: verify.Report) -> None:
    """Not toothless: the payload is in the model, live, wherever the message put it."""
    raw = _strings(report)
    assert sum(PAYLOAD in s for s in raw) >= 8
    assert any(live(s) for s in raw)


def test_every_document_block_is_inert(report: verify.Report) -> None:
    blocks = document.build(report)
    headings = [b.text for b in blocks if isinstance(b, document.Heading)]
    for name in ("Message", "Signatures", "Keys", "Route", "Recorded", "ARC", "anomalies"):
        assert any(name in h for h in headings), headings
    for block in blocks:
        for s in _strings(block):
            assert not live(s), (type(block).__name__, s[:200])
    text = "\n".join(s for b in blocks for s in _strings(b))
    assert "[bold red]PAINTED[/]" in text and "\\x1b[31mANSI" in text and "\\u202eRLO" in text
    # every section with evidence text got the escaped payload, not a dropped one
    assert text.count("\\x1b[31mANSI") >= 8


def test_terminal_with_colour_forced_on(report: verify.Report) -> None:
    buf = io.StringIO()
    terminal.render(report, Console(file=buf, width=160, force_terminal=True, color_system="truecolor"))
    out = buf.getvalue()
    plain = _SGR.sub("", out)
    assert not live(plain), live(plain)
    assert "[bold red]PAINTED[/]" in plain and "\\x1b]8;;https://evil.example/\\x07LINK" in plain
    assert "\x1b]8" not in out  # no hyperlink of rich's own either


@pytest.mark.parametrize("fmt", ["terminal", "json", "html", "markdown", "output-file"])
def test_cli_outputs_are_inert(hostile: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    args = ["check", str(hostile["eml"]), "--keys", str(hostile["keys"]), "--offline"]
    target = tmp_path / "out"
    extra = {"terminal": [], "json": ["--json"], "html": ["--html", str(target)], "markdown": ["--markdown", str(target)]}
    extra["output-file"] = ["-o", str(target)]
    out, err = io.StringIO(), io.StringIO()
    code = main([*args, *extra[fmt]], stdout=out, stderr=err)
    assert code in (0, 1) and err.getvalue() == "", err.getvalue()
    text = target.read_text(encoding="utf-8") if target.exists() else out.getvalue()
    assert not live(text), live(text)
    if fmt == "json":
        assert text.isascii()
        d = json.loads(text)
        assert d["message"]["subject"] == PAYLOAD  # the data itself is kept exactly
    else:
        assert "\\x1b" in text and "\\u202e" in text
    if fmt == "html":
        assert "<script" not in text.lower() and 'href="https://evil' not in text


def test_scan_summary_is_inert(hostile: dict[str, Path], tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["scan", str(hostile["folder"]), "--keys", str(hostile["keys"]), "--offline", "--jobs", "1", "-q"]
        + ["--csv", str(tmp_path / "s.csv"), "--jsonl", str(tmp_path / "s.jsonl")],
        stdout=out,
        stderr=err,
    )
    assert code in (0, 1, 2), err.getvalue()
    assert not live(out.getvalue()), live(out.getvalue())
    assert not live(err.getvalue()), live(err.getvalue())
    assert "\\x1b" in out.getvalue()  # the hostile file names and domains are listed, escaped
    for name in ("s.csv", "s.jsonl"):  # files a reporter may `cat` or open in a spreadsheet
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "PAINTED" in text and not live(text), (name, live(text))


def test_keys_recover_messages_are_inert(hostile: dict[str, Path]) -> None:
    out, err = io.StringIO(), io.StringIO()
    main(["keys", "recover", str(hostile["eml"]), str(hostile["eml"])], stdout=out, stderr=err)
    assert not live(out.getvalue() + err.getvalue()), live(out.getvalue() + err.getvalue())


def test_error_lines_are_inert(hostile: dict[str, Path]) -> None:
    err = io.StringIO()
    code = main(["check", str(hostile["not_mail"]), "--offline"], stdout=io.StringIO(), stderr=err)
    assert code == 2
    line = err.getvalue()
    assert line.count("\n") == 1 and not live(line) and "\\x1b]0;pwned\\x07" in line
    err = io.StringIO()
    main(
        ["check", str(hostile["eml"]), "--keys", str(hostile["folder"] / "no\x1b[31msuch.zone"), "--offline"],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert err.getvalue().count("\n") == 1 and not live(err.getvalue())
