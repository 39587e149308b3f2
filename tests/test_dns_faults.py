"""DNS faults against a real server (Knot) and a port where nothing answers.

Every fault ends as a clear reason on the signature, never as "failed" and never as a
crash: NXDOMAIN and an empty answer mean the key is gone (``key-not-found``); SERVFAIL
and silence mean it could not be asked (``dns-error``, result ``temperror``, verdict
``unverifiable``); several TXT records, odd chunking, a CNAME and a truncated UDP
answer still find the key. Knot answers SERVFAIL for a zone whose file failed to load
(``Zone(broken=True)`` in tests/dnsserver.py).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tests.dnsserver import Zone
from tests.helpers import BASE_MESSAGE, RECEIVED, record, rsa_key, sign
from verify.cli import main

D = "faults.example"
MESSAGE = BASE_MESSAGE.replace(b"sender.example", D.encode())


def txt(name: str, *strings: str) -> str:
    quoted = " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)
    return f"{name}.{D}. 300 IN TXT {quoted}"


def chunks(text: str, size: int = 255) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def odd_chunks(text: str) -> list[str]:
    """1, 2, 3, ... 13 characters, then 255: every boundary in a different place."""
    out, i, n = [], 0, 1
    while i < len(text):
        out.append(text[i : i + n])
        i += n
        n = n + 1 if n < 13 else 255
    return out


KEY = record()
BIG_KEY = "v=DKIM1; k=rsa; n=" + "padding-" * 300 + "; p=" + rsa_key(4096)[1]
RECORDS = [
    *[txt("two._domainkey", *chunks(r)) for r in ("v=DKIM1; k=rsa; p=this-is-not-a-key", KEY)],
    txt("chunks._domainkey", *odd_chunks(KEY)),
    f"alias._domainkey.{D}. 300 IN CNAME real.keys.{D}.",
    txt("real.keys", *chunks(KEY)),
    f"empty._domainkey.{D}. 300 IN A 127.0.0.1",
    txt("weird._domainkey", "v=DKIM1; p=\\000\\255\\027[31mRED\\226\\128\\174"),
    txt("big._domainkey", *chunks(BIG_KEY)),
]


@pytest.fixture
def resolver(knot_server) -> str:  # type: ignore[no-untyped-def]
    srv = knot_server({f"{D}.": RECORDS, "broken.example.": Zone(broken=True)})
    return f"{srv.address}:{srv.port}"


def check(tmp_path: Path, data: bytes, *args: str) -> tuple[int, dict, str, float]:  # type: ignore[type-arg]
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    code = main(["check", str(path), "--json", *args], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()), err.getvalue(), time.monotonic() - start


def signed(selector: str, domain: str = D, bits: int = 2048) -> bytes:
    msg = MESSAGE.replace(D.encode(), domain.encode())
    return RECEIVED + sign(msg, domain=domain, selector=selector, bits=bits)


@pytest.mark.parametrize(
    "selector, domain, verdict, reason, status",
    [
        ("two", D, "verified", None, "found"),
        ("chunks", D, "verified", None, "found"),
        ("alias", D, "verified", None, "found"),
        ("big", D, "verified", None, "found"),
        ("nx", D, "unverifiable", "key-not-found", "nxdomain"),
        ("empty", D, "unverifiable", "key-not-found", "no-txt"),
        ("weird", D, "unverifiable", "key-malformed", "found"),
        ("s1", "broken.example", "unverifiable", "dns-error", "servfail"),
        ("s1", "not-served.example", "unverifiable", "dns-error", "error"),
    ],
)
def test_dns_fault_becomes_a_reason(resolver: str, tmp_path: Path, selector: str, domain: str, verdict: str, reason, status: str) -> None:  # type: ignore[no-untyped-def]
    bits = 4096 if selector == "big" else 2048
    code, r, err, _ = check(tmp_path, signed(selector, domain, bits), "--resolver", resolver, "--timeout", "3")
    assert err == ""
    (s,) = r["signatures"]
    assert (r["verdict"], s["reason"]) == (verdict, reason), (s["detail"], r["keys"])
    assert r["verdict"] != "failed" and s["result"] != "fail"
    (k,) = r["keys"]
    assert k["status"] == status or (status == "error" and k["status"] in ("error", "servfail")), k
    if reason == "dns-error":
        assert s["result"] == "temperror"
    if selector == "two":
        assert len(k["txt"]) == 2 and "multiple-key-records" in {c["code"] for c in r["caveats"]}
    if selector == "chunks":
        assert k["txt"] == [KEY]  # character-strings joined with nothing between them
    if selector == "alias":
        assert k["detail"] == f"CNAME to real.keys.{D}"
    if selector == "big":
        assert len(k["txt"][0]) > 1232  # more than fits a UDP answer: dnspython retried over TCP
    if selector == "weird":
        assert "\x1b" not in json.dumps(r)  # JSON is ASCII-escaped


def test_servfail_is_reported_as_such(resolver: str, tmp_path: Path) -> None:
    """The terminal report names the failure as a DNS problem, not as a bad signature."""
    path = tmp_path / "m.eml"
    path.write_bytes(signed("s1", "broken.example"))
    out = io.StringIO()
    code = main(["check", str(path), "--resolver", resolver, "--timeout", "3"], stdout=out, stderr=io.StringIO())
    assert code == 1
    text = out.getvalue()
    assert "UNVERIFIABLE" in text and "dns-error" in text and "servfail" in text
    assert "FAILED" not in text


def test_silent_resolver_several_signatures_within_twice_the_timeout(silent_dns_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three signatures, three key names, nobody answering: each lookup ends at --timeout."""
    host, port = silent_dns_port
    msg = MESSAGE
    for n, dom in enumerate(("a.example", "b.example", D)):
        msg = sign(msg, domain=dom, selector=f"s{n}")
    timeout = 1.0
    code, r, err, elapsed = check(tmp_path, RECEIVED + msg, "--resolver", f"{host}:{port}", "--timeout", str(timeout))
    assert len(r["signatures"]) == 3
    assert elapsed < 2 * timeout * 3, elapsed
    assert r["verdict"] == "unverifiable" and code == 1
    for s in r["signatures"]:
        assert (s["result"], s["reason"]) == ("temperror", "dns-error")
    assert {k["status"] for k in r["keys"]} == {"timeout"}


def test_silent_resolver_subprocess_within_twice_the_timeout(silent_dns_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The same through the installed command, wall clock included."""
    from tests.hostile.measure import run_cli

    host, port = silent_dns_port
    msg = MESSAGE
    for n, dom in enumerate(("a.example", "b.example")):
        msg = sign(msg, domain=dom, selector=f"s{n}")
    path = tmp_path / "m.eml"
    path.write_bytes(RECEIVED + msg)
    m = run_cli(["check", str(path), "--resolver", f"{host}:{port}", "--timeout", "1", "--json"])
    assert m.exit == 1, m.stderr
    r = json.loads(m.stdout)
    assert r["verdict"] == "unverifiable" and {s["reason"] for s in r["signatures"]} == {"dns-error"}
    # 2 lookups x 1 s, doubled, plus interpreter start-up
    assert m.seconds < 2 * 1 * 2 + 1.5, m.seconds
