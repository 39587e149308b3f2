"""The fast canonicalisation in verify/checks/dkim.py gives dkimpy's bytes, exactly.

A scan spends most of its time here, so dkim.py rewrites only the runs of blanks that
change; these properties hold it to dkimpy's output on hostile whitespace.
"""

from __future__ import annotations

from collections.abc import Callable

from dkim import RE_BTAG
from dkim.canonicalization import CanonicalizationPolicy
from dkim.util import InvalidTagValueList, parse_tag_value
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.checks.dkim import BTAG, _select, canonical_body, canonical_field, tag_list
from verify.intake import field_index

POLICIES = [CanonicalizationPolicy.from_c_value(c) for c in (b"relaxed/relaxed", b"simple/simple", b"relaxed/simple", b"simple/relaxed")]
# Blanks, line ends and their pieces, other whitespace bytes strip() knows, and text.
TEXT = st.lists(st.sampled_from([b" ", b"  ", b"\t", b"\r\n", b"\n", b"\r", b"\x0b", b"\x0c", b"a", b"From ", b"\xff"]), max_size=40).map(
    b"".join
)


@settings(max_examples=800)
@given(body=TEXT)
def test_body_matches_dkimpy(body: bytes) -> None:
    for policy in POLICIES:
        assert canonical_body(policy, body) == policy.canonicalize_body(body)


@settings(max_examples=800)
@given(name=st.sampled_from([b"Subject", b"subject ", b"X-A\t", b"FROM"]), value=TEXT)
def test_header_field_matches_dkimpy(name: bytes, value: bytes) -> None:
    for policy in POLICIES:
        assert canonical_field(policy, (name, value)) == tuple(policy.canonicalize_headers([(name, value)])[0])


SIG_VALUE = st.lists(
    st.sampled_from([b";", b" ", b"\t", b"\r\n", b"\n", b"b", b"bh", b"=", b"a", b"+/", b"Zz9", b"x", b"\x0b"]), max_size=30
).map(b"".join)


@settings(max_examples=1500)
@given(value=SIG_VALUE)
def test_b_tag_blanking_matches_dkimpy(value: bytes) -> None:
    assert BTAG.sub(b"\\1", value) == RE_BTAG.sub(b"\\1", value)


def _select_reference(fields: list[tuple[bytes, bytes]], names: list[str]) -> list[int]:
    """RFC 6376 5.4.2 spelled out: each name scans up from below its previous pick."""
    picked: list[int] = []
    last: dict[str, int] = {}
    for name in names:
        i = last.get(name, len(fields))
        while i > 0:
            i -= 1
            if fields[i][0].lower().rstrip() == name.encode():
                picked.append(i)
                break
        last[name] = i
    return picked


@settings(max_examples=800)
@given(
    fields=st.lists(st.sampled_from([b"From", b"to", b"TO ", b"Subject", b"x"]), max_size=12),
    names=st.lists(st.sampled_from(["from", "to", "subject", "date"]), max_size=10),
)
def test_select_takes_instances_from_the_bottom(fields: list[bytes], names: list[str]) -> None:
    pairs = [(f, b" v\r\n") for f in fields]
    assert _select(pairs, names) == _select_reference(pairs, names)


@settings(max_examples=800)
@given(
    fields=st.lists(st.sampled_from([b"From", b"to", b"TO ", b"Subject", b"x"]), max_size=12),
    names=st.lists(st.sampled_from(["from", "to", "subject", "date"]), max_size=10),
)
def test_select_with_the_evidence_index_agrees(fields: list[bytes], names: list[str]) -> None:
    """The engine passes intake's name index (Evidence.where); the answer must not change."""
    pairs = tuple((f, b" v\r\n") for f in fields)
    assert _select(pairs, names, field_index(pairs)) == _select_reference(list(pairs), names)


TAG_TEXT = st.lists(
    st.sampled_from([b";", b" ", b"\t", b"\r\n", b"=", b"a", b"B", b"_", b"1", b"v", b"bh", b"\xc3\xa9", b"\x0b", b"-"]), max_size=30
).map(b"".join)


@settings(max_examples=2000)
@given(value=TAG_TEXT)
def test_tag_list_matches_dkimpy(value: bytes) -> None:
    """verify's tag-list reader gives dkimpy's parse_tag_value dict, or its exception with the same argument."""

    def outcome(fn: Callable[[bytes], dict[bytes, bytes]]) -> object:
        try:
            return fn(value)
        except InvalidTagValueList as exc:
            return (type(exc), exc.args)

    assert outcome(tag_list) == outcome(parse_tag_value)
