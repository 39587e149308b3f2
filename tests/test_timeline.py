"""Timeline findings on crafted routes: each code fires when it should, and only then."""

from __future__ import annotations

from verify.checks import received, timeline
from verify.checks.timeline import SignedAt, span
from verify.model import HeaderField, Hop
from verify.verdict import org_domain

T0 = 1234260000  # 2009-02-10 10:00:00 UTC


def _stamp(t: int) -> str:
    import email.utils

    return email.utils.formatdate(t, usegmt=False)


def route(*hops: tuple[str, int | None]) -> tuple[Hop, ...]:
    """Hops oldest first from (clause, time); field order is reversed as in a file."""
    values = [f"{clause}; {_stamp(t)}" if t is not None else clause for clause, t in hops]
    return received.hops([HeaderField(i, "Received", v) for i, v in enumerate(reversed(values))])


NORMAL = (
    ("from ws.corp.example (ws.corp.example [10.0.0.5]) by mail.corp.example with ESMTPSA", T0 + 1),
    ("from mail.corp.example (mail.corp.example [93.184.216.34]) by mx.news.example with ESMTP", T0 + 30),
)


def codes(findings: tuple[object, ...]) -> list[str]:
    return [f.code for f in findings]  # type: ignore[attr-defined]


def test_a_plausible_route_has_no_findings() -> None:
    assert codes(timeline.check(route(*NORMAL), T0, [], org_domain)) == []


def test_clock_backwards_beyond_tolerance() -> None:
    hops = route(NORMAL[0], (NORMAL[1][0], T0 + 1 - timeline.CLOCK_TOLERANCE - 60))
    found = timeline.check(hops, T0, [], org_domain)
    assert codes(found) == ["hop-out-of-order"]
    assert found[0].hop == 1 and "16 min before hop 1" in found[0].message


def test_small_backwards_step_is_tolerated() -> None:
    hops = route(NORMAL[0], (NORMAL[1][0], T0 - 120))
    assert codes(timeline.check(hops, T0 - 200, [], org_domain)) == []


def test_date_after_first_hop_and_after_delivery() -> None:
    found = timeline.check(route(*NORMAL), T0 + 86400, [], org_domain)
    assert codes(found) == ["date-after-first-hop"]
    assert "later than the final delivery" in found[0].message and found[0].header == "Date"


def test_date_slightly_after_first_hop_is_a_clock() -> None:
    assert codes(timeline.check(route(*NORMAL), T0 + 30 * 60, [], org_domain)) == []


def test_date_long_before_first_hop() -> None:
    assert codes(timeline.check(route(*NORMAL), T0 - 3 * 86400, [], org_domain)) == ["date-long-before-first-hop"]
    assert codes(timeline.check(route(*NORMAL), T0 - 3600, [], org_domain)) == []


def test_transit_longer_than_servers_retry() -> None:
    hops = route(NORMAL[0], (NORMAL[1][0], T0 + 6 * 86400))
    assert codes(timeline.check(hops, T0, [], org_domain)) == ["transit-implausible"]


def test_dkim_time_after_first_receipt_after_signing() -> None:
    hops = route(*NORMAL)  # field 0 = newest (mx), field 1 = oldest (mail.corp)
    # A signature between the two fields: only the mx hop was added after signing.
    late = SignedAt(0, "corp.example", T0 + 30 + timeline.CLOCK_TOLERANCE + 60, field_index=1)
    found = timeline.check(hops, T0, [late], org_domain)
    assert codes(found) == ["dkim-time-after-receipt"]
    assert found[0].signature == 0 and found[0].hop == 1
    # Signed before the mx hop received it: fine, even though the first hop is earlier.
    ok = SignedAt(0, "corp.example", T0 + 20, field_index=1)
    assert codes(timeline.check(hops, T0, [ok], org_domain)) == []
    # A signature below every Received field: every hop came after it, the oldest first.
    bottom = SignedAt(0, "corp.example", T0 + 10 * 86400, field_index=9)
    assert [(f.code, f.hop) for f in timeline.check(hops, None, [bottom], org_domain)] == [("dkim-time-after-receipt", 0)]
    # Above every Received field (added by the last server, or later): nothing to compare.
    top = SignedAt(0, "corp.example", T0 + 10 * 86400, field_index=-1)
    assert codes(timeline.check(hops, None, [top], org_domain)) == []


def test_dkim_time_long_before_date() -> None:
    early = SignedAt(1, "corp.example", T0 - 2 * 3600, field_index=1)
    found = timeline.check(route(*NORMAL), T0, [early], org_domain)
    assert codes(found) == ["dkim-time-before-date"] and found[0].signature == 1


def test_handoff_mismatch_is_informational() -> None:
    hops = route(NORMAL[0], ("from relay.other.example (relay.other.example [93.184.216.35]) by mx.news.example", T0 + 30))
    found = timeline.check(hops, T0, [], org_domain)
    assert codes(found) == ["hop-handoff-mismatch"] and found[0].severity == "info"


def test_handoff_matches_short_names_and_same_organisation() -> None:
    short = route(
        ("from ws (ws [10.0.0.5]) by EXCH02 with mapi", T0),
        ("from EXCH02.corp.example (10.0.0.7) by EXCH03.corp.example with SMTP", T0 + 2),
    )
    assert codes(timeline.check(short, T0, [], org_domain)) == []
    same_org = route(
        ("from ws.corp.example (ws.corp.example [10.0.0.5]) by in.corp.example", T0),
        ("from out.corp.example (out.corp.example [10.0.0.6]) by mx.corp.example", T0 + 2),
    )
    assert codes(timeline.check(same_org, T0, [], org_domain)) == []


def test_private_address_between_organisations() -> None:
    hops = route(NORMAL[0], ("from mail.corp.example (mail.corp.example [10.0.0.5]) by mx.news.example", T0 + 30))
    found = timeline.check(hops, T0, [], org_domain)
    assert codes(found) == ["private-ip"] and found[0].hop == 1 and "10.0.0.5" in found[0].message


def test_private_address_inside_one_organisation_is_normal() -> None:
    hops = route(("from a.corp.example (a.corp.example [10.0.0.5]) by b.corp.example", T0))
    assert codes(timeline.check(hops, T0, [], org_domain)) == []


def test_documentation_and_ipv6_addresses() -> None:
    doc = route(("from a.one.example (a.one.example [192.0.2.1]) by b.two.example", T0))
    assert codes(timeline.check(doc, T0, [], org_domain)) == ["reserved-ip"]
    ula = route(("from a.one.example (a.one.example [IPv6:fd00::1]) by b.two.example", T0))
    assert codes(timeline.check(ula, T0, [], org_domain)) == ["private-ip"]
    loop = route(("from a.one.example (a.one.example [127.0.0.1]) by b.two.example", T0))
    assert "loopback" in timeline.check(loop, T0, [], org_domain)[0].message
    public = route(("from a.one.example (a.one.example [IPv6:2a00:1450::1]) by b.two.example", T0))
    assert codes(timeline.check(public, T0, [], org_domain)) == []


def test_garbage_and_missing_dates_give_no_false_findings() -> None:
    hops = route(("garbage", None), ("from a by b; not a date", None), ("(qmail 1 invoked by uid 2)", T0))
    assert codes(timeline.check(hops, None, [], org_domain)) == []
    assert codes(timeline.check((), T0, [SignedAt(0, "x.example", T0, 0)], org_domain)) == []


def test_span_words() -> None:
    assert [span(s) for s in (40, 600, 3 * 3600 + 300, 3 * 86400 + 7200, -90)] == ["40 s", "10 min", "3 h 5 min", "3 days 2 h", "90 s"]
