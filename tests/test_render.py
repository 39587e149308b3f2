"""Renderers: hostile header text stays inert; JSON follows the contract."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

import verify
from tests.helpers import RECEIVED, SAMPLES, sign, store, zone_store
from verify.render import html as html_render
from verify.render import terminal
from verify.render.escape import safe

HOSTILE_SUBJECT = "[bold green]VERIFIED[/] \x1b[32mOK\x1b[0m \x1b]0;title\x07 \r\u202eevil\u2066 \x9b2J"


def hostile_report() -> verify.Report:
    msg = sign().replace(b"Subject: Quarterly numbers", b"Subject: " + HOSTILE_SUBJECT.encode("utf-8"))
    return verify.check_bytes(RECEIVED + msg, path="evil\x1b[2J.eml", keys=store())


def render_text(r: verify.Report) -> str:
    buf = io.StringIO()
    terminal.render(r, Console(file=buf, width=200, force_terminal=True, color_system="truecolor"))
    return buf.getvalue()


def test_escape_makes_controls_visible() -> None:
    assert safe("a\x1bb\u202ec\r") == "a\\x1bb\\u202ec\\x0d"
    assert safe("plain [text]") == "plain [text]"


def test_terminal_shows_hostile_subject_inert() -> None:
    out = render_text(hostile_report())
    # Strip the styling rich itself emits (SGR only), then nothing live may remain.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "\x1b" not in plain and "\u202e" not in plain and "\u2066" not in plain and "\r" not in plain and "\x07" not in plain
    assert "\x9b" not in out
    assert "[bold green]VERIFIED[/]" in plain
    assert "\\x1b[32mOK" in plain and "\\u202eevil" in plain
    # rich styling is only what we asked for: no bold-green paint from the Subject
    assert "evil\\x1b[2J.eml" in plain


def test_json_contract_fields() -> None:
    r = verify.check_file(SAMPLES / "body_length_appended.eml", keys=zone_store())
    d = json.loads(json.dumps(r.json()))
    assert {"schema_version", "file", "verdict", "caveats", "signatures", "keys"} <= set(d)
    assert set(d["file"]) == {"path", "size", "sha256"}
    (s,) = d["signatures"]
    for f in ("domain", "selector", "algorithm", "canonicalization", "signed_headers", "body_length", "timestamp", "expiration",
              "key_bits", "key_type", "key_source", "body_hash_ok", "signature_ok", "result", "reason"):
        assert f in s
    assert s["signed_headers"][0] == "from" and s["key_source"] == "file" and s["body_length"] == 310
    assert s["result"] == "pass" and s["reason"] is None
    (k,) = d["keys"]
    for f in ("name", "source", "origin", "retrieved_at", "status", "dnssec", "txt", "key_bits", "fingerprint", "first_seen", "last_seen"):
        assert f in k
    assert d["caveats"][0]["code"] == "body-length-limit"


def test_html_and_markdown_escape() -> None:
    r = hostile_report()
    page = html_render.to_html([r])
    assert "<script" not in page.lower()
    assert "\x1b" not in page and "\u202e" not in page
    assert "[bold green]VERIFIED[/]" in page
    md = html_render.to_markdown([r])
    assert "\x1b" not in md and "\\[bold green\\]VERIFIED\\[/\\]" in md
