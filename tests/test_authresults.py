"""Authentication-Results: the regex fast path reads exactly what authres reads, and what
receivers recorded is weighed against what we find now."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import verify
from tests import conformance_data as cd
from tests.helpers import SAMPLES, sign, store, zone_store
from verify import limits
from verify.checks import authresults
from verify.checks.authresults import Unparsable, _fast, _slow, parse_value
from verify.model import HeaderField

KNOWN = [
    "mx.newsdesk.example; dkim=pass (2048-bit key) header.d=avlab.example header.i=@avlab.example header.b=AbCdEfGh; "
    "spf=pass (sender SPF authorized) smtp.mailfrom=dmitri@avlab.example; dmarc=pass (p=none) header.from=avlab.example",
    "lists.example.org; spf=pass smtp.mfrom=jqd@d1.example; dkim=pass (1024-bit key) header.i=@d1.example; dmarc=pass",
    "example.org 1; none",
    "example.org; none",
    "mx.example; dkim/1=pass reason=good header.d=a.example policy.x=y body.z=w",
    "MX.Example; DKIM=Pass Header.D=A.Example",
    "mx.example; dkim=pass ((nested) comment) header.d=a.example",
    "mx.example;\tdkim=pass\theader.d=a.example",
    "mx.example; auth=pass smtp.auth=user@example.com",
    "mx.example; iprev=pass policy.iprev=192.0.2.1",
]
#: Shapes the fast path leaves to authres (quoted strings, bad syntax, odd ptypes, ...).
SLOW = [
    'mx.google.com; dkim=pass header.i=@example.com header.s=sel header.b="abc+/12"; arc=pass (i=1 spf=pass)',
    "x.example; dkim=pass header.d=a.example header.x=q foo.bar=baz",
    "spf=pass (sender IP is 40.107.1.2) smtp.mailfrom=contoso.com; dkim=pass header.d=contoso.com",
    "mx.example; dkim=pass;",
    "mx.example; nonesuch=pass",
    "mx.example 2; dkim=pass",
    "mx.example; dkim=pass (unclosed comment",
    "mx.example; dkim=pass header.d=caf\u00e9.example",
]


def _both(value: str) -> tuple[object, object]:
    fast = _fast(value)
    try:
        slow: object = _slow(value)
    except Unparsable:
        slow = "unparsable"
    return fast, slow


@pytest.mark.parametrize("value", KNOWN)
def test_fast_path_reads_what_authres_reads(value: str) -> None:
    fast, slow = _both(value)
    assert fast is not None, "expected the fast path to accept this"
    assert fast == slow


@pytest.mark.parametrize("value", SLOW)
def test_unusual_shapes_go_to_authres(value: str) -> None:
    assert _fast(value) is None
    fast, slow = _both(value)
    if slow != "unparsable":
        assert parse_value(value) == slow
    else:
        with pytest.raises(Unparsable):
            parse_value(value)


def _conformance_values() -> list[str]:
    out: list[str] = []
    suite = cd.CONFORMANCE / "arc_test_suite" / "arc-draft-validation-tests.yml"
    texts = []
    if suite.is_file():
        for doc in yaml.safe_load_all(suite.read_text(encoding="utf-8")):
            texts += [t["message"] or "" for t in doc["tests"].values()]
    for p in [*sorted(SAMPLES.glob("*.eml")), *sorted((cd.CONFORMANCE / "stalwart" / "arc").glob("*.txt"))]:
        texts.append(p.read_bytes().decode("utf-8", "replace"))
    for text in texts:
        unfolded = re.sub(r"\r?\n[ \t]", " ", text)
        for m in re.finditer(r"^(ARC-)?Authentication-Results:(.*)$", unfolded, re.MULTILINE | re.IGNORECASE):
            value = m.group(2).strip()
            if m.group(1):
                value = authresults.split_aar(value)[1]
            out.append(value)
    return sorted(set(out))


def test_fast_path_agrees_on_every_real_field() -> None:
    values = _conformance_values()
    assert len(values) >= 10
    accepted = 0
    for value in values:
        fast, slow = _both(value)
        if fast is not None:
            accepted += 1
            assert fast == slow, value
    assert accepted >= len(values) // 2


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=8)
_domain = st.lists(_token, min_size=1, max_size=3).map(".".join)
_pvalue = st.one_of(_domain, _domain.map(lambda d: "@" + d), st.tuples(_token, _domain).map(lambda t: f"{t[0]}@{t[1]}"), st.just("a+b/c=="))
_prop = st.tuples(st.sampled_from(["header", "smtp", "policy", "body", "Header", "foo"]), _token, _pvalue).map(
    lambda t: f"{t[0]}.{t[1]}={t[2]}"
)
_comment = st.sampled_from(["", " (c)", " (nested (c))", "(x)", " (unclosed"])
_resinfo = st.tuples(
    st.sampled_from(["dkim", "spf", "dmarc", "arc", "auth", "DKIM", "none", "dkim/1", "reasonable"]),
    st.sampled_from(["pass", "fail", "none", "neutral", "PermError"]),
    st.sampled_from(["", " reason=ok", ' reason="quoted"']),
    st.lists(st.tuples(_comment, _prop), max_size=3),
).map(lambda t: f"{t[0]}={t[1]}{t[2]}" + "".join(f"{c} {p}" for c, p in t[3]))


@settings(max_examples=400, deadline=None)
@given(
    authserv=_domain,
    version=st.sampled_from(["", " 1", " 2"]),
    parts=st.lists(_resinfo, min_size=1, max_size=4),
    sep=st.sampled_from(["; ", ";", " ;\t", ";;"]),
)
def test_fast_path_never_disagrees_with_authres(authserv: str, version: str, parts: list[str], sep: str) -> None:
    value = authserv + version + "".join(sep + p for p in parts)
    fast, slow = _both(value)
    if fast is not None:
        assert fast == slow, value


def test_aar_instance_is_split_off() -> None:
    assert authresults.split_aar("i=2; lists.example; dkim=pass") == (2, "lists.example; dkim=pass")
    assert authresults.split_aar("lists.example; dkim=pass") == (None, "lists.example; dkim=pass")


def _fields(*pairs: tuple[str, str]) -> list[HeaderField]:
    return [HeaderField(i, n, v) for i, (n, v) in enumerate(pairs)]


def test_recorded_results_and_final_receiver() -> None:
    headers = _fields(
        ("Authentication-Results", "mx.newsdesk.example; dkim=pass header.d=sender.example; spf=fail smtp.mailfrom=x@y.example"),
        ("Received", "from a by mx.newsdesk.example; Tue, 10 Feb 2009 10:00:00 +0000"),
        ("Authentication-Results", "relay.other.example; dkim=pass header.d=sender.example"),
        ("Authentication-Results", "garbage without a result"),
    )
    results, findings = authresults.recorded(headers, None, ["mx.newsdesk.example"], verify.verdict.org_domain)
    assert [(r.authserv_id, r.method, r.result, r.final_receiver) for r in results] == [
        ("mx.newsdesk.example", "dkim", "pass", True),
        ("mx.newsdesk.example", "spf", "fail", True),
        ("relay.other.example", "dkim", "pass", False),
    ]
    assert dict(results[1].properties) == {"smtp.mailfrom": "x@y.example"}
    assert [f.code for f in findings] == ["unreadable-auth-results"]


def test_too_many_fields_are_counted_not_read() -> None:
    headers = _fields(*[("Authentication-Results", "mx.example; dkim=pass")] * (limits.MAX_AUTH_RESULTS + 5))
    results, findings = authresults.recorded(headers)
    assert len(results) == limits.MAX_AUTH_RESULTS
    assert [f.code for f in findings] == ["limit-reached"]


def test_overlong_field_is_not_given_to_authres() -> None:
    with pytest.raises(Unparsable, match="limit-reached"):
        parse_value("mx.example; dkim=pass " + 'header.d="x" ' * 2000)


def _report(top: bytes, message: bytes | None = None) -> verify.Report:
    return verify.check_bytes(top + (message if message is not None else sign()), keys=store())


def test_recorded_pass_contradicted_by_our_failure() -> None:
    signed = sign()
    b = authresults.signature_b(signed.split(b"\r\n\r\n")[0].decode())
    tampered = signed.replace(b"The numbers are attached.", b"The numbers are NOT attached.")
    r = _report(f"Authentication-Results: mx.example; dkim=pass header.d=sender.example header.b={b[:8]}\r\n".encode(), tampered)
    codes = [f.code for f in r.header_findings]
    assert "recorded-pass-now-fails" in codes
    f = next(f for f in r.header_findings if f.code == "recorded-pass-now-fails")
    assert f.severity == "warning" and f.signature == 0 and "body-hash-mismatch" in f.message


def test_recorded_fail_contradicted_by_our_pass() -> None:
    r = _report(b"Authentication-Results: mx.example; dkim=fail header.i=@sender.example\r\n")
    assert [f.code for f in r.header_findings] == ["recorded-fail-now-passes"]
    assert r.verdict.value == "verified"  # a recorded claim never changes the DKIM verdict


def test_recorded_signature_that_is_not_there() -> None:
    r = _report(b"Authentication-Results: mx.example; dkim=pass header.d=elsewhere.example\r\n")
    assert [f.code for f in r.header_findings] == ["recorded-signature-absent"]


def test_agreeing_records_and_unmatchable_ones_are_quiet() -> None:
    r = _report(b"Authentication-Results: mx.example; dkim=pass header.d=sender.example; dkim=pass; spf=pass\r\n")
    assert r.header_findings == ()
    assert [(x.method, x.result) for x in r.recorded_results] == [("dkim", "pass"), ("dkim", "pass"), ("spf", "pass")]


def test_recorded_arc_contradicted() -> None:
    data = (SAMPLES / "arc_list_modified.eml").read_bytes()
    r = verify.check_bytes(data, keys=zone_store())
    assert r.arc is not None and r.arc.cv == "pass"
    assert "recorded-arc-contradicted" not in [f.code for f in r.header_findings]  # the sample's own record says pass
    r2 = verify.check_bytes(b"Authentication-Results: mx.newsdesk.example; arc=fail\r\n" + data, keys=zone_store())
    assert "recorded-arc-contradicted" in [f.code for f in r2.header_findings]
