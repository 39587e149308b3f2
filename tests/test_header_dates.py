"""``parse_date`` reads the usual spelling itself; it must agree with the stdlib on every input."""

from __future__ import annotations

import email.utils

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.checks.headers import parse_date


def _stdlib(value: str) -> int | None:
    """What ``parse_date`` returned before it had a fast path: ``parsedate_to_datetime`` only."""
    try:
        dt = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return int(dt.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


_USUAL = st.builds(
    lambda day, d, mon, y, hh, mm, ss, sign, oh, om: f"{day}{d} {mon} {y} {hh:02d}:{mm:02d}:{ss:02d} {sign}{oh:02d}{om:02d}",
    st.sampled_from(["", "Tue, ", "tue, ", "Xyz, "]),
    st.integers(0, 40),
    st.sampled_from(["Jan", "feb", "MAR", "Dec", "Foo"]),
    st.sampled_from(["0999", "1000", "1970", "2017", "2038", "9999"]),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from("+-"),
    st.integers(0, 25),
    st.sampled_from([0, 30, 59, 60, 99]),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_USUAL, _USUAL.map(lambda s: f"  {s}\t"), st.text(max_size=40)))
def test_parse_date_agrees_with_stdlib(value: str) -> None:
    assert parse_date.__wrapped__(value) == _stdlib(value)


def test_minus_zero_zone_is_left_to_the_stdlib() -> None:
    # "-0000" means "zone unknown" (RFC 5322 3.3); the stdlib then reads local time.
    value = "Wed, 15 Mar 2017 02:12:47 -0000"
    assert parse_date.__wrapped__(value) == _stdlib(value)
    assert parse_date("Wed, 15 Mar 2017 02:12:47 +0000") == 1489543967
