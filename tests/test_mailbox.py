"""Reading leaks: mbox boundaries and offsets, mboxrd quoting, Maildir order, folder walks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import BASE_MESSAGE
from verify import limits, mailbox
from verify.errors import UsageError

MSG_A = BASE_MESSAGE
MSG_B = BASE_MESSAGE.replace(b"Quarterly numbers", b"Second message").replace(b"Regards", b"From the desk of Alice")


def mbox_bytes(*messages: bytes, nl: bytes = b"\r\n") -> bytes:
    """An mboxrd file as a writer makes it: separator, quoted body, one empty line."""
    out = b""
    for m in messages:
        quoted = b"\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln for ln in m.split(b"\n"))
        if not quoted.endswith(b"\n"):
            quoted += nl  # writers end a cut-off last line before the empty separator line
        out += b"From alice@sender.example Tue Feb 10 10:00:00 2009" + nl + quoted + nl
    return out


def test_mbox_messages_offsets_and_exact_bytes(tmp_path: Path) -> None:
    box = tmp_path / "leak.mbox"
    raw = mbox_bytes(MSG_A, MSG_B, MSG_A)
    box.write_bytes(raw)
    items = list(mailbox.read_mbox(str(box)))
    assert [it.source.index for it in items] == [0, 1, 2]
    for it in items:
        assert it.source.offset is not None and raw[it.source.offset :].startswith(b"From alice@")
        assert it.source.path == str(box) and it.source.mbox
    assert items[0].data == MSG_A and items[2].data == MSG_A
    # Stored quoted; un-quoting gives the original back and says how many lines changed.
    assert b"\r\n>From the desk" in (items[1].data or b"")
    assert mailbox.unquote_mboxrd(items[1].data or b"") == (MSG_B, 1)
    assert mailbox.unquote_mboxrd(MSG_A) == (MSG_A, 0)
    assert sum(it.size for it in items) == len(raw)


def test_mboxrd_unquotes_one_level_only() -> None:
    assert mailbox.unquote_mboxrd(b"a\r\n>>From x\r\n>From y\r\nFrom z\r\n> From w\r\n") == (
        b"a\r\n>From x\r\nFrom y\r\nFrom z\r\n> From w\r\n",
        2,
    )


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_mbox_chunk_boundaries_do_not_matter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    box = tmp_path / "leak.mbox"
    box.write_bytes(mbox_bytes(MSG_A, MSG_B, MSG_A, MSG_B) + mbox_bytes(MSG_A, nl=b"\n"))
    whole = [(it.source, it.data) for it in mailbox.read_mbox(str(box))]
    monkeypatch.setattr(mailbox, "_CHUNK", chunk)
    assert [(it.source, it.data) for it in mailbox.read_mbox(str(box))] == whole
    assert len(whole) == 5


def test_lf_mbox_and_body_from_line_without_blank_line(tmp_path: Path) -> None:
    lf = MSG_A.replace(b"\r\n", b"\n") + b"not a separator:\nFrom here on, nothing changes\n"
    box = tmp_path / "lf.mbox"
    box.write_bytes(b"From x Thu Jan  1 00:00:00 2009\n" + lf + b"\n" + b"From y Thu Jan  1 00:00:00 2009\n" + lf + b"\n")
    items = list(mailbox.read_mbox(str(box)))
    assert [it.data for it in items] == [lf, lf]


def test_oversize_mbox_message_is_an_error_item_and_reading_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = MSG_A + b"x" * 5000 + b"\r\n"
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox_bytes(MSG_A, big, MSG_B))
    monkeypatch.setattr(limits, "MAX_MESSAGE_BYTES", 2000)
    monkeypatch.setattr(mailbox, "_CHUNK", 256)
    items = list(mailbox.read_mbox(str(box)))
    assert [it.source.index for it in items] == [0, 1, 2]
    assert items[0].data == MSG_A and items[2].data is not None
    assert items[1].data is None and "limit" in (items[1].error or "")


def test_not_an_mbox(tmp_path: Path) -> None:
    f = tmp_path / "x.mbox"
    f.write_bytes(b"hello\r\n")
    (item,) = mailbox.read_mbox(str(f))
    assert item.data is None and "not an mbox" in (item.error or "")


def make_maildir(root: Path, messages: dict[str, bytes]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for rel, data in messages.items():
        (root / rel).write_bytes(data)
    return root


def test_maildir_order_and_sources(tmp_path: Path) -> None:
    md = make_maildir(
        tmp_path / "md",
        {"cur/1700000001.M1.host:2,S": MSG_A, "new/1700000002.M2.host": MSG_B, "cur/1700000000.M0.host:2,RS": MSG_B, "tmp/partial": b"x"},
    )
    p = mailbox.plan([str(md)])
    assert [i.kind for i in p.inputs] == ["maildir"]
    items = list(mailbox.iter_messages(p))
    assert [it.source.index for it in items] == [0, 1, 2]
    assert [os.path.basename(it.source.path) for it in items] == ["1700000002.M2.host", "1700000000.M0.host:2,RS", "1700000001.M1.host:2,S"]
    assert all(it.source.offset is None and not it.source.mbox for it in items)


def test_folder_walk_finds_eml_msg_mbox_and_maildirs(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.eml").write_bytes(MSG_A)
    (tmp_path / "a" / "b" / "two.EML").write_bytes(MSG_B)
    (tmp_path / "a" / "outlook.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    (tmp_path / "a" / "notes.txt").write_text("not mail")
    (tmp_path / "box.mbox").write_bytes(mbox_bytes(MSG_A, MSG_B))
    make_maildir(tmp_path / "z" / "Maildir", {"new/1.x": MSG_A})
    p = mailbox.plan([str(tmp_path)])
    assert [(Path(i.path).relative_to(tmp_path).as_posix(), i.kind) for i in p.inputs] == [
        ("a/b/two.EML", "file"),
        ("a/one.eml", "file"),
        ("a/outlook.msg", "file"),
        ("box.mbox", "mbox"),
        ("z/Maildir", "maildir"),
    ]
    assert p.skipped == 1
    assert p.total_bytes == sum(os.path.getsize(f) for f in tmp_path.rglob("*") if f.is_file() and f.name != "notes.txt")
    assert len(list(mailbox.iter_messages(p))) == 6


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nowhere"):
        mailbox.plan([str(tmp_path / "nowhere")])


def test_single_file_path_mbox_or_message(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(b"From x Thu Jan  1 00:00:00 2009\r\n" + MSG_A)
    (tmp_path / "export").write_bytes(mbox_bytes(MSG_A))
    (tmp_path / "plain").write_bytes(MSG_A)
    kinds = [i.kind for i in mailbox.plan([str(tmp_path / n) for n in ("m.eml", "export", "plain")]).inputs]
    assert kinds == ["file", "mbox", "file"]


@pytest.mark.parametrize("chunk", [16, 1 << 20])
def test_separator_without_empty_line_when_it_reads_like_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """A writer that leaves out the empty line must not merge two messages into one; a body
    line "From ..." that is no separator (no sender and date) must not split one."""
    body_line = MSG_A + b"From the desk of Alice, see above\r\n"
    raw = (
        b"From alice@sender.example Tue Feb 10 10:00:00 2009\r\n"
        + body_line
        + b"From 1234@xxx Mon Jan 01 00:00:00 +0000 2018\r\n"  # Gmail's form, no empty line before
        + MSG_B
        + b"From - Thu Jan  1 00:00:00 2009\r\n"  # Thunderbird's
        + MSG_A
    )
    box = tmp_path / "tight.mbox"
    box.write_bytes(raw)
    monkeypatch.setattr(mailbox, "_CHUNK", chunk)
    items = list(mailbox.read_mbox(str(box)))
    assert [it.data for it in items] == [body_line, MSG_B, MSG_A]
    assert all(raw[it.source.offset or 0 :].startswith(b"From ") for it in items)


@settings(max_examples=2000)
@given(
    buf=st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"From ", b"From", b"x", b" ", b">"]), max_size=20).map(b"".join),
    pos=st.integers(0, 12),
)
def test_separator_search_agrees_with_the_regex(buf: bytes, pos: int) -> None:
    """The bytes.find separator search finds what the regex finds, where it finds it."""
    m = mailbox._SEP.search(buf, pos)
    expected = None if m is None else (m.start(), m.end(), m.group(1) is not None)
    assert mailbox._find_sep(buf, pos) == expected


@settings(max_examples=2000)
@given(data=st.lists(st.sampled_from([b"\n", b"\r\n", b">", b"From ", b"From", b"x", b" "]), max_size=16).map(b"".join))
def test_unquote_agrees_with_the_multiline_regex(data: bytes) -> None:
    """mboxrd un-quoting gives what re.sub(rb"^>(>*From )", rb"\\1", flags=MULTILINE) gives."""
    expected = mailbox._QUOTED.subn(rb"\1", data)
    assert mailbox.unquote_mboxrd(data) == (expected if expected[1] else (data, 0))
