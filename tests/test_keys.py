"""Key sources: master files through dnspython, the store's order, offline answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ZONE
from verify.errors import UsageError
from verify.keys import KeyStore
from verify.keys.live import parse_resolver
from verify.keys.record import KeyRecordError, parse_key_record
from verify.keys.static import StaticSource
from verify.keys.zonefile import ZoneFileSource

DIG = """
; <<>> DiG 9.18.24 <<>> TXT sel._domainkey.example.org
;; ANSWER SECTION:
sel._domainkey.example.org. 300	IN	TXT	"v=DKIM1; k=rsa; " "p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAM6nDfBiUCz8ZsyY3O5BYRd8vumTPQzAw2TerTthevs7CMMdBE7ZW3Mowik4bra3Io8FCdOiygGHvUOPiIdrF5sCAwEAAQ=="
sel._domainkey.example.org. 300	IN	TXT	"v=spf1 -all"
alias._domainkey.example.org. 300 IN CNAME sel._domainkey.example.org.
$ORIGIN example.net.
rel._domainkey 60 TXT ( "v=DKIM1; p=" )
"""


def test_dig_output_with_comments_multistring_and_cname(tmp_path: Path) -> None:
    f = tmp_path / "dig.txt"
    f.write_text(DIG)
    src = ZoneFileSource(f)
    a = src.lookup("SEL._domainkey.example.org.")
    assert a is not None and a.status == "found" and a.source == "file" and a.origin == str(f)
    assert len(a.txt) == 2 and a.txt[0].startswith("v=DKIM1; k=rsa; p=MFww")
    c = src.lookup("alias._domainkey.example.org")
    assert c is not None and c.txt == a.txt and c.detail == "CNAME to sel._domainkey.example.org"
    r = src.lookup("rel._domainkey.example.net")
    assert r is not None and r.txt == ("v=DKIM1; p=",)
    assert src.lookup("other._domainkey.example.org") is None


def test_samples_zone_loads() -> None:
    src = ZoneFileSource(ZONE)
    a = src.lookup("2009a._domainkey.avlab.example")
    assert a is not None and parse_key_record(a.txt[0]).bits == 2048


def test_bad_key_file_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.zone"
    f.write_text("this is not a zone file at all\n")
    with pytest.raises(UsageError, match="bad.zone"):
        ZoneFileSource(f)
    with pytest.raises(UsageError, match="cannot read"):
        ZoneFileSource(tmp_path / "missing.zone")


def test_offline_store_answers_not_found_and_caches() -> None:
    calls = []

    class Counting(StaticSource):
        def lookup(self, name):  # type: ignore[no-untyped-def]
            calls.append(name)
            return super().lookup(name)

    store = KeyStore(files=[Counting({})])
    (a,) = store.lookup("x._domainkey.example.org")
    assert a.status == "not-found" and "offline" in (a.detail or "")
    store.lookup("X._domainkey.example.org.")
    assert calls == ["x._domainkey.example.org"]


def test_files_and_dns_are_both_asked_unless_offline() -> None:
    """A key file no longer hides DNS: today's DNS answer is compared with the file's (rotation)."""
    asked: list[str] = []

    class Dns:
        def lookup(self, name):  # type: ignore[no-untyped-def]
            asked.append(name)
            return StaticSource({name: "nxdomain"}, origin="dns-test", source="dns").lookup(name)

    files = [StaticSource({"a._domainkey.x.example": "v=DKIM1; p="})]
    answers = KeyStore(files=files, dns=Dns()).lookup("a._domainkey.x.example")
    assert [(a.source, a.status) for a in answers] == [("file", "found"), ("dns", "nxdomain")]
    assert asked == ["a._domainkey.x.example"]
    offline = KeyStore(files=files).lookup("a._domainkey.x.example")
    assert [(a.source, a.status) for a in offline] == [("file", "found")]


@pytest.mark.parametrize(
    "spec, expected",
    [("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5300", ("127.0.0.1", 5300)), ("::1", ("::1", 53)), ("[::1]:5353", ("::1", 5353))],
)
def test_parse_resolver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_resolver(spec) == expected


def test_parse_resolver_rejects_names() -> None:
    with pytest.raises(UsageError):
        parse_resolver("dns.example:53")


def test_key_record_limits() -> None:
    with pytest.raises(KeyRecordError) as e:
        parse_key_record("v=DKIM1; p=" + "A" * 70000)
    assert "limit" in e.value.detail
