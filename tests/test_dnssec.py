"""DNSSEC on key answers, against a real Knot server on 127.0.0.1.

The server holds the samples' keys in a zone Knot signs (``avlab.example.``), the
newsletter provider's key in a zone whose TXT signatures were tampered with after
signing (``bulkmailer.example.``, bogus), and an unsigned zone delegated from the
signed one without DS (``corp.avlab.example.``, insecure). The test trust anchor is
``avlab.example.``'s own key (and ``bulkmailer.example.``'s), fetched from the server.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import dns.name
import pytest

from tests.dnsserver import Zone
from tests.helpers import BASE_MESSAGE, RECEIVED, SAMPLES, ZONE, record, sign
from verify.cli import main
from verify.keys.dnssec import BOGUS, INSECURE, SECURE, UNKNOWN, Validator, parse_anchors, resolver_query
from verify.keys.recorded import txt_rrset

CORP = "corp.avlab.example"
CORP_MESSAGE = BASE_MESSAGE.replace(b"alice@sender.example", b"alice@" + CORP.encode())


def zones(bogus: str = "rrsig", nsec3: str | None = None) -> dict[str, object]:
    return {
        "avlab.example.": Zone(
            [f"{CORP}. 3600 IN NS ns.{CORP}.", f"ns.{CORP}. 3600 IN A 127.0.0.1"],
            dnssec=True,
            nsec3=nsec3,
        ),
        f"{CORP}.": [txt_rrset(f"s1._domainkey.{CORP}", [record()]).to_text()],
        "bulkmailer.example.": Zone(bogus=bogus),
        "lists.example.": [],
    }


@pytest.fixture
def server(knot_server):  # type: ignore[no-untyped-def]
    return knot_server(zones(), records_file=str(ZONE))


@pytest.fixture
def anchor(server, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    f = tmp_path / "anchor.key"
    f.write_text(server.trust_anchor("avlab.example.") + server.trust_anchor("bulkmailer.example.", kind="ds"))
    return f


def check(*args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *args, "--json"], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()), err.getvalue()


def resolver(server) -> str:  # type: ignore[no-untyped-def]
    return f"{server.address}:{server.port}"


def test_secure_answer_verifies(server, anchor: Path) -> None:  # type: ignore[no-untyped-def]
    code, r, err = check(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", resolver(server), "--trust-anchor", str(anchor))
    assert code == 0 and r["verdict"] == "verified", (r["summary"], err)
    (k,) = r["keys"]
    assert (k["source"], k["dnssec"]) == ("dns", SECURE)
    assert "signed by avlab.example." in k["dnssec_detail"] and "anchor avlab.example." in k["dnssec_detail"]


def test_bogus_answer_is_never_used(server, anchor: Path) -> None:  # type: ignore[no-untyped-def]
    code, r, _ = check(str(SAMPLES / "unaligned_signer.eml"), "--resolver", resolver(server), "--trust-anchor", str(anchor))
    (k,) = r["keys"]
    assert (k["status"], k["dnssec"]) == ("found", BOGUS)
    # the record itself is the right key: only DNSSEC says it cannot be trusted
    assert k["fingerprint"] is not None
    (s,) = r["signatures"]
    assert (s["result"], s["reason"]) == ("temperror", "dns-error") and s["key_trials"][0]["outcome"] == "dnssec-bogus"
    assert r["verdict"] == "unverifiable" and "dnssec-bogus" in {c["code"] for c in r["caveats"]}
    assert code == 1


def test_bogus_data_is_caught_too(knot_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv = knot_server(zones(bogus="data"), records_file=str(ZONE))
    f = tmp_path / "anchor.ds"
    f.write_text(srv.trust_anchor("bulkmailer.example.", kind="ds"))
    _, r, _ = check(str(SAMPLES / "unaligned_signer.eml"), "--resolver", resolver(srv), "--trust-anchor", str(f))
    assert r["keys"][0]["dnssec"] == BOGUS and r["verdict"] == "unverifiable"


@pytest.mark.parametrize("nsec3", [None, "on", "opt-out"])
def test_insecure_delegation_is_proven_and_used(knot_server, tmp_path: Path, nsec3: str | None) -> None:  # type: ignore[no-untyped-def]
    """No DS for corp.avlab.example., proven by a signed NSEC, NSEC3, or an NSEC3 opt-out span."""
    server = knot_server(zones(nsec3=nsec3), records_file=str(ZONE))
    anchor = tmp_path / "anchor.key"
    anchor.write_text(server.trust_anchor("avlab.example."))
    msg = tmp_path / "corp.eml"
    msg.write_bytes(RECEIVED + sign(CORP_MESSAGE, domain=CORP))
    code, r, err = check(str(msg), "--resolver", resolver(server), "--trust-anchor", str(anchor))
    (k,) = r["keys"]
    assert k["dnssec"] == INSECURE, k["dnssec_detail"]
    assert f"delegation to {CORP}. has no DS" in k["dnssec_detail"]
    assert r["verdict"] == "verified" and code == 0, (r["summary"], err)


def test_no_anchor_covering_the_name_is_unknown(server, anchor: Path) -> None:  # type: ignore[no-untyped-def]
    _, r, _ = check(str(SAMPLES / "arc_list_modified.eml"), "--resolver", resolver(server), "--trust-anchor", str(anchor))
    lists = [k for k in r["keys"] if k["name"].endswith("lists.example")]
    assert lists and all(k["dnssec"] == UNKNOWN and "no trust anchor covers" in k["dnssec_detail"] for k in lists)


def test_built_in_root_anchor_against_a_server_without_the_root(server) -> None:  # type: ignore[no-untyped-def]
    """The chain cannot be built (the test server refuses the root zone): unknown, and still verified."""
    code, r, _ = check(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", resolver(server), "--dnssec", "--timeout", "2")
    (k,) = r["keys"]
    assert k["dnssec"] == UNKNOWN and "DNSKEY" in k["dnssec_detail"]
    assert r["verdict"] == "verified"


def test_wrong_anchor_makes_bogus(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A key that is not the zone's (bulkmailer's key claimed for avlab.example.) breaks the chain."""
    wrong = server.trust_anchor("bulkmailer.example.").replace("bulkmailer.example.", "avlab.example.")
    f = tmp_path / "wrong.key"
    f.write_text(wrong)
    _, r, _ = check(str(SAMPLES / "verified_rsa_sha256.eml"), "--resolver", resolver(server), "--trust-anchor", str(f))
    assert r["keys"][0]["dnssec"] == BOGUS and r["verdict"] == "unverifiable"


def test_validator_statuses_directly(server, anchor: Path) -> None:  # type: ignore[no-untyped-def]
    anchors = parse_anchors(anchor.read_text(), str(anchor))
    v = Validator(anchors, resolver_query(server.resolver(dnssec=True)))
    seen = {}
    for name in ("2009a._domainkey.avlab.example.", f"s1._domainkey.{CORP}.", "mx1._domainkey.bulkmailer.example."):
        resp = server.query(name, "TXT", dnssec=True)
        seen[name] = v.answer_status(dns.name.from_text(name), resp).state
    assert list(seen.values()) == [SECURE, INSECURE, BOGUS]


def test_record_with_dnssec_then_replay_offline(server, anchor: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corp = tmp_path / "corp.eml"
    corp.write_bytes(RECEIVED + sign(CORP_MESSAGE, domain=CORP))
    files = [str(SAMPLES / "verified_rsa_sha256.eml"), str(SAMPLES / "unaligned_signer.eml"), str(SAMPLES / "missing_key.eml"), str(corp)]
    rec = tmp_path / "evidence.zone"
    _, live, _ = check(*files, "--resolver", resolver(server), "--trust-anchor", str(anchor), "--record-keys", str(rec))
    _, replay, _ = check(*files, "--offline", "--keys", str(rec))
    assert [r["verdict"] for r in live] == [r["verdict"] for r in replay] == ["verified", "unverifiable", "unverifiable", "verified"]
    assert [k["dnssec"] for r in replay for k in r["keys"]] == [SECURE, BOGUS, UNKNOWN, INSECURE]
    text = rec.read_text()
    assert "RRSIG TXT" in text  # the signatures that came with the answers are kept as evidence
    assert "DNSSEC secure" in text and "DNSSEC bogus" in text


def test_nested_zone_needs_a_delegation() -> None:
    """The fixture serves a zone inside another only when the parent delegates to it."""
    from tests.dnsserver import KnotServer

    with pytest.raises(ValueError, match="needs an NS delegation"):
        KnotServer({"avlab.example.": [], f"{CORP}.": []})
