"""Live DNS against a real server: Knot on 127.0.0.1 serving the samples' key records."""

from __future__ import annotations

import io
import json
import time

import pytest

from tests.helpers import SAMPLES, ZONE
from verify.cli import main

ZONES = ["avlab.example", "bulkmailer.example", "lists.example"]


@pytest.fixture
def resolver(knot_server) -> str:  # type: ignore[no-untyped-def]
    srv = knot_server({z: [] for z in ZONES}, records_file=str(ZONE))
    return f"{srv.address}:{srv.port}"


def check_json(*args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *args, "--json"], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()), err.getvalue()


@pytest.mark.parametrize(
    "name, verdict, reason",
    [
        ("verified_rsa_sha256.eml", "verified", None),
        ("verified_ed25519.eml", "verified", None),
        ("unaligned_signer.eml", "weak", None),
        ("revoked_key.eml", "unverifiable", "key-revoked"),
        ("missing_key.eml", "unverifiable", "key-not-found"),
    ],
)
def test_keys_from_a_real_dns_server(resolver: str, name: str, verdict: str, reason: str | None) -> None:
    code, r, err = check_json(str(SAMPLES / name), "--resolver", resolver, "--timeout", "3")
    assert r["verdict"] == verdict, (r["summary"], err)
    assert r["signatures"][0]["reason"] == reason
    (k,) = r["keys"]
    assert k["source"] == "dns" and k["origin"] == resolver
    assert k["status"] == ("nxdomain" if reason == "key-not-found" else "found")
    if k["status"] == "found":
        assert k["txt"] and k["txt"][0].startswith("v=DKIM1")
        # the multi-string TXT from the zone arrives joined with nothing between the strings
        assert " " not in k["txt"][0].partition("p=")[2]


def test_name_outside_served_zones_is_dns_error(resolver: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    msg = (SAMPLES / "verified_rsa_sha256.eml").read_bytes().replace(b"d=avlab.example", b"d=avlab.test").replace(b"i=@avlab.example", b"i=@avlab.test")
    p = tmp_path / "other.eml"
    p.write_bytes(msg)
    code, r, _ = check_json(str(p), "--resolver", resolver, "--timeout", "2")
    (s,) = r["signatures"]
    # Knot refuses names it is not authoritative for: we could not ask, which is not "gone".
    assert (s["result"], s["reason"]) == ("temperror", "dns-error")
    assert r["verdict"] == "unverifiable" and code == 1


def test_silent_resolver_is_dns_error_within_twice_the_timeout(silent_dns_port) -> None:  # type: ignore[no-untyped-def]
    host, port = silent_dns_port
    start = time.monotonic()
    code, r, _ = check_json(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", f"{host}:{port}", "--timeout", "1")
    elapsed = time.monotonic() - start
    assert elapsed < 2 * 1.0 + 0.5
    (s,) = r["signatures"]
    assert (s["result"], s["reason"]) == ("temperror", "dns-error") and r["verdict"] == "unverifiable"
    assert r["keys"][0]["status"] == "timeout"


def test_key_files_and_dns_both_answer_and_agree(resolver: str) -> None:
    code, r, _ = check_json(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", resolver, "--keys", str(ZONE))
    assert code == 0 and [k["source"] for k in r["keys"]] == ["file", "dns"]
    (s,) = r["signatures"]
    # the same key from both: DNS (the stronger provenance) is named, and the sources agree
    assert s["key_source"] == "dns" and s["key_sources_agree"] is True
    assert [t["outcome"] for t in s["key_trials"]] == ["pass", "pass"]


ARCHIVE = SAMPLES / "archive.json"


def test_rotation_story_with_real_dns(resolver: str) -> None:
    """DNS today has no gone2009 key (NXDOMAIN); the archived key verifies: key-rotated."""
    code, r, _ = check_json(str(SAMPLES / "missing_key.eml"), "--resolver", resolver, "--keys", str(ARCHIVE))
    assert code == 0 and r["verdict"] == "verified"
    assert [(k["source"], k["status"]) for k in r["keys"]] == [("archive", "found"), ("dns", "nxdomain")]
    (rot,) = [c for c in r["caveats"] if c["code"] == "key-rotated"]
    assert "no longer exists" in rot["message"] and resolver in rot["message"]


def test_dns_today_holds_another_key(knot_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The selector now publishes a new key: today's DNS key fails, the archived one passes."""
    from tests.helpers import record
    from verify.keys.recorded import txt_rrset

    srv = knot_server({"avlab.example.": [txt_rrset("2009a._domainkey.avlab.example", [record(bits=1024)]).to_text()]})
    archive = tmp_path / "a.json"
    archive.write_text(json.dumps([json.loads(ARCHIVE.read_text())[0]]))  # the 2009a key as archived
    code, r, _ = check_json(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", f"{srv.address}:{srv.port}", "--keys", str(archive))
    assert r["verdict"] == "verified" and code == 0
    (s,) = r["signatures"]
    assert s["key_source"] == "archive" and s["key_sources_agree"] is False
    assert {t["source"]: t["outcome"] for t in s["key_trials"]} == {"archive": "pass", "dns": "fail"}
    assert "holds a different key" in next(c["message"] for c in r["caveats"] if c["code"] == "key-rotated")


def test_record_real_dns_answers_then_replay_offline(resolver: str, silent_dns_port, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Found, NXDOMAIN and revoked from a real server, a timeout from a silent one: all replay the same."""
    files = [str(p) for p in sorted(SAMPLES.glob("*.eml"))]
    rec = tmp_path / "rec.zone"
    out, err = io.StringIO(), io.StringIO()
    main(["check", *files, "--resolver", resolver, "--record-keys", str(rec), "--json"], stdout=out, stderr=err)
    live = json.loads(out.getvalue())
    host, port = silent_dns_port
    rec2 = tmp_path / "timeout.zone"
    out2 = io.StringIO()
    main(["check", files[0], "--resolver", f"{host}:{port}", "--timeout", "0.5", "--record-keys", str(rec2), "--json"], stdout=out2, stderr=err)
    timed_out = json.loads(out2.getvalue())
    assert {k["status"] for k in timed_out["keys"]} == {"timeout"}
    for recording, first in ((rec, live), (rec2, [timed_out])):
        out3 = io.StringIO()
        main(["check", *[f["file"]["path"] for f in first], "--offline", "--keys", str(recording), "--json"], stdout=out3, stderr=err)
        replay = json.loads(out3.getvalue())
        replay = replay if isinstance(replay, list) else [replay]
        assert [(r["verdict"], [(s["result"], s["reason"]) for s in r["signatures"]]) for r in replay] == [
            (r["verdict"], [(s["result"], s["reason"]) for s in r["signatures"]]) for r in first
        ]
        assert all(k["source"] == "dns" and k["recorded_in"] == str(recording) for r in replay for k in r["keys"])
    statuses = {k["status"] for r in live for k in r["keys"]}
    assert {"found", "nxdomain"} <= statuses


def test_arc_keys_from_a_real_dns_server(resolver: str) -> None:
    """ARC seal keys go through the same live lookup as DKIM keys and are listed with them."""
    code, r, err = check_json(str(SAMPLES / "arc_list_modified.eml"), "--resolver", resolver, "--timeout", "3")
    assert code == 1 and err == ""
    assert r["verdict"] == "failed" and r["arc"]["cv"] == "pass", r["arc"]
    by_name = {k["name"]: k for k in r["keys"]}
    arc_key = by_name["arc2019._domainkey.lists.example"]
    assert arc_key["source"] == "dns" and arc_key["status"] == "found" and arc_key["key_bits"] == 2048
    assert "modified-in-transit" in {c["code"] for c in r["caveats"]}
