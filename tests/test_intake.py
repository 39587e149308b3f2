"""Intake: exact bytes, digests, LF repair reported, non-email refused with one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import intake
from verify.errors import InputError
from verify.intake import from_bytes, read_file


def test_digest_and_size_are_of_the_stored_bytes(tmp_path: Path) -> None:
    data = b"From: a@b.example\nSubject: x\n\nbody\n"
    p = tmp_path / "m.eml"
    p.write_bytes(data)
    ev = read_file(p)
    assert ev.info.sha256 == hashlib.sha256(data).hexdigest() and ev.info.size == len(data)
    assert ev.raw == data and ev.wire == data.replace(b"\n", b"\r\n")
    assert [r.code for r in ev.repairs] == ["line-endings-converted"]
    assert p.read_bytes() == data


def test_crlf_input_is_not_repaired() -> None:
    ev = from_bytes(b"From: a@b.example\r\n\r\nbody\r\n")
    assert ev.repairs == () and ev.wire is ev.raw and ev.body == b"body\r\n"


def test_fields_keep_exact_bytes() -> None:
    ev = from_bytes(b"Subject:  two  spaces\r\n\tfolded\r\nFrom: a@b.example\r\n\r\n")
    assert ev.fields[0] == (b"Subject", b"  two  spaces\r\n\tfolded\r\n")
    assert ev.headers()[0].value == "two  spaces\tfolded"


def test_mbox_from_line_is_skipped_and_said() -> None:
    ev = from_bytes(b"From someone Tue Feb 10 10:00:00 2009\r\nFrom: a@b.example\r\n\r\nx\r\n")
    assert [f[0] for f in ev.fields] == [b"From"]
    assert "mbox-from-line-skipped" in [r.code for r in ev.repairs]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"   \n\n", "white space"),
        (b"\x00\x01\x02binary", "not an email"),
        (b"From: a@b.example\r\nX-Bad: \x00\r\n\r\n", "NUL byte"),
        (b"just some text\nwithout headers\n", "not a header field"),
        (b" indented first line\n", "indented"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Outlook"),
        (b"From: a@b.example\r\nthis is not a header\r\n\r\n", "line 2"),
    ],
)
def test_not_an_email(data: bytes, words: str) -> None:
    with pytest.raises(InputError) as err:
        from_bytes(data, "leak.eml")
    assert str(err.value).startswith("leak.eml: ") and words in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_file(tmp_path / "nope.eml")
    with pytest.raises(InputError, match="folder"):
        read_file(tmp_path)


HEADER_LINE = st.lists(
    st.sampled_from([b"Subject", b"X-A", b" ", b"\t", b":", b"a", b"\r", b"\xff", b"From ", b"(", b"=", b"\x7f"]), max_size=8
).map(b"".join)


@settings(max_examples=1500)
@given(lines=st.lists(HEADER_LINE, min_size=1, max_size=8))
def test_fast_header_split_agrees_with_the_line_reader(lines: list[bytes]) -> None:
    """intake's one-regex split gives the line-by-line reader's fields and body, and
    declines (None) whenever the reader would refuse the header section or skip a line."""
    wire = b"\r\n".join(lines) + b"\r\n\r\nbody\r\n"
    fast = intake._split_fast(wire)
    try:
        slow: object = intake._split(wire, "x")
    except InputError:
        slow = None
    if fast is not None:
        assert fast == slow
    elif slow is not None:
        assert slow[2]  # the one thing only the reader does: skip a first 'From ' line


@pytest.mark.parametrize("pad", [0, 300_000])
def test_bare_line_ends_counted_the_same_small_or_large(pad: int) -> None:
    """CRLF is counted by a regex under 256 KB and by bytes.count above (memory): same count."""
    data = b"Subject: x\r\nFrom: a@example.org\n\r\n" + b"line\r\n" * (pad // 6) + b"one\ntwo\n"
    ev = from_bytes(data)
    assert [r.message.split(" in LF")[0] for r in ev.repairs] == ["In the file 3 lines end"]
