"""Live DNS against a real server: Knot on 127.0.0.1 serving the samples' key records."""

from __future__ import annotations

import io
import json
import time

import pytest

from tests.helpers import SAMPLES, ZONE
from verify.cli import main

ZONES = ["avlab.example", "bulkmailer.example"]


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


def test_key_files_are_used_before_dns(resolver: str) -> None:
    code, r, _ = check_json(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", resolver, "--keys", str(ZONE))
    assert code == 0 and [k["source"] for k in r["keys"]] == ["file"]
