"""Tests of the local Knot DNS test server itself (tests/dnsserver.py)."""

from __future__ import annotations

import socket
import time

import dns._features
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from tests import _dns_fixtures
from tests.dnsserver import (
    KnotError,
    KnotServer,
    Zone,
    find_knotd,
    free_port,
    parse_rrset,
    silent_port,
)

# A DKIM-ish key split over several character-strings, as real zones do.
P1 = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv" + "A" * 180
P2 = "B" * 200 + "IDAQAB"
TXT_STRINGS = ("v=DKIM1; k=rsa; ", "p=" + P1, P2)
TXT_RDATA = " ".join(f'"{s}"' for s in TXT_STRINGS)


def txt_line(owner: str) -> str:
    return f"{owner} 3600 IN TXT {TXT_RDATA}"


ZONES = {
    "plain.example.": [
        txt_line("sel._domainkey.plain.example."),
        'other.plain.example. 300 IN TXT "hello"',
    ],
    "signed.example.": Zone([txt_line("sel._domainkey.signed.example.")], dnssec=True),
    "ed.example.": Zone([txt_line("sel._domainkey.ed.example.")], dnssec=True, algorithm="ed25519"),
    "bogus.example.": Zone([txt_line("sel._domainkey.bogus.example.")], bogus=True),
    "bogusdata.example.": Zone([txt_line("sel._domainkey.bogusdata.example.")], bogus="data"),
}


@pytest.fixture(scope="module")
def srv(knot_server) -> KnotServer:
    return knot_server(ZONES)


def resolver_for(server: KnotServer) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [server.address]
    r.port = server.port
    r.lifetime = 3.0
    return r


def txt_and_sigs(server: KnotServer, owner: str):
    q = dns.message.make_query(owner, "TXT", want_dnssec=True)
    resp, _ = dns.query.udp_with_fallback(q, server.address, port=server.port, timeout=3)
    name = dns.name.from_text(owner)
    txt = resp.get_rrset(resp.answer, name, dns.rdataclass.IN, dns.rdatatype.TXT)
    sig = resp.get_rrset(resp.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.TXT)
    return resp, txt, sig


def need_dnssec_crypto() -> None:
    """dnspython's DNSSEC code needs a recent `cryptography` (2.9.x: >= 50)."""
    if not dns._features.have("dnssec"):
        _dns_fixtures._missing(
            "dnspython cannot validate DNSSEC: its 'dnssec' extra is not satisfied "
            "(dnspython 2.9 needs cryptography>=50; pip install 'dnspython[dnssec]')"
        )


def validated_dnskeys(server: KnotServer, zone: str):
    """DNSKEY RRset as served, validated against our trust anchor text."""
    need_dnssec_crypto()
    anchor = parse_rrset(server.trust_anchor(zone))
    name = dns.name.from_text(zone)
    q = dns.message.make_query(name, "DNSKEY", want_dnssec=True)
    resp, _ = dns.query.udp_with_fallback(q, server.address, port=server.port, timeout=3)
    keys = resp.find_rrset(resp.answer, name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    sigs = resp.find_rrset(resp.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(keys, sigs, {name: anchor})
    return {name: keys}


# --------------------------------------------------------------------------


def test_server_basics(srv):
    assert srv.address == "127.0.0.1"
    assert isinstance(srv.port, int) and 0 < srv.port < 65536
    assert srv.running
    assert srv.startup_seconds is not None and srv.startup_seconds < 5
    assert set(srv.zones) == set(ZONES)


def test_split_txt_read_back(srv):
    ans = resolver_for(srv).resolve("sel._domainkey.plain.example.", "TXT")
    (rdata,) = list(ans)
    assert rdata.strings == tuple(s.encode() for s in TXT_STRINGS)
    assert b"".join(rdata.strings) == "".join(TXT_STRINGS).encode()
    assert ans.rrset.ttl == 3600


def test_tcp_works_too(srv):
    q = dns.message.make_query("sel._domainkey.plain.example.", "TXT")
    resp = dns.query.tcp(q, srv.address, port=srv.port, timeout=3)
    assert resp.answer[0][0].strings[0] == b"v=DKIM1; k=rsa; "


def test_nxdomain(srv):
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver_for(srv).resolve("missing._domainkey.plain.example.", "TXT")


def test_noanswer_and_soa_ns_added(srv):
    r = resolver_for(srv)
    with pytest.raises(dns.resolver.NoAnswer):
        r.resolve("other.plain.example.", "A")
    assert r.resolve("plain.example.", "SOA").rrset
    assert str(r.resolve("plain.example.", "NS")[0].target) == "ns.plain.example."


def test_unsigned_zone_has_no_rrsig(srv):
    resp, txt, sig = txt_and_sigs(srv, "sel._domainkey.plain.example.")
    assert txt is not None
    assert sig is None
    with pytest.raises(ValueError):
        srv.trust_anchor("plain.example.")


@pytest.mark.parametrize("zone", ["signed.example.", "ed.example."])
def test_signed_zone_validates(srv, zone):
    resp, txt, sig = txt_and_sigs(srv, f"sel._domainkey.{zone}")
    assert resp.ednsflags & dns.flags.DO
    assert sig is not None, resp
    keys = validated_dnskeys(srv, zone)
    dns.dnssec.validate(txt, sig, keys)  # raises on failure
    # the anchor alone (single CSK) validates the TXT directly, too
    anchor = parse_rrset(srv.trust_anchor(zone))
    dns.dnssec.validate(txt, sig, {anchor.name: anchor})
    assert txt[0].strings == tuple(s.encode() for s in TXT_STRINGS)


def test_signed_zone_with_resolver_do_bit(srv):
    ans = srv.resolver(dnssec=True).resolve("sel._domainkey.signed.example.", "TXT")
    sigs = ans.response.find_rrset(ans.response.answer, ans.qname, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.TXT)
    assert len(sigs) == 1


def test_signed_nxdomain_has_nsec(srv):
    q = dns.message.make_query("nope._domainkey.signed.example.", "TXT", want_dnssec=True)
    resp = dns.query.udp(q, srv.address, port=srv.port, timeout=3)
    assert resp.rcode() == dns.rcode.NXDOMAIN
    types = {rr.rdtype for rr in resp.authority}
    assert dns.rdatatype.NSEC in types and dns.rdatatype.RRSIG in types


def test_ds_trust_anchor_matches_key(srv):
    ds = parse_rrset(srv.trust_anchor("signed.example.", kind="ds"))
    keys = srv.dnskey_rrset("signed.example.")
    assert ds.rdtype == dns.rdatatype.DS
    assert {dns.dnssec.make_ds(keys.name, k, "SHA256") for k in keys} >= set(ds)


def test_wrong_anchor_fails(srv):
    """A key from another zone must not validate signed.example."""
    need_dnssec_crypto()
    _, txt, sig = txt_and_sigs(srv, "sel._domainkey.signed.example.")
    other = parse_rrset(srv.trust_anchor("bogus.example."))
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(txt, sig, {dns.name.from_text("signed.example."): other})


def test_bogus_rrsig_fails_validation(srv):
    resp, txt, sig = txt_and_sigs(srv, "sel._domainkey.bogus.example.")
    assert sig is not None
    # DNSKEY itself is fine, the data is served exactly as given ...
    keys = validated_dnskeys(srv, "bogus.example.")
    assert txt[0].strings == tuple(s.encode() for s in TXT_STRINGS)
    # ... but its signature is not
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(txt, sig, keys)


def test_bogus_data_fails_validation(srv):
    resp, txt, sig = txt_and_sigs(srv, "sel._domainkey.bogusdata.example.")
    keys = validated_dnskeys(srv, "bogusdata.example.")
    assert txt[0].strings == tuple(s.encode() for s in TXT_STRINGS) + (b" ",)
    with pytest.raises(dns.dnssec.ValidationFailure):
        dns.dnssec.validate(txt, sig, keys)


def test_silent_port_udp_times_out():
    with silent_port() as port:
        q = dns.message.make_query("x.example.", "TXT")
        t0 = time.monotonic()
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
        assert 0.4 < time.monotonic() - t0 < 2.0


def test_silent_port_resolver_lifetime(silent_dns_port):
    address, port = silent_dns_port
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [address]
    r.port = port
    r.timeout = r.lifetime = 0.5
    t0 = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        r.resolve("sel._domainkey.x.example.", "TXT")
    assert time.monotonic() - t0 < 2.0


def test_silent_port_tcp_times_out(silent_dns_port):
    address, port = silent_dns_port
    q = dns.message.make_query("x.example.", "TXT")
    t0 = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(q, address, port=port, timeout=0.5)
    assert time.monotonic() - t0 < 2.0


def test_free_port_is_free():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.bind(("127.0.0.1", port))
        t.bind(("127.0.0.1", port))


def test_records_file_grouped_into_zones(knot_server, tmp_path):
    f = tmp_path / "records.zone"
    f.write_text(
        "$TTL 600\n"
        's1._domainkey.one.example. IN TXT ( "v=DKIM1; "\n    "p=AAAA" )\n'
        'deep.s2._domainkey.two.example. 60 IN TXT "v=DKIM1; p=BBBB"\n'
    )
    srv = knot_server({"one.example.": [], "two.example.": Zone(dnssec=True)}, records_file=f)
    r = srv.resolver()
    ans = r.resolve("s1._domainkey.one.example.", "TXT")
    assert ans[0].strings == (b"v=DKIM1; ", b"p=AAAA") and ans.rrset.ttl == 600
    assert r.resolve("deep.s2._domainkey.two.example.", "TXT")[0].strings == (b"v=DKIM1; p=BBBB",)
    _, txt, sig = txt_and_sigs(srv, "deep.s2._domainkey.two.example.")
    dns.dnssec.validate(txt, sig, validated_dnskeys(srv, "two.example."))


def test_zone_value_may_be_a_path(knot_server, tmp_path):
    f = tmp_path / "z.txt"
    f.write_text(txt_line("sel._domainkey.path.example.") + "\n")
    srv = knot_server({"path.example.": f})
    assert srv.resolver().resolve("sel._domainkey.path.example.", "TXT")[0].strings[0] == b"v=DKIM1; k=rsa; "


def test_shared_servers_are_reused(knot_server, srv):
    assert knot_server(ZONES) is srv
    assert knot_server(ZONES, shared=False) is not srv


def test_out_of_zone_record_is_an_error():
    with pytest.raises(ValueError, match="outside zone"):
        KnotServer({"a.example.": ['x.b.example. 60 IN TXT "x"']})
    with pytest.raises(ValueError, match="none of the zones"):
        KnotServer({"a.example.": []}, records_file='x.b.example. 60 IN TXT "x"\n')


def test_syntax_error_is_a_value_error():
    with pytest.raises(ValueError, match="cannot parse"):
        KnotServer({"a.example.": ['x.a.example. 60 IN TXT "unterminated']})


def test_context_manager_stops_and_cleans_up():
    if not find_knotd():
        _dns_fixtures._missing("knotd not installed")
    t0 = time.monotonic()
    with KnotServer({"cm.example.": ['a.cm.example. 60 IN TXT "x"']}) as s:
        started = time.monotonic() - t0
        workdir, proc = s.workdir, s.proc
        assert workdir.joinpath("knot.conf").exists()
        assert s.resolver().resolve("a.cm.example.", "TXT")
    assert proc.poll() is not None
    assert not workdir.exists()
    assert started < 5, f"knotd took {started:.2f}s to start"


def test_knotd_failure_reports_log_tail(monkeypatch, tmp_path):
    """knotd dying at start gives a prompt KnotError carrying the log tail."""
    fake = tmp_path / "knotd"
    fake.write_text("#!/bin/sh\necho 'critical: fake knotd cannot start' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KNOTD", str(fake))
    srv = KnotServer({"err.example.": ['a.err.example. 60 IN TXT "x"']})
    t0 = time.monotonic()
    with pytest.raises(KnotError, match="fake knotd cannot start") as ei:
        srv.start()
    assert time.monotonic() - t0 < 5
    assert "knotd.log tail" in str(ei.value)
    assert not srv.running


@pytest.mark.parametrize("ci, outcome", [("true", "fail"), ("", "skip")])
def test_missing_tool_fails_in_ci_skips_otherwise(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    exc = pytest.fail.Exception if outcome == "fail" else pytest.skip.Exception
    with pytest.raises(exc):
        _dns_fixtures._missing("knotd not found")


def test_port_collision_is_retried(monkeypatch):
    """If the chosen port got taken before knotd binds it, start() retries on another one."""
    if not find_knotd():
        _dns_fixtures._missing("knotd not installed")
    import tests.dnsserver as dnsserver

    with silent_port() as taken:
        ports = iter([taken, free_port()])
        monkeypatch.setattr(dnsserver, "free_port", lambda: next(ports))
        with KnotServer({"retry.example.": ['a.retry.example. 60 IN TXT "x"']}) as s:
            assert s.port != taken
            assert "cannot bind address" in s.log_text
            assert s.resolver().resolve("a.retry.example.", "TXT")
