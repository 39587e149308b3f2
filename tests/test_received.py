"""Received fields read as hops: real-world shapes, garbage, IPv6, missing dates."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailparser.utils import parse_received

from verify import limits
from verify.checks import received
from verify.model import HeaderField

POSTFIX = (
    "from mail.sender.example (mail.sender.example [192.0.2.1])\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
    "\tby mx.newsdesk.example (Postfix) with ESMTPS id 4F2A81C0123\tfor <dana@newsdesk.example>; Tue, 10 Feb 2009 10:00:30 +0000 (UTC)"
)
SENDMAIL = (
    "from segv.d1.example (segv.d1.example [72.52.75.15]) by lists.example.org (8.14.5/8.14.5) with ESMTP id t0EKaNU9010123 "
    "for <arc@example.org>; Thu, 14 Jan 2015 15:01:30 -0800 (PST) (envelope-from jqd@d1.example)"
)
EXCHANGE = (
    "from EXCH01.corp.example (10.1.2.3) by EXCH02.corp.example (10.1.2.4) with Microsoft SMTP Server "
    "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384) id 15.1.2507.23; Tue, 10 Feb 2009 10:00:01 +0000"
)
EXCHANGE_ONLINE = (
    "from AM6PR04MB1234.eurprd04.prod.outlook.com (2603:10a6:20b:12::34) by AM6PR04MB5678.eurprd04.prod.outlook.com "
    "(2603:10a6:20b:56::78) with Microsoft SMTP Server (version=TLS1_2) id 15.20.1234.5; Tue, 4 Jun 2019 09:15:02 +0000"
)
GMAIL = "by 2002:adf:b343:0:0:0:0:0 with SMTP id k3csp2230702wrd;        Mon, 7 Nov 2022 23:51:18 -0800 (PST)"
EXIM = "from [192.0.2.5] (helo=foo.example) by mx.example.org with esmtpa (Exim 4.92) (envelope-from <a@b.example>) id 1abc-000; Tue, 10 Feb 2009 10:00:01 +0000"
IPV6 = "from host.example (host.example [IPv6:2001:DB8:0:0::1] (may be forged)) by mx.example.org; Tue, 10 Feb 2009 10:00:01 +0000"
QMAIL = "(qmail 1234 invoked by uid 89); 10 Feb 2009 10:00:01 -0000"
IBM = "from mail.example.net by relay.example.com for <a@example.com> from <b@example.net>; Tue, 10 Feb 2009 10:00:01 +0000"


def test_postfix() -> None:
    h = received.parse(POSTFIX)
    assert (h.from_host, h.from_rdns, h.ip, h.by_host) == ("mail.sender.example", "mail.sender.example", "192.0.2.1", "mx.newsdesk.example")
    assert (h.protocol, h.id, h.for_) == ("ESMTPS", "4F2A81C0123", "dana@newsdesk.example")
    assert h.timestamp == 1234260030 and h.utc_offset == "+0000" and h.note is None


def test_sendmail_date_in_other_zone_is_converted_to_utc() -> None:
    h = received.parse(SENDMAIL)
    assert h.timestamp == 1421276490  # 23:01:30 UTC
    assert h.utc_offset == "-0800"
    assert (h.by_host, h.protocol, h.id, h.for_) == ("lists.example.org", "ESMTP", "t0EKaNU9010123", "arc@example.org")


def test_exchange_address_in_comment_and_multiword_protocol() -> None:
    h = received.parse(EXCHANGE)
    assert (h.from_host, h.ip, h.by_host) == ("EXCH01.corp.example", "10.1.2.3", "EXCH02.corp.example")
    assert h.protocol == "Microsoft SMTP Server" and h.id == "15.1.2507.23"


def test_exchange_online_ipv6_in_comment() -> None:
    h = received.parse(EXCHANGE_ONLINE)
    assert h.ip == "2603:10a6:20b:12::34"


def test_gmail_internal_hop_has_no_from() -> None:
    h = received.parse(GMAIL)
    assert h.from_host is None and h.ip is None
    assert h.by_host == "2002:adf:b343:0:0:0:0:0" and h.id == "k3csp2230702wrd"
    assert h.timestamp == 1667893878


def test_exim_literal_as_helo() -> None:
    h = received.parse(EXIM)
    assert (h.from_host, h.ip, h.protocol, h.id) == ("[192.0.2.5]", "192.0.2.5", "esmtpa", "1abc-000")


def test_ipv6_literal_is_canonical() -> None:
    h = received.parse(IPV6)
    assert h.ip == "2001:db8::1" and h.from_rdns == "host.example"


def test_qmail_has_time_but_no_hosts() -> None:
    h = received.parse(QMAIL)
    assert h.timestamp == 1234260001 and h.from_host is None and h.by_host is None
    assert h.note == "no from/by clause"


def test_keywords_out_of_order_are_still_read() -> None:
    h = received.parse(IBM)
    assert (h.from_host, h.by_host, h.for_) == ("mail.example.net", "relay.example.com", "a@example.com")


@pytest.mark.parametrize(
    "value, note",
    [
        ("garbage without structure", "no from/by clause; no date (no ';')"),
        ("from a by b; garbage date", "date unreadable"),
        ("from a by b;", "no date after ';'"),
        ("from a (unclosed by b; Tue, 10 Feb 2009 10:00:01 +0000", "unbalanced parentheses"),
        ("from [999.999.999.999] by ; Tue, 99 Foo 99999 99:99:99 +9999", "date unreadable"),
        ("by x; Mon, 1 Jan 1000000000000000000000 00:00:00 +0000", "date unreadable"),
    ],
)
def test_unreadable_parts_are_noted_not_dropped(value: str, note: str) -> None:
    h = received.parse(value)
    assert h.raw == value
    assert h.note is not None and note in h.note


def test_impossible_address_is_not_an_ip() -> None:
    assert received.parse("from x ([999.1.1.1]) by y; Tue, 10 Feb 2009 10:00:01 +0000").ip is None


def test_overlong_field_is_not_read() -> None:
    h = received.parse("from " + "a" * (limits.MAX_TRACE_FIELD_BYTES + 1))
    assert h.note is not None and h.note.startswith("limit-reached")


def test_deep_nesting_is_bounded() -> None:
    depth = 50_000
    h = received.parse("from x " + "(" * depth + ")" * depth + " by y; Tue, 10 Feb 2009 10:00:01 +0000")
    assert h.raw.startswith("from x")  # read without recursion or quadratic work


def _fields(*values: str) -> list[HeaderField]:
    """Received fields in file order (newest on top)."""
    return [HeaderField(i, "Received", v) for i, v in enumerate(values)]


def test_hops_are_oldest_first_with_delays() -> None:
    hops = received.hops(
        _fields(
            "from b by c; Tue, 10 Feb 2009 10:02:00 +0000",
            "from a by b; garbage",
            "from ws by a; Tue, 10 Feb 2009 12:00:00 +0200",
        )
    )
    assert [h.by_host for h in hops] == ["a", "b", "c"]
    assert [h.index for h in hops] == [0, 1, 2]
    assert [h.field_index for h in hops] == [2, 1, 0]
    # The undated middle hop has no delay; the next one counts from the last dated hop.
    assert [h.delay_seconds for h in hops] == [None, None, 120]


def test_negative_delay_is_kept() -> None:
    hops = received.hops(_fields("from a by b; Tue, 10 Feb 2009 09:00:00 +0000", "from w by a; Tue, 10 Feb 2009 10:00:00 +0000"))
    assert hops[1].delay_seconds == -3600


def test_more_than_max_hops_keeps_the_topmost() -> None:
    values = [f"from h{i} by h{i + 1}; Tue, 10 Feb 2009 10:00:00 +0000" for i in range(limits.MAX_HOPS + 20, 0, -1)]
    hops = received.hops(_fields(*values))
    assert len(hops) == limits.MAX_HOPS
    assert hops[-1].raw == values[0]


@pytest.mark.parametrize("value", [POSTFIX, SENDMAIL, EXCHANGE, EXIM, GMAIL])
def test_agrees_with_mail_parser(value: str) -> None:
    """mail-parser (slower, character by character) reads the same clauses."""
    theirs = parse_received(value)
    ours = received.parse(value)
    assert ours.by_host == theirs["by"].split()[0]
    assert ours.id == theirs["id"]
    if "from" in theirs:
        assert ours.from_host == theirs["from"].split()[0]
    if "with" in theirs:
        assert ours.protocol == " ".join(theirs["with"].split("(")[0].split())
    p = email.utils.parsedate_tz(theirs["date"])
    assert p is not None and ours.timestamp == email.utils.mktime_tz(p)


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@settings(max_examples=300, deadline=None)
@given(
    day=st.integers(0, 40),
    mon=st.sampled_from([*_MONTHS, "Foo", "jan"]),
    year=st.integers(1900, 2100),
    hh=st.integers(0, 30),
    mm=st.integers(0, 70),
    ss=st.one_of(st.none(), st.integers(0, 70)),
    zone=st.one_of(
        st.integers(-1400, 1400).map(lambda z: f"{'-' if z < 0 else '+'}{abs(z):04d}"), st.sampled_from(["GMT", "PST", "EDT", "Z"])
    ),
    weekday=st.booleans(),
)
def test_date_agrees_with_the_stdlib(day: int, mon: str, year: int, hh: int, mm: int, ss: int | None, zone: str, weekday: bool) -> None:
    text = f"{'Tue, ' if weekday else ''}{day} {mon} {year} {hh:02d}:{mm:02d}{f':{ss:02d}' if ss is not None else ''} {zone}"
    p = email.utils.parsedate_tz(text)
    try:
        expected = (int(email.utils.mktime_tz(p)), int(p[9] or 0)) if p else None
    except (OverflowError, ValueError):
        expected = None
    got = received.date(text)
    if got is not None and expected is not None:
        assert got == expected, text
    elif expected is not None:
        raise AssertionError(f"{text!r}: stdlib reads it, we do not")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_never_raises(value: str) -> None:
    h = received.parse(value)
    assert h.raw == value


def test_year_zero_is_unreadable_not_a_crash() -> None:
    """``calendar.timegm`` refuses year 0: the whole message used to fail with an internal error."""
    h = received.parse("from a by b; Tue, 1 Jan 0000 00:00:00 +0000")
    assert h.timestamp is None and h.note == "date unreadable"
    assert received.date("1 Jan 0000 00:00 +0000") is None


_SPACE = st.sampled_from([" ", "  ", "\t", "\r\n\t", " \u00a0", "\u2003"])
_COMMENT = st.sampled_from(["(Postfix)", "(mail.example [192.0.2.7])", "(unknown [10.0.0.1])", "(a;b)", "()", "((nested))", "(", ")"])
_WORD = st.sampled_from(
    [
        "from",
        "FROM",
        "by",
        "By",
        "via",
        "with",
        "id",
        "ID",
        "for",
        "mx.example",
        "[192.0.2.1]",
        "ESMTPS",
        "Microsoft",
        "SMTP",
        "<a@b.example>",
        "x;y",
        "a,",
        "K\u212a",
        "9",
        "ſmtp",
        "2603:10a6::34",
        "(2603:10a6::34)",
        "Tue,",
        "10",
        "Feb",
        "2009",
        ";",
    ]
)
_DATE_TEXT = st.sampled_from(
    [
        "Tue, 10 Feb 2009 10:00:30 +0000",
        "10 Feb 2009 10:00 -0800",
        "Mon, 31 Feb 2011 23:59:60 +1400",
        "1 jAn 2001 00:00:00 -0000",
        "1 Jan 0000 00:00:00 +0000",
        "Tue, 10 Feb 2009 25:00:30 +0000",
        "10 Foo 2009 10:00:30 +0000",
        "10 Feb 2009 10:00:30 +0099",
        "10 Feb 2009 10:00:30 GMT",
        "10  Feb\t2009  10:00:30  +0100 (CET)",
        "Tue, 10 Feb 2009 10:00:30 +00001",
        "garbage",
        "",
        "10 Feb 2009 10:00:30 +0\u0661\u0660\u0660",
    ]
)


_CLEAN_COMMENT = st.sampled_from(["(Postfix)", "(mail.example [192.0.2.7])", "(Exim 4.92)", "(version=TLS1_2; x)"])
_CLEAN_WORD = st.sampled_from(["mx.example", "[192.0.2.1]", "ESMTPS", "Microsoft", "SMTP", "<a@b.example>", "a,", "ID", "For", "k3cs"])
_SEP = st.lists(st.one_of(_SPACE, _SPACE, _CLEAN_COMMENT, _COMMENT), min_size=0, max_size=3).map("".join)
_USUAL_DATE = st.sampled_from(["Tue, 10 Feb 2009 10:00:30 +0000", "10 Feb 2009 10:00 -0800", "Thu, 14 Jan 2015 15:01:30 -0800 (PST)"])


@st.composite
def _clauses(draw: st.DrawFn) -> str:
    """Received fields in (mostly) RFC 5321 order, with comments and odd tokens anywhere."""
    out = [draw(_SEP)]
    for keyword in ("from", "by", "via", "with", "id", "for"):
        if draw(st.booleans()):
            spelled = draw(st.sampled_from([keyword, keyword.upper(), keyword.capitalize()]))
            tokens = draw(st.lists(st.one_of(_CLEAN_WORD, _CLEAN_WORD, _WORD), min_size=1, max_size=3 if keyword == "with" else 1))
            out += [spelled, draw(_SEP) or " ", draw(_SEP).join(tokens) or "x", draw(_SEP) or " "]
    return "".join(out)


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(_clauses(), st.lists(st.one_of(_WORD, _COMMENT, _SPACE), max_size=14).map(" ".join)),
    _SEP,
    st.one_of(_USUAL_DATE, _DATE_TEXT),
    _SEP,
)
def test_usual_shape_reads_as_the_general_path(head: str, gap: str, when: str, tail: str) -> None:
    """``parse`` (one regex for the usual shape) and ``parse_general`` (comments blanked,
    then clause by clause) read every field the same way."""
    value = head + ";" + gap + when + tail
    assert received.parse(value, 2, 5, 1234) == received.parse_general(value, 2, 5, 1234)


@pytest.mark.parametrize("value", [POSTFIX, SENDMAIL, EXCHANGE, EXCHANGE_ONLINE, GMAIL, EXIM, IPV6, QMAIL, IBM])
def test_real_shapes_read_as_the_general_path(value: str) -> None:
    assert received.parse(value, 1, 3, 99) == received.parse_general(value, 1, 3, 99)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["a", "b c", ";", "[1.2.3.4]"]), _COMMENT, _SPACE), max_size=12))
def test_flat_blanking_agrees_with_the_general_one(parts: list[str]) -> None:
    text = "".join(parts)
    flat = received._blank_flat(text)
    if flat is not None:
        assert (flat, True) == received._blank_nested(text)
    assert received._blank_comments(text) == received._blank_nested(text)


@settings(max_examples=400, deadline=None)
@given(_SPACE, _DATE_TEXT, st.booleans())
def test_table_dates_agree_with_timegm(space: str, when: str, lead: bool) -> None:
    """``_parse_date`` (day and zone tables) and ``_parse_date_general`` (``calendar.timegm``)."""
    text = (space if lead else "") + when.replace(" ", space)
    assert received._parse_date(text) == received._parse_date_general(text)
    stamped = received._stamp_date(";" + text, 1)
    if stamped is not None:
        assert stamped[:2] == received._parse_date_general(" ".join(text.split()))
