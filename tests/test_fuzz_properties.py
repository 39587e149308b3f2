"""Property-based fuzzing (hypothesis) of every parser that reads untrusted text.

Each property: any input ends as a result or as the parser's own, deliberate error type
(``InputError``, ``UsageError``, ``KeyRecordError``, ``Unparsable``), never another
exception. Inputs mix pure noise with near-valid structure (tag lists built from real
tag names, DER keys with a flipped byte, master-file lines), because noise alone
rarely gets past the first check. The atheris target in tests/fuzz/ does the same for
whole messages with coverage guidance; tests/test_fuzz_target.py runs it in CI.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import verify
from tests.helpers import BASE_MESSAGE, RECEIVED, ed_key, record, rsa_key, sign, store
from verify.checks import dkim
from verify.checks.headers import parse_date, reference_time
from verify.errors import InputError, UsageError
from verify.intake import from_bytes
from verify.keys.record import KeyRecordError, parse_key_record
from verify.keys.static import StaticSource
from verify.model import HeaderField
from verify.render import html as html_render
from verify.render import terminal
from verify.render.escape import safe

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- building blocks -----------------------------------------------------------------

_SIG_TAGS = ["v", "a", "b", "bh", "c", "d", "h", "i", "l", "q", "s", "t", "x", "z"]
_KEY_TAGS = ["v", "h", "k", "n", "p", "s", "t", "g"]
_VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "DKIM1",
            "rsa",
            "ed25519",
            "rsa-sha256",
            "ed25519-sha256",
            "rsa-sha1",
            "relaxed/relaxed",
            "simple",
            "relaxed/",
            "/",
            "sender.example",
            "s1",
            "from:to:subject",
            "from : from :",
            "@sender.example",
            "dns/txt",
            "",
            " ",
            "=",
            ";",
            "-1",
            "0",
            "1" + "0" * 30,
            "9" * 77,
            "sha256:sha1",
            "y:s",
            "email",
            "*",
            "AAAA",
            "!!!",
            "\u202e",
            "\x1b[2J",
        ]
    ),
    st.text(max_size=40),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
)


@st.composite
def tag_lists(draw: st.DrawFn, names: list[str]) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(names) | st.text(max_size=4), _VALUES), max_size=14))
    sep = draw(st.sampled_from(["; ", ";", " ;\r\n\t", ";;"]))
    return sep.join(f"{k}={v}" for k, v in pairs) + draw(st.sampled_from(["", ";", " ", "\r\n "]))


@st.composite
def key_records(draw: st.DrawFn) -> str:
    """Noise, tag soup, or a real key with a mutation."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=300))
    if kind == 1:
        return draw(tag_lists(_KEY_TAGS))
    real = record("ed25519-sha256") if draw(st.booleans()) else record(bits=1024)
    if kind == 2:
        return real
    b64 = real.partition("p=")[2]
    der = bytearray(base64.b64decode(b64))
    if der:
        der[draw(st.integers(0, len(der) - 1))] ^= draw(st.integers(1, 255))
    cut = draw(st.integers(0, len(der)))
    return real.partition("p=")[0] + "p=" + base64.b64encode(bytes(der[:cut])).decode()


def _signature_header(tags: str) -> bytes:
    return b"DKIM-Signature: " + tags.encode("utf-8", errors="surrogateescape") + b"\r\n"


# --- key records -----------------------------------------------------------------------


@FUZZ
@given(key_records())
def test_key_record_parser_only_raises_key_record_error(txt: str) -> None:
    try:
        key = parse_key_record(txt)
    except KeyRecordError as exc:
        assert exc.reason.value and exc.detail
        return
    assert key.key_type in ("rsa", "ed25519") and key.bits > 0 and len(key.fingerprint) == 64


def test_key_record_mutations_reach_every_outcome() -> None:
    """The strategy is not toothless: real keys pass, mutated ones fail in several ways."""
    assert parse_key_record(record()).bits == 2048
    assert parse_key_record(record("ed25519-sha256")).key_type == "ed25519"
    with pytest.raises(KeyRecordError):
        parse_key_record("v=DKIM1; p=" + rsa_key()[1][:-8])
    with pytest.raises(KeyRecordError):
        parse_key_record("k=ed25519; p=" + base64.b64encode(base64.b64decode(ed_key()[1])[:31]).decode())


# --- DKIM tag lists through the prepare/check path ------------------------------------


@FUZZ
@given(tag_lists(_SIG_TAGS), key_records())
def test_signature_tags_and_key_answers_never_crash_check(tags: str, txt: str) -> None:
    msg = RECEIVED + _signature_header(tags) + BASE_MESSAGE
    try:
        ev = from_bytes(msg)
    except InputError:
        return  # a line break in a value ended the field: intake's business, tested above
    prepared = dkim.prepare(ev)
    assert len(prepared) == 1
    p = prepared[0]
    answers = {p.key_name: StaticSource({p.key_name: txt}).lookup(p.key_name)} if p.key_name else {}
    (res,) = dkim.check(ev, prepared, {k: (v,) for k, v in answers.items() if v is not None})
    assert res.result.value in ("pass", "fail", "permerror", "temperror", "neutral")
    assert res.result.value != "pass"  # no key in this test signed anything


@FUZZ
@given(st.sampled_from(_SIG_TAGS), _VALUES)
def test_one_tag_replaced_in_a_real_signature(tag: str, value: str) -> None:
    """A real, passing signature with one tag's value swapped: a report, never a crash, and
    never a pass unless the value is unchanged."""
    msg = RECEIVED + sign()
    head, _, rest = msg.partition(b"DKIM-Signature:")
    sig, _, tail = rest.partition(b"\r\nFrom:")
    parts = sig.split(b";")
    names = [x.strip().partition(b"=")[0].decode() for x in parts]
    new = f" {tag}={value}".encode("utf-8", errors="surrogateescape")
    if tag in names:
        old = parts[names.index(tag)]
        parts[names.index(tag)] = new
    else:
        old = None
        parts.insert(0, new)
    data = head + b"DKIM-Signature:" + b";".join(parts) + b"\r\nFrom:" + tail
    try:
        report = verify.check_bytes(data, keys=store(), now=1_700_000_000)
    except InputError:
        return  # e.g. a value with a line break that ends the field
    report.json()
    if report.signatures and report.signatures[0].passed and old is not None:
        assert old.strip().partition(b"=")[2].strip() == value.strip().encode() or tag in ("z",)


# --- intake ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_intake_noise(data: bytes) -> None:
    try:
        ev = from_bytes(data)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert ev.fields and ev.info.size == len(data)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    names = st.sampled_from(
        [b"From", b"To", b"Subject", b"Date", b"Received", b"DKIM-Signature", b"ARC-Seal", b"Authentication-Results", b"X-A"]
    )
    fields = draw(st.lists(st.tuples(names | st.binary(min_size=1, max_size=8), st.binary(max_size=80)), min_size=0, max_size=12))
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    head = b"".join(n + b":" + v + eol for n, v in fields)
    return draw(st.sampled_from([b"", b"From x\n"])) + head + eol + draw(st.binary(max_size=200))


@FUZZ
@given(messages())
def test_intake_and_engine_on_structured_noise(data: bytes) -> None:
    """Whole messages through check_bytes and every renderer: a report or an InputError."""
    try:
        report = verify.check_bytes(data, keys=store(), now=1_700_000_000)
    except InputError:
        return
    json.loads(json.dumps(report.json()))
    buf = io.StringIO()
    terminal.render(report, Console(file=buf, width=100, color_system=None))
    buf.getvalue().encode("utf-8")
    html_render.to_html([report]).encode("utf-8")
    html_render.to_markdown([report]).encode("utf-8")


# --- header facts: dates, Received hops, Authentication-Results --------------------------

_DATEISH = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda d, m, y, hh, tz: f"Tue, {d} {m} {y} {hh}:00:00 {tz}",
        st.integers(-5, 99),
        st.sampled_from(["Jan", "Feb", "Foo", ""]),
        st.integers(-1, 10**25),
        st.integers(0, 99),
        st.sampled_from(["+0000", "-2359", "+9999", "GMT", "XYZ", ""]),
    ),
)


@FUZZ
@given(_DATEISH)
def test_dates_and_reference_time(text: str) -> None:
    t = parse_date(text)
    assert t is None or isinstance(t, int)
    ref, source = reference_time((HeaderField(0, "Received", f"by x; {text}"), HeaderField(1, "Date", text)))
    assert (ref is None) == (source is None)


@FUZZ
@given(st.one_of(st.text(max_size=300), _DATEISH.map(lambda d: f"from a (b [192.0.2.1]) by c with ESMTP id x; {d}")))
def test_received_hops(value: str) -> None:
    received = pytest.importorskip("verify.checks.received")
    hop = received.parse(value)
    assert hop is not None
    received.hops((HeaderField(0, "Received", value), HeaderField(1, "Received", value[::-1])))


@FUZZ
@given(st.one_of(st.text(max_size=300), tag_lists(["dkim", "spf", "dmarc", "arc", "header.d", "smtp.mailfrom"])))
def test_authentication_results(value: str) -> None:
    authresults = pytest.importorskip("verify.checks.authresults")
    try:
        authresults.parse_value(value)
    except authresults.Unparsable:
        pass
    authresults.split_aar(value)


# --- key files (master-file loader) -----------------------------------------------------

_ZONE_LINES = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda n, t, v: f"{n} 300 IN {t} {v}",
        st.sampled_from(["s1._domainkey.sender.example.", "@", "x", "*.a", ".", "a..b", "$ORIGIN", "\\000"]),
        st.sampled_from(["TXT", "CNAME", "A", "TYPE65535", "SOA", "txt"]),
        st.sampled_from(['"v=DKIM1; p=AAAA"', '"a" "b"', "(", ")", '"', "s1._domainkey.sender.example.", "\\# 0", "1.2.3.4"]),
    ),
    st.sampled_from(["$ORIGIN sender.example.", "$TTL 60", "$INCLUDE /etc/passwd", "$GENERATE 1-1000000 x$ TXT a", "; c", "("]),
)


@FUZZ
@given(st.lists(_ZONE_LINES, max_size=8))
def test_master_file_loader(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    from verify.keys.zonefile import ZoneFileSource

    path = tmp_path_factory.mktemp("zone") / "keys.zone"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    try:
        src = ZoneFileSource(path)
    except UsageError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc).strip()
        return
    answer = src.lookup("s1._domainkey.sender.example")
    assert answer is None or answer.status in ("found", "error")


# --- escaping ---------------------------------------------------------------------------


@FUZZ
@given(st.text())
def test_safe_leaves_nothing_live(text: str) -> None:
    import unicodedata

    out = safe(text, None)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in out)
    out.encode("utf-8")
