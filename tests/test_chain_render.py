"""The header chain in every view: JSON contract names, sections, hostile text inert."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

import verify
from tests.helpers import SAMPLES, sign, store, zone_store
from verify.cli import main
from verify.render import html as html_render
from verify.render import terminal

EVIL = "[bold red]FORGED[/] \x1b[31mred\x1b[0m \u202eevil"


def text(r: verify.Report) -> str:
    buf = io.StringIO()
    terminal.render(r, Console(file=buf, width=220, force_terminal=True, color_system="truecolor"))
    return re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())


def test_json_contract_names() -> None:
    d = json.loads(json.dumps(verify.check_file(SAMPLES / "arc_list_modified.eml", keys=zone_store()).json()))
    hop = d["received"][0]
    assert {"index", "from_host", "by_host", "ip", "protocol", "id", "for", "timestamp", "delay_seconds", "raw"} <= set(hop)
    assert (hop["index"], hop["from_host"], hop["by_host"], hop["ip"], hop["protocol"]) == (
        0,
        "ws-041.lab.avlab.example",
        "mail.avlab.example",
        "192.0.2.41",
        "ESMTPSA",
    )
    assert hop["timestamp_iso"] == "2019-09-24T08:03:18Z" and d["received"][1]["delay_seconds"] == 5
    assert d["timeline_findings"] and {"code", "message"} <= set(d["timeline_findings"][0])
    rec = d["recorded_results"][0]
    assert {"header", "authserv_id", "method", "result", "properties"} <= set(rec)
    assert rec["header"] == "Authentication-Results" and rec["authserv_id"] == "mx.newsdesk.example"
    assert rec["properties"] == {"header.d": "avlab.example", "header.i": "@avlab.example"}
    assert set(d["arc"]) >= {"cv", "reason", "instances"} and d["arc"]["cv"] == "pass"
    inst = d["arc"]["instances"][0]
    assert {"i", "ams_domain", "ams_selector", "ams_valid", "seal_valid", "timestamp", "aar"} <= set(inst)
    assert (inst["i"], inst["ams_domain"], inst["ams_selector"], inst["ams_valid"], inst["seal_valid"]) == (
        1,
        "lists.example",
        "arc2019",
        True,
        True,
    )
    assert d["header_findings"] and {"code", "message"} <= set(d["header_findings"][0])


def test_json_for_mail_without_a_chain() -> None:
    d = verify.check_bytes(sign(), keys=store()).json()
    assert d["received"] == [] and d["recorded_results"] == [] and d["timeline_findings"] == []
    assert d["arc"] == {"cv": "none", "reason": "the message has no ARC headers", "instances": []}


def test_terminal_sections_for_the_arc_sample() -> None:
    out = text(verify.check_file(SAMPLES / "arc_list_modified.eml", keys=zone_store()))
    for heading in ("Route (Received fields, oldest first)", "Recorded at the time", "ARC chain", "Header anomalies", "Timeline"):
        assert heading in out
    assert "modified-in-transit" in out and "mx.newsdesk.example (final receiver)" in out
    assert "lists.example (sealed, ARC valid)" in out


def test_unsigned_report_still_shows_the_chain() -> None:
    out = text(verify.check_file(SAMPLES / "forged_route.eml", keys=zone_store()))
    assert "UNSIGNED" in out and "nothing in it is cryptographically verified" in out
    assert "hop-out-of-order" in out and "-2 h 25 min" in out
    quiet = text(verify.check_file(SAMPLES / "unsigned_internal.eml", keys=zone_store()))
    assert "No timeline problem found" in quiet


def test_hostile_text_in_trace_fields_is_inert() -> None:
    top = (
        f"Authentication-Results: {EVIL}; dkim=pass\r\n"
        f"Received: from {EVIL} (x [192.0.2.1]) by {EVIL}; Tue, 10 Feb 2009 10:00:30 +0000\r\n"
        f"ARC-Authentication-Results: i=1; {EVIL}; dkim=pass\r\n"
    ).encode()
    r = verify.check_bytes(top + sign(), keys=store())
    out = text(r)
    assert "\x1b[31m" not in out and "\u202e" not in out
    assert "\\x1b[31mred" in out and "[bold red]FORGED[/]" in out
    page = html_render.to_html([r])
    assert "\x1b" not in page and "\u202e" not in page
    md = html_render.to_markdown([r])
    assert "\x1b" not in md and "\\[bold red\\]FORGED\\[/\\]" in md


def test_cli_json_carries_the_chain(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["check", str(SAMPLES / "forged_route.eml"), "--keys", str(SAMPLES / "keys.zone"), "--offline", "--json"], stdout=out, stderr=err
    )
    assert code == 1 and err.getvalue() == ""
    d = json.loads(out.getvalue())
    assert d["verdict"] == "unsigned"
    assert [f["code"] for f in d["timeline_findings"]] == ["hop-out-of-order", "date-after-first-hop", "private-ip"]
